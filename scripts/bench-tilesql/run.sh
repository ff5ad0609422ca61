#!/usr/bin/env bash
# run.sh — jiedao's communities tile SQL against pg_tileserv's, with pgbench
# (prepared statements), on the same tiles of the same database.
#
#   scripts/bench-tilesql/run.sh DATABASE_URL [SECONDS] [ROUNDS] [CLIENTS]
#
# The tiles are every z12–z14 tile over the current communities' bounds
# (the list ../shared/anchors/side-by-side.sh builds from jiedao's TileJSON
# bounds), drawn at random with a fixed seed: one pgbench script per zoom,
# weighted by its tile count. Each round runs pg_tileserv's query, then
# jiedao's, then (for the record) jiedao's query before the stored tile
# columns, SECONDS each (default 10) with CLIENTS connections (default 8);
# ROUNDS rounds (default 3). It prints tps per run and the ratios of medians.
#
# The database needs jiedao's schema, the demo (or any units) and a live
# analysis run for today: start `jiedao serve` and fetch one communities
# tile first (or set RUN=<analysis run id>). It creates or replaces the view
# public.anchor_communities exactly as side-by-side.sh does.
#
#   jiedao.sql          the server's live query (TestBenchTileSQL keeps it current)
#   jiedao-before.sql   the query before migration 0012: per-row transform and formatting
#   pg_tileserv.sql     pg_tileserv 1.0.11's table query (TS_DEBUG log) on the
#                       view, its envelope literals as ST_TileEnvelope($3, $4, $5)
set -euo pipefail
db=${1:?usage: run.sh DATABASE_URL [SECONDS] [ROUNDS] [CLIENTS]}
secs=${2:-10}
rounds=${3:-3}
clients=${4:-8}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
psql_() { psql "$db" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

psql_ <<'SQL'
CREATE OR REPLACE VIEW public.anchor_communities AS
  SELECT u.code, u.name, u.households, u.population,
         u.geom::geometry(MultiPolygon, 4326) AS geom
  FROM units u
  WHERE u.level = 'community'
    AND u.valid_from <= current_date
    AND (u.valid_to IS NULL OR u.valid_to > current_date);
SQL
run=${RUN:-$(psql_ -c "SELECT id FROM analysis_runs WHERE scenario_id IS NULL AND at = current_date ORDER BY id DESC LIMIT 1")}
[[ -n $run ]] || { echo "run.sh: no live analysis run for today: fetch a tile from jiedao serve first, or set RUN" >&2; exit 1; }
day=$(psql_ -c "SELECT current_date")

# Tile ranges per zoom over the communities' bounds (the XYZ formulas of
# side-by-side.sh's tilelist).
ranges=$(psql_ -F' ' <<'SQL'
WITH b AS (SELECT ST_XMin(e) w, ST_YMin(e) s, ST_XMax(e) e, ST_YMax(e) n FROM (SELECT ST_Extent(geom) e FROM public.anchor_communities) x),
z AS (SELECT generate_series(12, 14) z)
SELECT z,
  floor((w + 180) / 360 * 2 ^ z)::int, floor((e + 180) / 360 * 2 ^ z)::int,
  floor((1 - ln(tan(radians(n)) + 1 / cos(radians(n))) / pi()) / 2 * 2 ^ z)::int,
  floor((1 - ln(tan(radians(s)) + 1 / cos(radians(s))) / pi()) / 2 * 2 ^ z)::int
FROM b, z ORDER BY z;
SQL
)
total=0
weights=()
while read -r z x0 x1 y0 y1; do
  n=$(((x1 - x0 + 1) * (y1 - y0 + 1)))
  total=$((total + n))
  weights+=("$z:$n")
  for q in jiedao jiedao-before pg_tileserv; do
    {
      echo "\\set z $z"
      echo "\\set x random($x0, $x1)"
      echo "\\set y random($y0, $y1)"
      echo "\\set grid 40075016.685578488 / pow(2, :z) / 4096"
      sed -e 's/\$1/:run/g; s/\$2/:day/g; s/\$3/:z/g; s/\$4/:x/g; s/\$5/:y/g; s/\$6/:grid/g' "$here/$q.sql"
      echo ";"
    } >"$work/$q-z$z.sql"
  done
done <<<"$ranges"
echo "tiles: $total z12-z14 tiles (${weights[*]}), run $run, day $day; pgbench -M prepared -c $clients -j 2 -T $secs, $rounds rounds"

bench() { # query → tps
  local args=() w
  for w in "${weights[@]}"; do args+=(-f "$work/$1-z${w%%:*}.sql@${w#*:}"); done
  pgbench -n -M prepared -c "$clients" -j 2 -T "$secs" --random-seed=1 -D run="$run" -D day="$day" "${args[@]}" "$db" 2>&1 |
    awk '/^tps/ {print $3}; /failed transactions: [1-9]/ {print "FAILED: " $0 > "/dev/stderr"}'
}
declare -A tps
for ((r = 1; r <= rounds; r++)); do
  for q in pg_tileserv jiedao jiedao-before; do
    t=$(bench "$q")
    tps[$q]+="$t "
    printf '  round %d  %-14s %8.0f tps\n' "$r" "$q" "$t"
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ts=$(median <<<"${tps[pg_tileserv]}")
jd=$(median <<<"${tps[jiedao]}")
jb=$(median <<<"${tps[jiedao-before]}")
printf 'median tps: pg_tileserv %.0f, jiedao %.0f, jiedao before 0012 %.0f\n' "$ts" "$jd" "$jb"
awk -v ts="$ts" -v jd="$jd" -v jb="$jb" 'BEGIN {
  printf "time per tile, jiedao / pg_tileserv: %.2fx (before 0012: %.2fx)\n", ts / jd, ts / jb }'
