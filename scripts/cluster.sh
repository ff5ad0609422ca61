#!/usr/bin/env bash
# cluster.sh — a local replicated topology on one machine: a PostgreSQL
# primary and a hot standby (streaming replication, pg_basebackup -R), both
# with PostGIS, on free loopback ports; optionally N `jiedao serve` nodes on
# top (DATABASE_URL = primary, JIEDAO_READ_DATABASE_URL = standby).
#
#   scripts/cluster.sh up [--nodes N] [--demo]   start (idempotent); prints, on stdout,
#                                                 DATABASE_URL=…, JIEDAO_READ_DATABASE_URL=…
#                                                 and JIEDAO_NODE<i>=http://… (eval-able)
#   scripts/cluster.sh status                     what runs, replication and replay lag
#   scripts/cluster.sh stop|start primary|standby|node<i>   one piece, for fault drills
#   scripts/cluster.sh pause|resume               pause/resume WAL replay on the standby
#   scripts/cluster.sh down                       stop everything it started, remove its state
#
# State (data folders, logs, ports, pids, the built binary) lives in
# $JIEDAO_CLUSTER_DIR (default /tmp/jiedao-cluster). Extra server settings for
# both servers: JIEDAO_CLUSTER_PG_OPTS (e.g. "-c fsync=off" for tests); the first
# port tried: JIEDAO_CLUSTER_PORT (default 55432; the standby tries the next ones).
# PostgreSQL refuses to run as root, so as root the servers run as the
# `postgres` OS user (via runuser), as in devdb.sh. Settings: docs/deploy.md.
set -euo pipefail

PGVER=15
PGBIN=/usr/lib/postgresql/$PGVER/bin
STATE=${JIEDAO_CLUSTER_DIR:-/tmp/jiedao-cluster}
REPO=$(cd "$(dirname "$0")/.." && pwd)
PG=$STATE/pg
NODES=$STATE/nodes
PORT=${JIEDAO_CLUSTER_PORT:-55432}
# wal_level=replica and WAL senders: what streaming replication needs.
PRIMARY_OPTS="-c wal_level=replica -c max_wal_senders=10 -c max_replication_slots=10 -c shared_buffers=128MB"
# hot_standby_feedback: long reads on the standby are not cancelled by the
# primary's vacuum; a short max_standby_streaming_delay (below jiedao's
# JIEDAO_MAX_REPLICA_LAG, 5 s) keeps the other conflicts (locks of a
# migration) from holding replay longer. docs/deploy.md says why.
STANDBY_OPTS="-c hot_standby=on -c hot_standby_feedback=on -c max_standby_streaming_delay=3s"

log() { echo "cluster: $*" >&2; }
die() { log "$*"; exit 1; }

as_pg() {
  # cd / first: the postgres user may not be able to enter the current folder.
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  local p=$1
  while ! port_free "$p"; do p=$((p + 1)); done
  echo "$p"
}

url() { echo "postgres://${2:-postgres}@127.0.0.1:$(cat "$STATE/$1.port")/jiedao?sslmode=disable"; }

psql_at() { local who=$1; shift; "$PGBIN/psql" "$(url "$who")" -v ON_ERROR_STOP=1 -qtAX "$@"; }

