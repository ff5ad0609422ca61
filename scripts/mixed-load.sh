#!/usr/bin/env bash
# mixed-load.sh — the 200-connection mixed load benchmark (make mixed-load;
# not part of make test). 60% vector tiles (communities, z12–14), 25%
# GET /api/v1/lookup, 15% OGC pages of limit=100; prints p50/p99 and
# requests/s per kind and in total (scripts/mixed-load.py).
#
# With MIXED_BASE=http://host:port it measures that running server and
# starts nothing. Otherwise it uses the private cluster (scripts/devdb.sh)
# or DATABASE_URL's server, a database $MIXED_DB (default jiedao_bench)
# there, loaded with the beijing demo when empty, and serves it on
# 127.0.0.1:$MIXED_PORT (default 18083) with the per-client rate limits off
# (the load comes from one address).
#
#   MIXED_SECONDS (30)  measured seconds, after MIXED_WARMUP (5) not counted
#   MIXED_CONNS (200)   connections
#   JIEDAO_DB_POOL      passed to the server as usual
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "mixed-load: $*" >&2; }
py=(python3 scripts/mixed-load.py --duration "${MIXED_SECONDS:-30}" --warmup "${MIXED_WARMUP:-5}" --conns "${MIXED_CONNS:-200}")

if [ -n "${MIXED_BASE:-}" ]; then
  exec "${py[@]}" --base "$MIXED_BASE"
fi

work=$(mktemp -d /tmp/jiedao-mixed-XXXXXX)
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/jiedao" ./cmd/jiedao

url=${DATABASE_URL:-$(scripts/devdb.sh up)}
db=${MIXED_DB:-jiedao_bench}
dburl=$(echo "$url" | sed -E "s#^(postgres(ql)?://[^/]*/)[^?]*#\1$db#")
if ! psql "$url" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
  psql "$url" -qc "CREATE DATABASE $db"
fi
"$work/jiedao" migrate --db "$dburl" 2>"$work/migrate.log"
if [ "$(psql "$dburl" -tAc "SELECT count(*) FROM units")" = 0 ]; then
  log "loading the beijing demo into $db (about a minute)"
  "$work/jiedao" demo --scale beijing --seed 1 --out "$work/demo" --db "$dburl" >"$work/demo.log" 2>&1
fi
appurl=$(scripts/devdb.sh app "$dburl")
port=${MIXED_PORT:-18083}
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  log "127.0.0.1:$port is taken: set MIXED_PORT, or MIXED_BASE to measure the server there"
  exit 1
fi
JIEDAO_RATE_LIMIT=0 JIEDAO_TILE_RATE_LIMIT=0 "$work/jiedao" serve --addr "127.0.0.1:$port" --db "$appurl" >"$work/serve.log" 2>&1 &
srv=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { tail -20 "$work/serve.log" >&2; exit 1; }
log "jiedao pid $srv on 127.0.0.1:$port ($(curl -fs "http://127.0.0.1:$port/readyz"))"
"${py[@]}" --base "http://127.0.0.1:$port"
