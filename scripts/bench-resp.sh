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

CLIENTS=${CLIENTS:-50}
REQUESTS=${REQUESTS:-200000}
KEYS=${KEYS:-1000000}
TESTS=${TESTS:-get,set,incr,lpush,zadd}
REDIS_PORT=${REDIS_PORT:-16379}
MERIDIAN_PORT=${MERIDIAN_PORT:-16380}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need redis-server || ! need redis-benchmark; then
  echo "==> installing redis-server and redis-tools"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq || true
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools
fi

echo "==> building meridian (release)"
cargo build --release -q -p meridian
BIN=${CARGO_TARGET_DIR:-target}/release/meridian

cleanup() {
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  [ -n "${MPID:-}" ] && kill "$MPID" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

# Servers share CPU 0, the load generator gets CPU 1: both servers see the same
# single core, and other work on the machine disturbs the comparison less.
PIN_SERVER=""; PIN_CLIENT=""
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ] && [ "${PIN:-1}" = 1 ]; then
  PIN_SERVER="taskset -c 0"; PIN_CLIENT="taskset -c 1"
fi
$PIN_SERVER redis-server --port "$REDIS_PORT" --save '' --appendonly no --daemonize yes --logfile /dev/null
$PIN_SERVER "$BIN" serve --port "$MERIDIAN_PORT" --threads 1 --log warn &
MPID=$!
for p in "$REDIS_PORT" "$MERIDIAN_PORT"; do
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done

echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "redis:   $(redis-server --version | awk '{print $3}')   clients=$CLIENTS requests=$REQUESTS pinning=${PIN_SERVER:+servers on cpu0, client on cpu1}"
echo

run() { # port pipeline -> csv lines "test",rps,avg,min,p50,p95,p99,max
  $PIN_CLIENT redis-benchmark -p "$1" -c "$CLIENTS" -n "$REQUESTS" -P "$2" -t "$TESTS" -r 100000 --csv -q 2>/dev/null | tail -n +2
}

printf '%-8s %-3s %12s %12s %7s %10s %10s\n' test P redis_rps meridian_rps ratio redis_p99 mer_p99
for P in 1 16; do
  redis-cli -p "$REDIS_PORT" flushall >/dev/null; redis-cli -p "$MERIDIAN_PORT" flushall >/dev/null
  R=$(run "$REDIS_PORT" "$P"); M=$(run "$MERIDIAN_PORT" "$P")
  paste -d, <(echo "$R") <(echo "$M") | tr -d '"' | awk -F, -v P="$P" '{
    name=$1; sub(/:.*/, "", name);
    printf "%-8s %-3s %12.0f %12.0f %7.2f %10.3f %10.3f\n", name, P, $2, $10, $10/$2, $7, $15 }'
done

echo
echo "memory per small key ($KEYS keys, SET key:N val)"
load() {
  awk -v n="$KEYS" 'BEGIN { for (i = 0; i < n; i++) { k = "key:" i; printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$3\r\nval\r\n", length(k), k } }' \
    | redis-cli -p "$1" --pipe >/dev/null
}
used() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '/^used_memory:/ {print $2}'; }
for p in "$REDIS_PORT" "$MERIDIAN_PORT"; do redis-cli -p "$p" flushall >/dev/null; done
sleep 0.5
RB=$(used "$REDIS_PORT"); MB=$(used "$MERIDIAN_PORT")
load "$REDIS_PORT"; load "$MERIDIAN_PORT"
RA=$(used "$REDIS_PORT"); MA=$(used "$MERIDIAN_PORT")
awk -v rb="$RB" -v ra="$RA" -v mb="$MB" -v ma="$MA" -v n="$KEYS" 'BEGIN {
  r = (ra - rb) / n; m = (ma - mb) / n;
  printf "redis %.1f B/key   meridian %.1f B/key   ratio %.2f\n", r, m, m / r }'
