#!/usr/bin/env bash
# Side-by-side RESP benchmark: redis-server vs Meridian on the same machine, in
# the same run. Not part of the tests. Prints throughput ratios (Meridian/Redis)
# and p99 latencies for GET/SET/INCR/LPUSH/ZADD at pipeline depths 1 and 16,
# then memory per small key after loading 1M keys.
#
#   scripts/bench-resp.sh            # defaults: 50 clients, 200k requests
#   REQUESTS=1000000 scripts/bench-resp.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib/bench-common.sh
. scripts/lib/bench-common.sh

CLIENTS=${CLIENTS:-50}
REQUESTS=${REQUESTS:-200000}
KEYS=${KEYS:-1000000}
TESTS=${TESTS:-get,set,incr,lpush,zadd}
REDIS_PORT=$(bench_free_port "${REDIS_PORT:-16379}")
MERIDIAN_PORT=$(bench_free_port "${MERIDIAN_PORT:-16380}")
[ "$MERIDIAN_PORT" != "$REDIS_PORT" ] || MERIDIAN_PORT=$(bench_free_port $((REDIS_PORT + 1)))

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
echo

bench_compare "$REDIS_PORT" "$MERIDIAN_PORT"

echo
echo "memory per small key ($KEYS keys, SET key:N val)"
for p in "$REDIS_PORT" "$MERIDIAN_PORT"; do redis-cli -p "$p" flushall >/dev/null; done
sleep 0.5
RB=$(bench_used_memory "$REDIS_PORT"); MB=$(bench_used_memory "$MERIDIAN_PORT")
bench_load_keys "$REDIS_PORT" "$KEYS"; bench_load_keys "$MERIDIAN_PORT" "$KEYS"
RA=$(bench_used_memory "$REDIS_PORT"); MA=$(bench_used_memory "$MERIDIAN_PORT")
awk -v rb="$RB" -v ra="$RA" -v mb="$MB" -v ma="$MA" -v n="$KEYS" 'BEGIN {
  r = (ra - rb) / n; m = (ma - mb) / n;
  printf "redis %.1f B/key   meridian %.1f B/key   ratio %.2f\n", r, m, m / r }'