running() { [ -f "$PG/$1/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" -D "$PG/$1" status >/dev/null 2>&1; }

install_postgis() {
  [ -x "$PGBIN/pg_basebackup" ] && [ -f /usr/share/postgresql/$PGVER/extension/postgis.control ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "PostgreSQL $PGVER with PostGIS 3 is missing and apt-get is not available: install postgresql-$PGVER-postgis-3"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "PostGIS is missing; run as root: apt-get install -y postgresql-$PGVER-postgis-3"
    sudo=sudo
  fi
  log "installing postgresql-$PGVER-postgis-3 with apt (about 30 s)..."
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "postgresql-$PGVER-postgis-3" >&2
}

prepare_state() {
  mkdir -p "$PG" "$NODES"
  chmod 755 "$STATE"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    chown postgres: "$PG"
    runuser -u postgres -- test -w "$PG" ||
      die "the postgres user cannot write $PG: set JIEDAO_CLUSTER_DIR to a folder under /tmp"
  fi
}

# start_pg NAME PORT-START EXTRA-OPTIONS: start one server on a free port.
start_pg() {
  local name=$1 first=$2 extra=$3 port
  if running "$name"; then return 0; fi
  port=$(cat "$STATE/$name.port" 2>/dev/null || free_port "$first")
  port_free "$port" || port=$(free_port "$first")
  echo "$port" >"$STATE/$name.port"
  log "starting the $name on 127.0.0.1:$port"
  as_pg "$PGBIN/pg_ctl" -D "$PG/$name" -l "$PG/$name.log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG -c max_connections=200 $extra ${JIEDAO_CLUSTER_PG_OPTS:-}" \
    start >&2 || { cat "$PG/$name.log" >&2; exit 1; }
}

up_primary() {
  if [ ! -f "$PG/primary/PG_VERSION" ]; then
    log "initialising the primary in $PG/primary"
    as_pg "$PGBIN/initdb" -D "$PG/primary" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >&2
  fi
  start_pg primary "$PORT" "$PRIMARY_OPTS"
  if ! "$PGBIN/psql" "postgres://postgres@127.0.0.1:$(cat "$STATE/primary.port")/postgres?sslmode=disable" -tAXc \
    "select 1 from pg_database where datname='jiedao'" | grep -q 1; then
    "$PGBIN/createdb" -h 127.0.0.1 -p "$(cat "$STATE/primary.port")" -U postgres jiedao
  fi
  # Made here, on the primary: the standby receives it and never runs DDL.
  psql_at primary -c "CREATE EXTENSION IF NOT EXISTS postgis" >&2
}

up_standby() {
  if [ ! -f "$PG/standby/PG_VERSION" ]; then
    log "copying the primary into $PG/standby (pg_basebackup -R)"
    # -R: standby.signal + primary_conninfo; -C -S: a replication slot, so
    # the primary keeps the WAL the standby has not received.
    as_pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$(cat "$STATE/primary.port")" -U postgres \
      -D "$PG/standby" -R -X stream -C -S jiedao_standby --checkpoint=fast >&2
  fi
  start_pg standby $(($(cat "$STATE/primary.port") + 1)) "$STANDBY_OPTS"
}

build_binary() {
  log "building jiedao into $STATE/jiedao"
  (cd "$REPO" && go build -o "$STATE/jiedao" ./cmd/jiedao) >&2
  "$STATE/jiedao" migrate --db "$(url primary)" >&2
  # Nodes log in as jiedao_server, holding only jiedao_app (README: Roles).
  psql_at primary -c "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jiedao_server') THEN
        CREATE ROLE jiedao_server LOGIN IN ROLE jiedao_app;
      END IF; END \$\$" >&2
  local i
  for i in $(seq 100); do
    [ "$(psql_at standby -c "select count(*) from pg_roles where rolname='jiedao_server'")" = 1 ] && return 0
    sleep 0.1
  done
  die "the standby did not replay the migrations within 10 s"
}

start_node() {
  local i=$1 demo=$2 port
  if [ -f "$NODES/node$i.pid" ] && kill -0 "$(cat "$NODES/node$i.pid")" 2>/dev/null; then return 0; fi
  port=$(cat "$NODES/node$i.port" 2>/dev/null || free_port $((18080 + i)))
  port_free "$port" || port=$(free_port $((18080 + i)))
  echo "$port" >"$NODES/node$i.port"
  log "starting node$i on 127.0.0.1:$port"
  (
    cd "$NODES"
    DATABASE_URL=$(url primary jiedao_server) JIEDAO_READ_DATABASE_URL=$(url standby jiedao_server) \
      JIEDAO_ADDR=127.0.0.1:$port JIEDAO_DATA_DIR=$NODES/data \
      nohup "$STATE/jiedao" serve $demo >"$NODES/node$i.log" 2>&1 &
    echo $! >"$NODES/node$i.pid"
  )
  local n
  for n in $(seq 600); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$NODES/node$i.pid")" 2>/dev/null || { tail -20 "$NODES/node$i.log" >&2; die "node$i exited"; }
    sleep 0.1
  done
  die "node$i did not answer within 60 s: $NODES/node$i.log"
}

up() {
  local nodes=0 demo=""
  while [ $# -gt 0 ]; do
    case $1 in
      --nodes) nodes=$2; shift 2 ;;
      --demo) demo=--demo-if-empty; shift ;;
      *) die "up: unknown option $1" ;;
    esac
  done
  install_postgis
  prepare_state
  up_primary
  up_standby
  echo "DATABASE_URL=$(url primary)"
  echo "JIEDAO_READ_DATABASE_URL=$(url standby)"
  [ "$nodes" -gt 0 ] || return 0
  command -v curl >/dev/null 2>&1 || die "curl is needed to wait for the nodes"
  build_binary
  local i
  for i in $(seq "$nodes"); do
    # The first node loads the demo (if asked): one writer, the others read it.
    start_node "$i" "$([ "$i" = 1 ] && echo "$demo")"
    echo "JIEDAO_NODE$i=http://127.0.0.1:$(cat "$NODES/node$i.port")"
  done
}

