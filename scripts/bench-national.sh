#!/usr/bin/env bash
# bench-national.sh — generate, import and analyse the national-scale demo
# city (≈40,000 streets, 600,000 communities) in a scratch database and
# print the timings recorded in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/jiedao ./cmd/jiedao
url=${DATABASE_URL:-$(scripts/devdb.sh up)}
db=jiedao_bench_national
psql "$url" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
nurl=$(echo "$url" | sed -E "s#/[^/?]+(\?|$)#/$db\1#")
out=${JIEDAO_DATA_DIR:-.jiedao}/demo-national-1
t0=$(date +%s.%N)
./bin/jiedao demo --scale national --seed 1 --out "$out" --no-load --db "$nurl"
t1=$(date +%s.%N)
./bin/jiedao demo --scale national --seed 1 --out "$out" --db "$nurl" | grep -E "^import|features"
t2=$(date +%s.%N)
./bin/jiedao analyze --db "$nurl" | head -12
t3=$(date +%s.%N)
echo "generate $(echo "$t1 - $t0" | bc) s; generate+import $(echo "$t2 - $t1" | bc) s; analyze $(echo "$t3 - $t2" | bc) s"
