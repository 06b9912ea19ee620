#!/usr/bin/env bash
# Replication benchmark: a 3-region `meridian dev` cluster (one process,
# active-active over loopback mTLS) next to a redis-server, in the same run.
# Not part of the tests. Measures
#   1. convergence latency under sustained writes to all regions at once
#      (tests/src/bin/repl-load.rs): ack in one region -> visible in the others;
#   2. replication throughput (repl_changes_applied deltas) and achieved rate;
#   3. GET/SET throughput vs redis-server with replication on (redis-benchmark
#      against region 1, as scripts/bench-resp.sh does), then again vs a
#      redis-server with two replicas of its own on the same core;
#   4. memory per key at rest, 3 regions vs 1, and repl_pending_keys;
#   5. hot keys: every region writes one key at once (INCR, LPUSH, SADD via
#      redis-benchmark on each region together), then checks that the regions
#      agree (DEBUG DIGEST) and that every increment counted;
# then prints a summary table. docs/benchmarks.md explains the method.
#
#   scripts/bench-replication.sh                       # 50k writes/s for 10 s, 1M keys
#   RATE=20000 DURATION=5 KEYS=200000 scripts/bench-replication.sh
#
# Settings (environment): RATE DURATION SAMPLE (1 write in SAMPLE is timed)
# KEYS CLIENTS REQUESTS TESTS PIPELINES THREADS (Meridian workers)
# LOAD_THREADS LANES CONNS BASE_PORT REDIS_PORT SYNC_TIMEOUT IDLE_WAIT PIN
# HOT_REQUESTS (per region and command).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib/bench-common.sh
. scripts/lib/bench-common.sh

RATE=${RATE:-50000}
DURATION=${DURATION:-10}
SAMPLE=${SAMPLE:-100}
KEYS=${KEYS:-1000000}
CLIENTS=${CLIENTS:-50}
REQUESTS=${REQUESTS:-200000}
TESTS=${TESTS:-get,set}
PIPELINES=${PIPELINES:-1 16}
THREADS=${THREADS:-1}
LOAD_THREADS=${LOAD_THREADS:-1}
LANES=${LANES:-64}
CONNS=${CONNS:-2}
BASE_PORT=${BASE_PORT:-17380}
SYNC_TIMEOUT=${SYNC_TIMEOUT:-300}
IDLE_WAIT=${IDLE_WAIT:-30}
HOT_REQUESTS=${HOT_REQUESTS:-100000}
REGIONS=3

bench_install_redis

echo "==> building meridian and repl-load (release)"
cargo build --release -q -p meridian -p meridian-tests --bins
DIR=$(bench_release_dir)
BIN=$DIR/meridian
LOADGEN=$DIR/repl-load
if [ ! -x "$BIN" ] || [ ! -x "$LOADGEN" ]; then bench_die "release binaries missing in $DIR"; fi