stop_node() {
  local f=$NODES/$1.pid pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $1 (pid $pid)"
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$f"
}

stop_pg() {
  running "$1" || return 0
  log "stopping the $1"
  as_pg "$PGBIN/pg_ctl" -D "$PG/$1" -m fast -w stop >&2
}

down() {
  local f
  for f in "$NODES"/node*.pid; do [ -e "$f" ] && stop_node "$(basename "$f" .pid)"; done
  stop_pg standby
  stop_pg primary
  rm -rf "$STATE"
}

status() {
  local who
  for who in primary standby; do
    if running "$who"; then echo "$who: running, $(url "$who")"; else echo "$who: stopped"; fi
  done
  if running primary; then
    echo "replication (on the primary):"
    psql_at primary -F ' ' -c "select application_name, state, 'replayed ' || coalesce(replay_lsn::text, '-'), 'lag ' || coalesce(replay_lag::text, '0') from pg_stat_replication" | sed 's/^/  /'
  fi
  if running standby; then
    echo "standby: $(psql_at standby -F ' ' -c "select 'replayed ' || pg_last_wal_replay_lsn() || ', last commit replayed ' ||
      coalesce(round(extract(epoch from now() - pg_last_xact_replay_timestamp()), 1)::text, '-') || ' s ago, paused ' || pg_is_wal_replay_paused()")"
  fi
  for f in "$NODES"/node*.pid; do
    [ -e "$f" ] || continue
    local n
    n=$(basename "$f" .pid)
    if kill -0 "$(cat "$f")" 2>/dev/null; then echo "$n: running, http://127.0.0.1:$(cat "$NODES/$n.port")"; else echo "$n: exited"; fi
  done
}

piece() {
  local verb=$1 what=${2:-}
  case $verb:$what in
    stop:primary | stop:standby) stop_pg "$what" ;;
    start:primary) start_pg primary "$PORT" "$PRIMARY_OPTS" ;;
    start:standby) start_pg standby $(($(cat "$STATE/primary.port") + 1)) "$STANDBY_OPTS" ;;
    stop:node*) stop_node "$what" ;;
    start:node*) start_node "${what#node}" "" ;;
    *) die "usage: $0 $verb primary|standby|node<i>" ;;
  esac
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  status) status ;;
  stop | start) piece "$@" ;;
  pause) psql_at standby -c "SELECT pg_wal_replay_pause()" >/dev/null ;;
  resume) psql_at standby -c "SELECT pg_wal_replay_resume()" >/dev/null ;;
  *) echo "usage: $0 up [--nodes N] [--demo]|status|stop|start primary|standby|node<i>|pause|resume|down" >&2; exit 2 ;;
esac
