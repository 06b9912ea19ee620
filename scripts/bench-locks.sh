#!/usr/bin/env bash
# Lock benchmark: latency of LOCK.ACQUIRE + LOCK.RELEASE through RESP on
# loopback, one command at a time (tests/src/bin/lock-load.rs), with PING on
# the same connection as the loopback round-trip baseline.
#   1. local scope against a single region (`meridian serve`-like: `meridian
#      dev --regions 1`);
#   2. global scope against region 1 of a 3-region `meridian dev` cluster (one
#      process, links over loopback mTLS): each acquire is two voting rounds.
# Not part of the tests; docs/locks.md ("Benchmark") says what it measures.
#
#   scripts/bench-locks.sh                  # 20000 pairs each
#   N=5000 scripts/bench-locks.sh
#
# Settings (environment): N WARMUP TTL NAMES THREADS BASE_PORT PIN, and
# PROFILE (release, the default; `dev` for a quick check that the script runs).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib/bench-common.sh
. scripts/lib/bench-common.sh

N=${N:-20000}
WARMUP=${WARMUP:-1000}
TTL=${TTL:-10000}
NAMES=${NAMES:-64}
THREADS=${THREADS:-1}
BASE_PORT=${BASE_PORT:-17480}
PROFILE=${PROFILE:-release}

bench_need redis-cli || bench_install_redis

echo "==> building meridian and lock-load ($PROFILE)"
cargo build --profile "$PROFILE" -q -p meridian -p meridian-tests --bins
DIR=$(bench_release_dir)
if [ "$PROFILE" = dev ]; then DIR=${DIR%/release}/debug; fi
BIN=$DIR/meridian
LOADGEN=$DIR/lock-load
if [ ! -x "$BIN" ] || [ ! -x "$LOADGEN" ]; then bench_die "release binaries missing in $DIR"; fi

TMP=$(mktemp -d)
cleanup() {
  bench_cleanup
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bench_pin

# start_cluster N: `meridian dev --regions N` on free ports; sets CLUSTER_PID
# and PORTS (RESP ports, from the banner) and waits until every region
# answers and has its replication links up.
start_cluster() {
  local n=$1 log port _ p
  log=$TMP/meridian-$n.log
  port=$(bench_free_port "$BASE_PORT")
  $PIN_SERVER "$BIN" dev --regions "$n" --port "$port" --threads "$THREADS" --log warn >"$log" 2>&1 &
  CLUSTER_PID=$!
  bench_track "$CLUSTER_PID"
  PORTS=()
  for _ in $(seq 300); do
    mapfile -t PORTS < <(grep -o 'redis-cli -p [0-9]*' "$log" | awk '{ print $3 }')
    [ "${#PORTS[@]}" -ge "$n" ] && break
    kill -0 "$CLUSTER_PID" 2>/dev/null || { cat "$log" >&2; bench_die "meridian dev exited during start-up"; }
    sleep 0.1
  done
  [ "${#PORTS[@]}" -eq "$n" ] || { cat "$log" >&2; bench_die "no banner with $n ports"; }
  bench_wait_ping "${PORTS[@]}"
  [ "$n" -gt 1 ] || return 0
  for p in "${PORTS[@]}"; do
    for _ in $(seq 300); do
      up=$(redis-cli -p "$p" info replication | tr -d '\r' | awk '/^region[0-9]+:/ && /state=up/ { n++ } END { print n + 0 }')
      [ "$up" -eq $((n - 1)) ] && continue 2
      sleep 0.1
    done
    bench_die "region on port $p has $up of $((n - 1)) links up after 30 s"
  done
}

load() {
  $PIN_CLIENT "$LOADGEN" --n "$N" --warmup "$WARMUP" --ttl "$TTL" --names "$NAMES" "$@" | tee -a "$TMP/results"
}

bench_machine
echo "==> local locks, 1 region"
start_cluster 1
load --port "${PORTS[0]}"
bench_stop "$CLUSTER_PID"

echo "==> global locks, 3 regions (asking region 1)"
start_cluster 3
load --port "${PORTS[0]}" --global
bench_stop "$CLUSTER_PID"

echo
echo "==> summary (microseconds)"
grep '^RESULT' "$TMP/results"
