#!/usr/bin/env bash
# What persistence costs, redis-server vs Meridian side by side in the same
# run. Not part of the tests.
#
#   1. SET/INCR throughput with the append log on: redis-server --appendonly
#      yes --appendfsync everysec vs meridian serve --appendfsync everysec
#      (redis-benchmark at pipeline depths 1 and 16), then the same with
#      appendfsync always.
#   2. Restart time for KEYS keys: load them, restart each server, time
#      until it answers PING and DBSIZE shows every key (log replay), then
#      again after BGREWRITEAOF (snapshot load).
#
#   scripts/bench-persist.sh              # 50 clients, 200k requests, 1M keys
#   KEYS=200000 REQUESTS=100000 scripts/bench-persist.sh
#   MERIDIAN_BIN=path/to/meridian ...     # skip the release build, use that
#                                         # binary (numbers from a debug build
#                                         # only show the script runs)
#   FSYNCS=everysec RESTART=0 ...         # only the everysec throughput table
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib/bench-common.sh
. scripts/lib/bench-common.sh

CLIENTS=${CLIENTS:-50}
REQUESTS=${REQUESTS:-200000}
KEYS=${KEYS:-1000000}
TESTS=${TESTS:-set,incr}
REDIS_PORT=$(bench_free_port "${REDIS_PORT:-16379}")
MERIDIAN_PORT=$(bench_free_port "${MERIDIAN_PORT:-16380}")
[ "$MERIDIAN_PORT" != "$REDIS_PORT" ] || MERIDIAN_PORT=$(bench_free_port $((REDIS_PORT + 1)))
DATA=$(mktemp -d "${TMPDIR:-/tmp}/bench-persist.XXXXXX")

bench_install_redis

if [ -n "${MERIDIAN_BIN:-}" ]; then
  BIN=$MERIDIAN_BIN
else
  echo "==> building meridian (release)"
  cargo build --release -q -p meridian
  BIN=$(bench_release_dir)/meridian
fi
[ -x "$BIN" ] || bench_die "no meridian binary at $BIN"

cleanup() {
  bench_cleanup
  rm -rf "$DATA"
}
trap cleanup EXIT
bench_pin

# start_redis FSYNC: redis-server with its AOF in $DATA/redis; sets REDIS_PID.
start_redis() {
  mkdir -p "$DATA/redis"
  $PIN_SERVER redis-server --port "$REDIS_PORT" --dir "$DATA/redis" --save '' \
    --appendonly yes --appendfsync "$1" --logfile /dev/null &
  REDIS_PID=$!
  bench_track "$REDIS_PID"
}

# start_meridian FSYNC: meridian serve with its log in $DATA/meridian; sets
# MERIDIAN_PID.
start_meridian() {
  mkdir -p "$DATA/meridian"
  $PIN_SERVER "$BIN" serve --port "$MERIDIAN_PORT" --threads 1 --log warn \
    --dir "$DATA/meridian" --save "" --appendonly yes --appendfsync "$1" >/dev/null &
  MERIDIAN_PID=$!
  bench_track "$MERIDIAN_PID"
}

stop_both() {
  bench_stop "$REDIS_PID"
  bench_stop "$MERIDIAN_PID"
}

echo
bench_machine
echo "redis:   $(redis-server --version | awk '{print $3}')   clients=$CLIENTS requests=$REQUESTS keys=$KEYS pinning=${PIN_SERVER:+servers on cpu0, client on cpu1}"
echo "data:    $(df -T "$DATA" | awk 'NR == 2 { print $2 }') filesystem under ${TMPDIR:-/tmp}"

for FSYNC in ${FSYNCS:-everysec always}; do
  echo
  echo "== 1. throughput, appendonly yes, appendfsync $FSYNC"
  rm -rf "$DATA/redis" "$DATA/meridian"
  start_redis "$FSYNC"
  start_meridian "$FSYNC"
  bench_wait_ping "$REDIS_PORT" "$MERIDIAN_PORT"
  bench_compare "$REDIS_PORT" "$MERIDIAN_PORT"
  stop_both
done

# restart_time PORT START_FN: stops nothing; starts the server with START_FN
# and sets ELAPSED to the seconds until DBSIZE reports $KEYS. (Not run in a
# command substitution: the server it starts must be this shell's child,
# tracked for cleanup, and must not hold the substitution's pipe open.)
restart_time() {
  local port=$1 start=$2 t0 n
  t0=$(date +%s.%N)
  "$start" everysec
  for _ in $(seq 6000); do
    n=$(redis-cli -p "$port" dbsize 2>/dev/null || true)
    [ "$n" = "$KEYS" ] && break
    sleep 0.05
  done
  [ "$n" = "$KEYS" ] || bench_die "port $port came back with '$n' keys, expected $KEYS"
  ELAPSED=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
}

[ "${RESTART:-1}" = 1 ] || exit 0

echo
echo "== 2. restart with $KEYS keys (SET key:N val), appendfsync everysec"
rm -rf "$DATA/redis" "$DATA/meridian"
start_redis everysec
start_meridian everysec
bench_wait_ping "$REDIS_PORT" "$MERIDIAN_PORT"
bench_load_keys "$REDIS_PORT" "$KEYS"
bench_load_keys "$MERIDIAN_PORT" "$KEYS"
sleep 1.5
printf 'files: redis %s   meridian %s\n' "$(du -sh "$DATA/redis" | cut -f1)" "$(du -sh "$DATA/meridian" | cut -f1)"
stop_both
restart_time "$REDIS_PORT" start_redis
R=$ELAPSED
restart_time "$MERIDIAN_PORT" start_meridian
M=$ELAPSED
printf '%-28s redis %6ss   meridian %6ss\n' "from the log (no rewrite)" "$R" "$M"
redis-cli -p "$REDIS_PORT" bgrewriteaof >/dev/null
redis-cli -p "$MERIDIAN_PORT" bgrewriteaof >/dev/null
for p in "$REDIS_PORT" "$MERIDIAN_PORT"; do
  for _ in $(seq 600); do
    [ "$(bench_info "$p" persistence aof_rewrite_in_progress)" = 0 ] \
      && [ "$(bench_info "$p" persistence aof_rewrite_scheduled)" = 0 ] && break
    sleep 0.1
  done
done
printf 'files: redis %s   meridian %s\n' "$(du -sh "$DATA/redis" | cut -f1)" "$(du -sh "$DATA/meridian" | cut -f1)"
stop_both
restart_time "$REDIS_PORT" start_redis
R=$ELAPSED
restart_time "$MERIDIAN_PORT" start_meridian
M=$ELAPSED
printf '%-28s redis %6ss   meridian %6ss\n' "after BGREWRITEAOF" "$R" "$M"
