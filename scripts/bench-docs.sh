#!/usr/bin/env bash
# Session-document benchmark: throughput and p99 of DOC.* edits and reads
# through RESP, next to the hash commands a session would otherwise use
# (HSET, HINCRBY, HGET) on the same server, first on one region and then on
# a 3-region `meridian dev` cluster (edits replicate as automerge changes).
# Not part of the tests. Measured with redis-benchmark's arbitrary-command
# mode over KEYS documents, each preloaded as {"f":"","n":0,"l":[]}; DOC.SET
# writes a random value, so histories grow and compaction runs (1000 changes).
# After the cluster run it checks that every region holds the same data
# (DEBUG DIGEST) once replication has drained.
#
#   scripts/bench-docs.sh                        # 50 clients, 100k requests, 1000 documents
#   REQUESTS=20000 KEYS=100 scripts/bench-docs.sh
#   MERIDIAN_BIN=target/release/meridian scripts/bench-docs.sh   # skip the build
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib/bench-common.sh
. scripts/lib/bench-common.sh

CLIENTS=${CLIENTS:-50}
REQUESTS=${REQUESTS:-100000}
KEYS=${KEYS:-1000}
THREADS=${THREADS:-1}
BASE_PORT=${BASE_PORT:-17480}

bench_install_redis

if [ -n "${MERIDIAN_BIN:-}" ]; then
  BIN=$MERIDIAN_BIN
else
  echo "==> building meridian (release)"
  cargo build --release -q -p meridian
  BIN=$(bench_release_dir)/meridian
fi

TMP=$(mktemp -d)
cleanup() {
  bench_cleanup
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bench_pin

# KEYS documents doc:000000000000… and hashes h:000000000000… on PORT.
load() {
  awk -v n="$KEYS" 'BEGIN {
    d = "{\"f\":\"\",\"n\":0,\"l\":[]}";
    for (i = 0; i < n; i++) {
      # redis-benchmark spells __rand_int__ as 12 zero-padded digits.
      k = sprintf("doc:%012d", i); h = sprintf("h:%012d", i);
      printf "*4\r\n$7\r\nDOC.SET\r\n$%d\r\n%s\r\n$1\r\n$\r\n$%d\r\n%s\r\n", length(k), k, length(d), d;
      printf "*4\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n$1\r\nf\r\n$1\r\nx\r\n", length(h), h }
  }' | redis-cli -p "$1" --pipe >/dev/null
}

# One redis-benchmark run of an arbitrary command -> "rps,p99".
rb() {
  local port=$1 p=$2
  shift 2
  $PIN_CLIENT redis-benchmark -p "$port" -c "$CLIENTS" -n "$REQUESTS" -P "$p" -r "$KEYS" --csv -q "$@" 2>/dev/null \
    | tail -n 1 | tr -d '"' | awk -F, '{ printf "%s,%s", $2, $7 }'
}

run_table() {
  local port=$1 label=$2 P name cmd out
  for P in ${PIPELINES:-1 16}; do
    while IFS='|' read -r name cmd; do
      # shellcheck disable=SC2086 # the command's words are meant to split
      out=$(rb "$port" "$P" $cmd)
      [ -n "$out" ] || bench_die "redis-benchmark produced no result for $name at -P $P"
      echo "$out" | awk -F, -v l="$label" -v n="$name" -v P="$P" '{
        printf "%-9s %-14s %-3s %12.0f %10.3f\n", l, n, P, $1, $2 }'
    done <<'TESTS'
DOC.SET|DOC.SET doc:__rand_int__ $.f "__rand_int__"
DOC.INCR|DOC.INCR doc:__rand_int__ $.n 1
DOC.PUSH|DOC.PUSH doc:__rand_int__ $.l 1
DOC.GET-path|DOC.GET doc:__rand_int__ $.n
DOC.GET-all|DOC.GET doc:__rand_int__
HSET|HSET h:__rand_int__ f __rand_int__
HINCRBY|HINCRBY h:__rand_int__ n 1
HGET|HGET h:__rand_int__ f
TESTS
  done
}

echo
bench_machine
echo "clients=$CLIENTS requests=$REQUESTS documents=$KEYS server threads=$THREADS"
printf '%-9s %-14s %-3s %12s %10s\n' cluster test P rps p99_ms

bench_start_cluster 1
load "${PORTS[0]}"
run_table "${PORTS[0]}" 1-region
bench_stop "$CLUSTER_PID"

bench_start_cluster 3
load "${PORTS[0]}"
run_table "${PORTS[0]}" 3-region
# Every edit was made in region 1; the others must end with the same data.
for _ in $(seq 600); do
  lag=0
  for p in "${PORTS[@]}"; do lag=$((lag + $(bench_max_ops_lag "$p"))); done
  [ "$lag" -eq 0 ] && break
  sleep 0.1
done
digests=$(for p in "${PORTS[@]}"; do redis-cli -p "$p" debug digest; done | sort -u | wc -l)
echo
if [ "$digests" -eq 1 ]; then
  echo "converged: all 3 regions hold the same data (DEBUG DIGEST)"
else
  echo "NOT converged: regions report $digests different digests" >&2
  exit 1
fi
