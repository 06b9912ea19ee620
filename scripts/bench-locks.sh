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

load() {
  $PIN_CLIENT "$LOADGEN" --n "$N" --warmup "$WARMUP" --ttl "$TTL" --names "$NAMES" "$@" | tee -a "$TMP/results"
}

bench_machine
echo "==> local locks, 1 region"
bench_start_cluster 1
load --port "${PORTS[0]}"
bench_stop "$CLUSTER_PID"

echo "==> global locks, 3 regions (asking region 1)"
bench_start_cluster 3
load --port "${PORTS[0]}" --global
bench_stop "$CLUSTER_PID"

echo
echo "==> summary (microseconds)"
grep '^RESULT' "$TMP/results"
