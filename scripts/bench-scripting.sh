#!/usr/bin/env bash
# Side-by-side Lua scripting benchmark: EVALSHA of a 3-command script on
# redis-server vs Meridian, same machine, same run. Not part of the tests.
# Prints throughput ratios (Meridian/Redis) and p99 latencies at pipeline
# depths 1 and 16.
#
#   scripts/bench-scripting.sh              # defaults: 50 clients, 200k requests
#   REQUESTS=500000 scripts/bench-scripting.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib/bench-common.sh
. scripts/lib/bench-common.sh

CLIENTS=${CLIENTS:-50}
REQUESTS=${REQUESTS:-200000}
REDIS_PORT=$(bench_free_port "${REDIS_PORT:-16379}")
MERIDIAN_PORT=$(bench_free_port "${MERIDIAN_PORT:-16380}")
[ "$MERIDIAN_PORT" != "$REDIS_PORT" ] || MERIDIAN_PORT=$(bench_free_port $((REDIS_PORT + 1)))
# Three commands: a counter, a write and a read.
SCRIPT="redis.call('INCR', KEYS[1]) redis.call('SET', KEYS[2], ARGV[1]) return redis.call('GET', KEYS[2])"

bench_install_redis

echo "==> building meridian (release)"
cargo build --release -q -p meridian
BIN=$(bench_release_dir)/meridian

trap bench_cleanup EXIT
bench_pin
bench_start_redis "$REDIS_PORT"
$PIN_SERVER "$BIN" serve --port "$MERIDIAN_PORT" --threads 1 --log warn &
bench_track $!
bench_wait_ping "$REDIS_PORT" "$MERIDIAN_PORT"

echo
bench_machine
echo "redis:   $(redis-server --version | awk '{print $3}')   clients=$CLIENTS requests=$REQUESTS pinning=${PIN_SERVER:+servers on cpu0, client on cpu1}"
echo "script:  $SCRIPT"
echo

SHA=$(redis-cli -p "$REDIS_PORT" script load "$SCRIPT")
[ "$(redis-cli -p "$MERIDIAN_PORT" script load "$SCRIPT")" = "$SHA" ] || bench_die "SHA1 differs"

run() { # PORT P -> csv "name",rps,avg,min,p50,p95,p99,max
  $PIN_CLIENT redis-benchmark -p "$1" -c "$CLIENTS" -n "$REQUESTS" -P "$2" -r 100000 --csv -q \
    evalsha "$SHA" 2 "counter:__rand_int__" "value:__rand_int__" payload 2>/dev/null | tail -n +2
}

printf '%-8s %-3s %12s %12s %7s %10s %10s\n' test P redis_rps meridian_rps ratio redis_p99 mer_p99
for P in ${PIPELINES:-1 16}; do
  R=$(run "$REDIS_PORT" "$P")
  M=$(run "$MERIDIAN_PORT" "$P")
  if [ -z "$R" ] || [ -z "$M" ]; then bench_die "redis-benchmark produced no results at -P $P"; fi
  paste -d, <(echo "$R") <(echo "$M") | tr -d '"' | awk -F, -v P="$P" '{
    printf "%-8s %-3s %12.0f %12.0f %7.2f %10.3f %10.3f\n", "EVALSHA", P, $2, $10, $10/$2, $7, $15 }'
done