TMP=$(mktemp -d)
cleanup() {
  bench_cleanup
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bench_pin

# --- helpers ---------------------------------------------------------------

# Sum of a per-link INFO replication field (e.g. snapshots_in) on PORT.
link_sum() {
  redis-cli -p "$1" info replication | tr -d '\r' \
    | awk -F"$2=" 'NF > 1 { split($2, a, ","); s += a[1] } END { print s + 0 }'
}

# Sum of an INFO replication field over every region in PORTS.
sum_info() {
  local p s=0 v
  for p in "${PORTS[@]}"; do
    v=$(bench_info "$p" replication "$1")
    s=$((s + ${v:-0}))
  done
  echo "$s"
}

stop_cluster() {
  bench_stop "$CLUSTER_PID"
}

# wait_replicated N: every region holds N keys and no link has ops_lag.
wait_replicated() {
  local deadline=$((SECONDS + SYNC_TIMEOUT)) p ok
  while :; do
    ok=1
    for p in "${PORTS[@]}"; do
      if [ "$(redis-cli -p "$p" dbsize)" != "$1" ] || [ "$(bench_max_ops_lag "$p")" != 0 ]; then
        ok=0
        break
      fi
    done
    [ "$ok" = 1 ] && return 0
    [ "$SECONDS" -lt "$deadline" ] || bench_die "regions did not converge on $1 keys within ${SYNC_TIMEOUT}s (dbsize: $(for p in "${PORTS[@]}"; do printf '%s ' "$(redis-cli -p "$p" dbsize)"; done))"
    sleep 0.2
  done
}

now_ms() { date +%s%3N; }

# RESULT field from repl-load's output.
result() { awk -v k="$1" '/^RESULT / { for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == k) print a[2] } }' "$TMP/converge.txt"; }
# Ratio column of the redis-benchmark table for TEST at depth P.
ratio() { awk -v t="$1" -v p="$2" '$1 == t && $2 == p { print $5 }' "$TMP/${3:-ratio}.txt"; }
# "ok" if awk expression EXPR (over x) holds for value X, else "MISS".
verdict() { awk -v x="$1" "BEGIN { print (x != \"\" && ($2)) ? \"ok\" : \"MISS\" }"; }

# --- run ---------------------------------------------------------------------

REDIS_PORT=$(bench_free_port "${REDIS_PORT:-17379}")
bench_start_redis "$REDIS_PORT"
bench_wait_ping "$REDIS_PORT"
echo "==> starting meridian dev --regions $REGIONS"
bench_start_cluster "$REGIONS"

echo
bench_machine
echo "redis:   $(redis-server --version | awk '{print $3}')   meridian: $REGIONS regions in one process, --threads $THREADS, ports ${PORTS[*]}"
PINNING="none"
[ -z "$PIN_SERVER" ] || PINNING="servers on cpu0, load generators on cpu1"
echo "pinning: $PINNING"
echo

echo "== 1. convergence under sustained writes to all $REGIONS regions ($RATE writes/s for ${DURATION}s)"
if ! $PIN_CLIENT "$LOADGEN" --ports "$(IFS=,; echo "${PORTS[*]}")" --rate "$RATE" --duration "$DURATION" \
  --sample "$SAMPLE" --lanes "$LANES" --conns "$CONNS" --threads "$LOAD_THREADS" | tee "$TMP/converge.txt"; then
  bench_die "repl-load failed (see above)"
fi
echo

echo "== 2. redis-benchmark: redis-server vs region 1 of the $REGIONS-region cluster (replication on)"
echo "   clients=$CLIENTS requests=$REQUESTS tests=$TESTS"
bench_compare "$REDIS_PORT" "${PORTS[0]}" | tee "$TMP/ratio.txt"
echo
echo "== 2b. the same against redis-server with two replicas of its own on the same core"
echo "   (like for like: each side's core also applies every write twice more)"
REPLICA_PORTS=()
REPLICA_PIDS=()
rp=$REDIS_PORT
for _ in 1 2; do
  rp=$(bench_free_port $((rp + 1)))
  bench_start_redis "$rp" --replicaof 127.0.0.1 "$REDIS_PORT"
  REPLICA_PIDS+=("$REDIS_PID")
  REPLICA_PORTS+=("$rp")
done
for rp in "${REPLICA_PORTS[@]}"; do
  bench_wait_ping "$rp"
  for _ in $(seq 100); do
    [ "$(bench_info "$rp" replication master_link_status)" = up ] && break
    sleep 0.1
  done
  [ "$(bench_info "$rp" replication master_link_status)" = up ] || bench_die "redis replica on $rp never linked"
done
bench_compare "$REDIS_PORT" "${PORTS[0]}" | tee "$TMP/ratio-replicas.txt"
for pid in "${REPLICA_PIDS[@]}"; do bench_stop "$pid"; done
PEERS_AFTER=""
for p in "${PORTS[@]:1}"; do PEERS_AFTER+="$(redis-cli -p "$p" dbsize) "; done
echo "   keys in region 1 / peers after the last run: $(redis-cli -p "${PORTS[0]}" dbsize) / ${PEERS_AFTER% }"
stop_cluster
echo

echo "== 3. memory per key at rest ($KEYS keys, SET key:N val into region 1)"
bench_start_cluster "$REGIONS"
sleep 0.5
M3_BASE=$(bench_used_memory "${PORTS[0]}")
T0=$(now_ms)
bench_load_keys "${PORTS[0]}" "$KEYS"
T1=$(now_ms)
wait_replicated "$KEYS"
T2=$(now_ms)
PENDING_SYNCED=$(sum_info repl_pending_keys)
IDLE_START=$SECONDS
while [ "$(sum_info repl_pending_keys)" != 0 ] && [ $((SECONDS - IDLE_START)) -lt "$IDLE_WAIT" ]; do sleep 0.5; done
PENDING_IDLE=$(sum_info repl_pending_keys)
IDLE_SECS=$((SECONDS - IDLE_START))
sleep 1
M3_AFTER=$(bench_used_memory "${PORTS[0]}")
LOG_BYTES=$(sum_info repl_log_bytes)
SNAPSHOTS=0
for p in "${PORTS[@]}"; do SNAPSHOTS=$((SNAPSHOTS + $(link_sum "$p" snapshots_in))); done
echo "   3 regions: loaded in $((T1 - T0)) ms, replicated $((T2 - T1)) ms later (snapshots received: $SNAPSHOTS)"
echo "   repl_pending_keys (all regions): $PENDING_SYNCED when replicated, $PENDING_IDLE after ${IDLE_SECS}s idle"
echo "   used_memory $M3_BASE -> $M3_AFTER (one process, $REGIONS copies of every key); repl_log_bytes in all: $LOG_BYTES"
stop_cluster

bench_start_cluster 1
sleep 0.5
M1_BASE=$(bench_used_memory "${PORTS[0]}")
bench_load_keys "${PORTS[0]}" "$KEYS"
[ "$(redis-cli -p "${PORTS[0]}" dbsize)" = "$KEYS" ] || bench_die "single region holds $(redis-cli -p "${PORTS[0]}" dbsize) keys, expected $KEYS"
sleep 1
M1_AFTER=$(bench_used_memory "${PORTS[0]}")
echo "   1 region:  used_memory $M1_BASE -> $M1_AFTER"
stop_cluster

read -r MEM1 MEM3_RAW MEM3 OVERHEAD LOG_PER_KEY < <(awk -v n="$KEYS" -v r="$REGIONS" \
  -v b1="$M1_BASE" -v a1="$M1_AFTER" -v b3="$M3_BASE" -v a3="$M3_AFTER" -v lb="$LOG_BYTES" 'BEGIN {
  m1 = (a1 - b1) / n; raw = (a3 - b3) / (n * r); m3 = (a3 - b3 - lb) / (n * r);
  printf "%.1f %.1f %.1f %.1f %.1f\n", m1, raw, m3, m3 - m1, lb / n }')
echo "   bytes/key: 1 region $MEM1; 3 regions $MEM3 per region per key without the replication log ($MEM3_RAW with it)"
echo "   replication overhead: $OVERHEAD B per key per region at rest; the log holds another $LOG_PER_KEY B per key loaded"
echo

echo "== 4. hot keys: all $REGIONS regions write one key at once ($HOT_REQUESTS requests per region, -c $CLIENTS -P 1)"
bench_start_cluster "$REGIONS"
HOT=""
for t in incr lpush sadd; do
  pids=()
  for p in "${PORTS[@]}"; do
    $PIN_CLIENT redis-benchmark -p "$p" -t "$t" -n "$HOT_REQUESTS" -c "$CLIENTS" -P 1 -q >"$TMP/hot-$t-$p.txt" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || bench_die "redis-benchmark -t $t failed"; done
  rate=$(cat "$TMP"/hot-"$t"-*.txt | tr '\r' '\n' | awk '/requests per second/ { s += $2 } END { printf "%.0f", s }')
  echo "   $t: $rate requests/s over all regions"
  HOT+="$t=$rate "
done
# Every region holds the same data, every increment counted once.
deadline=$((SECONDS + SYNC_TIMEOUT))
while :; do
  mapfile -t DIGESTS < <(for p in "${PORTS[@]}"; do redis-cli -p "$p" debug digest; done)
  lagging=0
  for p in "${PORTS[@]}"; do [ "$(bench_max_ops_lag "$p")" = 0 ] || lagging=1; done
  if [ "$lagging" = 0 ] && [ "$(printf '%s\n' "${DIGESTS[@]}" | sort -u | wc -l)" = 1 ]; then break; fi
  [ "$SECONDS" -lt "$deadline" ] || bench_die "hot keys: regions disagree after ${SYNC_TIMEOUT}s: ${DIGESTS[*]}"
  sleep 0.2
done
HOT_TOTAL=$((HOT_REQUESTS * REGIONS))
for p in "${PORTS[@]}"; do
  c=$(redis-cli -p "$p" get counter:__rand_int__)
  [ "$c" = "$HOT_TOTAL" ] || bench_die "hot keys: region on port $p counted $c increments, expected $HOT_TOTAL"
done
HOT_PENDING=$(sum_info repl_pending_versions)
echo "   regions agree; the counter reads $HOT_TOTAL everywhere; repl_pending_versions (all regions): $HOT_PENDING"
stop_cluster
echo

# --- summary -----------------------------------------------------------------

P50=$(result conv_p50_ms); P99=$(result conv_p99_ms); PMAX=$(result conv_max_ms)
F='%-46s %-26s %-14s %s\n'
echo "== summary (RATE=$RATE DURATION=${DURATION}s SAMPLE=1/$SAMPLE KEYS=$KEYS REQUESTS=$REQUESTS; ${PIN_SERVER:+pinned }$(nproc) cores)"
# shellcheck disable=SC2059
{
  printf "$F" metric value target verdict
  printf "$F" "convergence p50 / p99 / max (ms)" "$P50 / $P99 / $PMAX" "p99 <= 5" "$(verdict "$P99" 'x <= 5')"
  printf "$F" "probes (lost)" "$(result probes) ($(result lost))" "" ""
  printf "$F" "writes/s achieved / target" "$(result write_rate) / $RATE" "" "$(verdict "$(result write_rate)" "x >= 0.95 * $RATE")"
  printf "$F" "SET latency under load p50 / p99 (ms)" "$(result set_p50_ms) / $(result set_p99_ms)" "" ""
  printf "$F" "changes applied/s during load" "$(result applied_rate)" "" ""
  printf "$F" "drain after load (ms)" "$(result drain_ms)" "" ""
  for t in GET SET; do
    for P in $PIPELINES; do
      r=$(ratio "$t" "$P")
      [ -n "$r" ] || continue
      printf "$F" "$t ops/s ratio vs redis, -P $P" "$r" ">= 1.0" "$(verdict "$r" 'x >= 1.0')"
    done
  done
  for t in GET SET; do
    for P in $PIPELINES; do
      r=$(ratio "$t" "$P" ratio-replicas)
      [ -n "$r" ] || continue
      printf "$F" "$t ratio vs redis + 2 replicas, -P $P" "$r" "" ""
    done
  done
  printf "$F" "bytes/key, 1 region" "$MEM1" "" ""
  printf "$F" "bytes/key/region, 3 regions (excl. log)" "$MEM3 ($MEM3_RAW incl.)" "" ""
  printf "$F" "replication overhead B/key/region" "$OVERHEAD" "<= 16" "$(verdict "$OVERHEAD" 'x <= 16')"
  printf "$F" "repl log B/key loaded (bounded, all regions)" "$LOG_PER_KEY" "" ""
  printf "$F" "repl_pending_keys replicated / idle" "$PENDING_SYNCED / $PENDING_IDLE" "0 when idle" "$(verdict "$PENDING_IDLE" 'x == 0')"
  for kv in $HOT; do
    printf "$F" "hot key ${kv%%=*} req/s, all regions at once" "${kv#*=}" "" ""
  done
}
