#!/usr/bin/env bash
# devdb.sh up — make sure a private PostGIS cluster is running for jiedao and
# print its DATABASE_URL on stdout (everything else goes to stderr).
#
# The cluster lives under $JIEDAO_DATA_DIR/pg (default ./.jiedao/pg), listens on
# 127.0.0.1 only, on a free port chosen at first start and reused afterwards.
# PostgreSQL refuses to run as root, so as root the server runs as the
# `postgres` OS user (via runuser).
set -euo pipefail

PGVER=15
PGBIN=/usr/lib/postgresql/$PGVER/bin
DATA_DIR=${JIEDAO_DATA_DIR:-./.jiedao}
mkdir -p "$DATA_DIR"
DATA_DIR=$(cd "$DATA_DIR" && pwd)

log() { echo "devdb: $*" >&2; }

need_install() {
  [ -x "$PGBIN/initdb" ] && [ -f /usr/share/postgresql/$PGVER/extension/postgis.control ] && return 1
  return 0
}

install_postgis() {
  if ! command -v apt-get >/dev/null 2>&1; then
    log "PostgreSQL $PGVER with PostGIS 3 is not installed and apt-get is not available."
    log "Install PostgreSQL $PGVER server and PostGIS 3 for it (Debian/Ubuntu: postgresql-$PGVER-postgis-3),"
    log "or point jiedao at an existing PostGIS with DATABASE_URL=postgres://user:pass@host:port/db."
    exit 1
  fi
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      log "PostGIS is missing; run as root: apt-get install -y postgresql-$PGVER-postgis-3"; exit 1
    fi
  fi
  log "installing postgresql-$PGVER-postgis-3 with apt (about 30 s)..."
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "postgresql-$PGVER-postgis-3" >&2
}

# as_pg runs a command as the cluster's owner.
as_pg() {
  # cd / first: the postgres user may not be able to enter the current folder.
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

up() {
  if need_install; then install_postgis; fi
  local pgroot="$DATA_DIR/pg"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    mkdir -p "$pgroot"
    chown postgres: "$pgroot"
    # The postgres user must be able to reach the folder; a checkout under
    # /root is not reachable, so fall back to a folder it owns.
    if ! runuser -u postgres -- test -w "$pgroot"; then
      local alt="/var/lib/jiedao/$(echo -n "$pgroot" | md5sum | cut -c1-12)"
      log "postgres cannot reach $pgroot; using $alt"
      mkdir -p "$alt"; chown postgres: "$alt"; chmod 755 /var/lib/jiedao
      pgroot="$alt"
    fi
  else
    mkdir -p "$pgroot"
  fi
  local pgdata="$pgroot/data" portfile="$pgroot/port" logf="$pgroot/server.log"
  if [ ! -f "$pgdata/PG_VERSION" ]; then
    log "initialising a private cluster in $pgdata"
    as_pg "$PGBIN/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >&2
  fi
  local port
  if as_pg "$PGBIN/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    port=$(cat "$portfile")
  else
    port=$(cat "$portfile" 2>/dev/null || echo 54329)
    while ! port_free "$port"; do port=$((port + 1)); done
    as_pg sh -c "echo $port > '$portfile'"
    log "starting PostgreSQL on 127.0.0.1:$port"
    as_pg "$PGBIN/pg_ctl" -D "$pgdata" -l "$logf" -w -t 60 \
      -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$pgroot -c max_connections=200 -c shared_buffers=256MB -c work_mem=32MB -c maintenance_work_mem=256MB -c synchronous_commit=off" \
      start >&2 || { cat "$logf" >&2; exit 1; }
  fi
  if ! as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc "select 1 from pg_database where datname='jiedao'" | grep -q 1; then
    as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$port" -U postgres jiedao >&2
  fi
  echo "postgres://postgres@127.0.0.1:$port/jiedao?sslmode=disable"
}

down() {
  local pgroot="$DATA_DIR/pg"
  [ -f "$pgroot/data/PG_VERSION" ] || pgroot="/var/lib/jiedao/$(echo -n "$pgroot" | md5sum | cut -c1-12)"
  as_pg "$PGBIN/pg_ctl" -D "$pgroot/data" -m fast stop >&2 || true
}

# app URL — make sure the login jiedao_server exists, holding only the
# application's role jiedao_app (created by the migrations: run
# `jiedao migrate` as the owner first), and print URL with that login.
# serve then cannot migrate, rewrite versions in place or raise key roles.
app() {
  local url=$1
  "$PGBIN/psql" "$url" -v ON_ERROR_STOP=1 -qtAc "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jiedao_server') THEN
        CREATE ROLE jiedao_server LOGIN IN ROLE jiedao_app;
      END IF; END \$\$" >&2
  echo "$url" | sed -E 's#^(postgres(ql)?://)[^@/]*@#\1jiedao_server@#'
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  app) app "$2" ;;
  *) echo "usage: $0 up|down|app URL" >&2; exit 2 ;;
esac
