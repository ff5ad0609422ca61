#!/usr/bin/env bash
# soak.sh — the soak and fault suite (make soak; not part of make test).
# Starts its own PostGIS cluster and jiedao on free loopback ports, loads
# the beijing demo, then runs bounded phases (scripts/soak.py) and prints
# one table: load, an outage (restart and a 10 s stop), hostile inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
work=$(mktemp -d /tmp/jiedao-soak-XXXXXX)
chmod 755 "$work"
export JIEDAO_DATA_DIR="$work"
log() { echo "soak: $*" >&2; }

go build -o "$work/jiedao" ./cmd/jiedao
# The cluster listens below the ephemeral port range (32768–60999 on
# Linux): during the outage jiedao reconnects thousands of times, and a
# reconnect to a port in that range can connect to itself and hold the
# port, so the restarted server could not bind it.
mkdir -p "$work/pg"
pgport=25432
while (exec 3<>"/dev/tcp/127.0.0.1/$pgport") 2>/dev/null; do pgport=$((pgport + 1)); done
echo "$pgport" > "$work/pg/port"
chmod 666 "$work/pg/port"
url=$(scripts/devdb.sh up)
pgroot="$work/pg"
[ -f "$pgroot/data/PG_VERSION" ] || pgroot="/var/lib/jiedao/$(echo -n "$pgroot" | md5sum | cut -c1-12)"
pgctl() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$pgroot/data" "$@"); else /usr/lib/postgresql/15/bin/pg_ctl -D "$pgroot/data" "$@"; fi; }
cleanup() {
  [ -n "${srv:-}" ] && kill "$srv" 2>/dev/null || true
  pgctl -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT

log "migrating and loading the beijing demo (about a minute)"
"$work/jiedao" migrate --db "$url" 2>"$work/migrate.log"
"$work/jiedao" demo --scale beijing --seed 1 --out "$work/demo" --db "$url" >"$work/demo.log" 2>&1
key=$("$work/jiedao" keys create --role editor --name soak --db "$url" 2>/dev/null | grep -o 'jd_[A-Za-z0-9_-]*' | head -1)
appurl=$(scripts/devdb.sh app "$url")
port=18080
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
# Load comes from one address: the per-client rate limits are off here.
JIEDAO_RATE_LIMIT=0 JIEDAO_TILE_RATE_LIMIT=0 "$work/jiedao" serve --addr "127.0.0.1:$port" --db "$appurl" >"$work/serve.log" 2>&1 &
srv=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
log "jiedao pid $srv on 127.0.0.1:$port"
python3 scripts/soak.py --base "http://127.0.0.1:$port" --pid "$srv" --db "$url" --key "$key" \
  --work "$work" --duration "${SOAK_SECONDS:-60}" \
  --pgctl-restart "$(declare -f pgctl); pgroot='$pgroot'; pgctl -m fast -w restart >/dev/null" \
  --pgctl-stop "$(declare -f pgctl); pgroot='$pgroot'; pgctl -m fast -w stop >/dev/null" \
  --pgctl-start "JIEDAO_DATA_DIR='$work' scripts/devdb.sh up >/dev/null"
