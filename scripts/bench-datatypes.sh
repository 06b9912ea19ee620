#!/usr/bin/env bash
# Side-by-side data-type benchmark: redis-server vs Meridian in the same run.
# Not part of the tests. Loads the same HyperLogLog and the same geo index
# into both, then prints throughput ratios (Meridian/Redis) and p99 latencies
# for PFADD, PFCOUNT and GEOSEARCH (radius and box) at pipeline depths 1 and
# 16, measured with redis-benchmark's arbitrary-command mode.
#
#   scripts/bench-datatypes.sh                     # 50 clients, 100k requests, 100k points
#   REQUESTS=20000 POINTS=10000 scripts/bench-datatypes.sh
#   MERIDIAN_BIN=target/debug/meridian scripts/bench-datatypes.sh   # skip the release build
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib/bench-common.sh
. scripts/lib/bench-common.sh

CLIENTS=${CLIENTS:-50}
REQUESTS=${REQUESTS:-100000}
POINTS=${POINTS:-100000}
HLL_ITEMS=${HLL_ITEMS:-100000}
REDIS_PORT=$(bench_free_port "${REDIS_PORT:-16389}")
MERIDIAN_PORT=$(bench_free_port "${MERIDIAN_PORT:-16390}")
[ "$MERIDIAN_PORT" != "$REDIS_PORT" ] || MERIDIAN_PORT=$(bench_free_port $((REDIS_PORT + 1)))

bench_install_redis

if [ -n "${MERIDIAN_BIN:-}" ]; then
  BIN=$MERIDIAN_BIN
else
  echo "==> building meridian (release)"
  cargo build --release -q -p meridian
  BIN=$(bench_release_dir)/meridian
fi

trap bench_cleanup EXIT
bench_pin
bench_start_redis "$REDIS_PORT"
$PIN_SERVER "$BIN" serve --port "$MERIDIAN_PORT" --threads 1 --log warn &
bench_track $!
bench_wait_ping "$REDIS_PORT" "$MERIDIAN_PORT"

# POINTS random places in Europe (lon -10..30, lat 35..60, fixed seed) in
# the geo index "geo", and HLL_ITEMS distinct elements in the sketch "hll".
load() {
  awk -v n="$POINTS" -v m="$HLL_ITEMS" 'BEGIN {
    srand(42);
    for (i = 0; i < n; i++) {
      lon = sprintf("%.6f", -10 + 40 * rand()); lat = sprintf("%.6f", 35 + 25 * rand()); k = "p" i;
      printf "*5\r\n$6\r\nGEOADD\r\n$3\r\ngeo\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n",
        length(lon), lon, length(lat), lat, length(k), k }
    for (i = 0; i < m; i++) {
      k = "e" i; printf "*3\r\n$5\r\nPFADD\r\n$3\r\nhll\r\n$%d\r\n%s\r\n", length(k), k }
  }' | redis-cli -p "$1" --pipe >/dev/null
}

# One redis-benchmark run of an arbitrary command -> "rps,p99".
rb() {
  local port=$1 p=$2
  shift 2
  $PIN_CLIENT redis-benchmark -p "$port" -c "$CLIENTS" -n "$REQUESTS" -P "$p" -r 1000000 --csv -q "$@" 2>/dev/null \
    | tail -n 1 | tr -d '"' | awk -F, '{ printf "%s,%s", $2, $7 }'
}

echo
bench_machine
echo "redis:   $(redis-server --version | awk '{print $3}')   clients=$CLIENTS requests=$REQUESTS points=$POINTS hll_items=$HLL_ITEMS"
for p in "$REDIS_PORT" "$MERIDIAN_PORT"; do
  redis-cli -p "$p" flushall >/dev/null
  load "$p"
done
for p in "$REDIS_PORT" "$MERIDIAN_PORT"; do
  echo "port $p: geo=$(redis-cli -p "$p" zcard geo) hll~$(redis-cli -p "$p" pfcount hll)" \
    "near(10,48,50km)=$(redis-cli -p "$p" geosearch geo fromlonlat 10 48 byradius 50 km | wc -l)"
done
echo

printf '%-16s %-3s %12s %12s %7s %10s %10s\n' test P redis_rps meridian_rps ratio redis_p99 mer_p99
for P in ${PIPELINES:-1 16}; do
  while IFS='|' read -r name cmd; do
    # shellcheck disable=SC2086 # the command's words are meant to split
    R=$(rb "$REDIS_PORT" "$P" $cmd)
    # shellcheck disable=SC2086
    M=$(rb "$MERIDIAN_PORT" "$P" $cmd)
    if [ -z "$R" ] || [ -z "$M" ]; then bench_die "redis-benchmark produced no result for $name at -P $P"; fi
    echo "$R,$M" | awk -F, -v n="$name" -v P="$P" '{
      printf "%-16s %-3s %12.0f %12.0f %7.2f %10.3f %10.3f\n", n, P, $1, $3, $3/$1, $2, $4 }'
  done <<'TESTS'
PFADD|PFADD hllb __rand_int__
PFCOUNT|PFCOUNT hll
GEOSEARCH-radius|GEOSEARCH geo FROMLONLAT 10 48 BYRADIUS 50 km ASC COUNT 10
GEOSEARCH-box|GEOSEARCH geo FROMLONLAT 10 48 BYBOX 100 100 km WITHDIST
TESTS
done
