# Shell helpers shared by scripts/bench-*.sh. Source it from the repository
# root; it only defines functions and runs nothing.
#
# Conventions: servers run pinned to CPU 0 and load generators to CPU 1
# (PIN=0 disables), every process a script starts is recorded with
# bench_track and stopped by PID in bench_cleanup (install it as the EXIT
# trap), and redis-benchmark runs read CLIENTS, REQUESTS and TESTS.
# shellcheck shell=bash

BENCH_PIDS=()

bench_die() { echo "error: $*" >&2; exit 1; }

bench_need() { command -v "$1" >/dev/null 2>&1; }

# redis-server and redis-tools from apt, unless already on PATH.
bench_install_redis() {
  if ! bench_need redis-server || ! bench_need redis-benchmark; then
    echo "==> installing redis-server and redis-tools"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq || true
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools
  fi
  if ! bench_need redis-server || ! bench_need redis-benchmark || ! bench_need redis-cli; then
    bench_die "redis-server, redis-benchmark and redis-cli are needed (apt-get install redis-server redis-tools)"
  fi
}

# Directory holding release binaries.
bench_release_dir() { echo "${CARGO_TARGET_DIR:-target}/release"; }

# Sets PIN_SERVER and PIN_CLIENT (commands to prefix). Servers share CPU 0,
# the load generator gets CPU 1: every server sees the same single core, and
# other work on the machine disturbs the comparison less.
bench_pin() {
  PIN_SERVER=""
  PIN_CLIENT=""
  if bench_need taskset && [ "$(nproc)" -ge 2 ] && [ "${PIN:-1}" = 1 ]; then
    PIN_SERVER="taskset -c 0"
    PIN_CLIENT="taskset -c 1"
  fi
}

bench_machine() {
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
}

# Remembers a PID for bench_cleanup.
bench_track() { BENCH_PIDS+=("$1"); }

# Stops one process this script started: TERM, then KILL after 10 s.
bench_stop() {
  local pid=$1 _
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# EXIT trap: stops every tracked process, by PID.
bench_cleanup() {
  local pid
  for pid in ${BENCH_PIDS[@]+"${BENCH_PIDS[@]}"}; do
    bench_stop "$pid"
  done
  BENCH_PIDS=()
}

# True if something accepts connections on 127.0.0.1:PORT.
bench_port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The first port from START on that nobody listens on.
bench_free_port() {
  local p=$1
  while bench_port_busy "$p"; do
    p=$((p + 1))
    [ "$p" -lt 65536 ] || bench_die "no free port from $1"
  done
  echo "$p"
}

# Waits (10 s at most) until every PORT answers PING.
bench_wait_ping() {
  local p _
  for p in "$@"; do
    for _ in $(seq 100); do
      redis-cli -p "$p" ping >/dev/null 2>&1 && continue 2
      sleep 0.1
    done
    bench_die "nothing answers PING on port $p"
  done
}

# Replication links of the region on PORT in state up.
bench_links_up() {
  redis-cli -p "$1" info replication | tr -d '\r' | awk '/^region[0-9]+:/ && /state=up/ { n++ } END { print n + 0 }'
}

# Largest ops_lag over the links of the region on PORT (0 without links).
bench_max_ops_lag() {
  redis-cli -p "$1" info replication | tr -d '\r' \
    | awk -F'ops_lag=' 'NF > 1 { split($2, a, ","); if (a[1] + 0 > m) m = a[1] + 0 } END { print m + 0 }'
}

# bench_start_cluster N: `$BIN dev --regions N` (pinned like the servers,
# `$THREADS` workers, RESP ports from the first free one from `$BASE_PORT`,
# its log in `$TMP`); sets CLUSTER_PID and PORTS (the RESP ports, read from
# the banner) and waits until every region answers and has all its
# replication links up.
bench_start_cluster() {
  local n=$1 log port _ p
  log=$TMP/meridian-$n-$RANDOM.log
  port=$(bench_free_port "$BASE_PORT")
  $PIN_SERVER "$BIN" dev --regions "$n" --port "$port" --threads "$THREADS" --log warn >"$log" 2>&1 &
  CLUSTER_PID=$!
  bench_track "$CLUSTER_PID"
  PORTS=()
  for _ in $(seq 300); do
    mapfile -t PORTS < <(grep -o 'redis-cli -p [0-9]*' "$log" | awk '{ print $3 }')
    [ "${#PORTS[@]}" -ge "$n" ] && break
    if ! kill -0 "$CLUSTER_PID" 2>/dev/null; then
      cat "$log" >&2
      bench_die "meridian dev --regions $n exited during start-up"
    fi
    sleep 0.1
  done
  [ "${#PORTS[@]}" -eq "$n" ] || { cat "$log" >&2; bench_die "meridian dev --regions $n printed no banner with $n ports"; }
  bench_wait_ping "${PORTS[@]}"
  [ "$n" -gt 1 ] || return 0
  for p in "${PORTS[@]}"; do
    for _ in $(seq 300); do
      [ "$(bench_links_up "$p")" -eq $((n - 1)) ] && continue 2
      sleep 0.1
    done
    bench_die "region on port $p has $(bench_links_up "$p") of $((n - 1)) replication links up after 30 s"
  done
}

# Starts redis-server on PORT (no persistence; any further arguments are
# passed on), pinned like the servers; sets REDIS_PID.
bench_start_redis() {
  $PIN_SERVER redis-server --port "$1" --save '' --appendonly no --logfile /dev/null "${@:2}" &
  REDIS_PID=$!
  bench_track "$REDIS_PID"
}

# redis-benchmark against PORT at pipeline depth P, pinned like the load
# generator -> csv lines "test",rps,avg,min,p50,p95,p99,max
bench_rb() {
  $PIN_CLIENT redis-benchmark -p "$1" -c "$CLIENTS" -n "$REQUESTS" -P "$2" -t "$TESTS" -r 100000 --csv -q 2>/dev/null | tail -n +2
}

# Side-by-side table, reference server (redis) on PORT_REF vs Meridian on
# PORT_MER, for each pipeline depth in PIPELINES (default "1 16"). Both are
# flushed before each depth.
bench_compare() {
  local ref=$1 mer=$2 P R M
  printf '%-8s %-3s %12s %12s %7s %10s %10s\n' test P redis_rps meridian_rps ratio redis_p99 mer_p99
  for P in ${PIPELINES:-1 16}; do
    redis-cli -p "$ref" flushall >/dev/null
    redis-cli -p "$mer" flushall >/dev/null
    R=$(bench_rb "$ref" "$P")
    M=$(bench_rb "$mer" "$P")
    if [ -z "$R" ] || [ -z "$M" ]; then bench_die "redis-benchmark produced no results at -P $P"; fi
    paste -d, <(echo "$R") <(echo "$M") | tr -d '"' | awk -F, -v P="$P" '{
      name=$1; sub(/:.*/, "", name);
      printf "%-8s %-3s %12.0f %12.0f %7.2f %10.3f %10.3f\n", name, P, $2, $10, $10/$2, $7, $15 }'
  done
}

# SET key:0 .. key:N-1 to "val" through redis-cli --pipe.
bench_load_keys() {
  awk -v n="$2" 'BEGIN { for (i = 0; i < n; i++) { k = "key:" i; printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$3\r\nval\r\n", length(k), k } }' \
    | redis-cli -p "$1" --pipe >/dev/null
}

# One INFO field: bench_info PORT SECTION FIELD
bench_info() {
  redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v f="$3" '$1 == f { print $2 }'
}

bench_used_memory() { bench_info "$1" memory used_memory; }
