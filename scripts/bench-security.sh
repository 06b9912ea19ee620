#!/usr/bin/env bash
# What security costs, redis-server vs Meridian side by side in the same run:
# GET/SET throughput for the unrestricted default user, for an ACL user whose
# every command is checked (category rules and key patterns), and over TLS.
# Not part of the tests. Prints requests/s per server and the Meridian/Redis
# ratio, and for each server its own ACL and TLS cost relative to the first row.
#
#   scripts/bench-security.sh            # defaults: 50 clients, 200k requests
#   PIPELINES="1 16" scripts/bench-security.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib/bench-common.sh
. scripts/lib/bench-common.sh

CLIENTS=${CLIENTS:-50}
REQUESTS=${REQUESTS:-200000}
TESTS=${TESTS:-get,set}
REDIS_PORT=$(bench_free_port "${REDIS_PORT:-16379}")
REDIS_TLS=$(bench_free_port $((REDIS_PORT + 1)))
MERIDIAN_PORT=$(bench_free_port $((REDIS_TLS + 1)))
MERIDIAN_TLS=$(bench_free_port $((MERIDIAN_PORT + 1)))
# The checked user: may run reads and writes on redis-benchmark's keys only.
ACL_RULES=(on '>bench' '~key:*' '~counter:*' '%R~readonly:*' '+@read' '+@write' '-@dangerous')

bench_install_redis
bench_need openssl || bench_die "openssl is needed to make the benchmark's certificates"

echo "==> building meridian (release)"
cargo build --release -q -p meridian
BIN=$(bench_release_dir)/meridian

CERTS=$(mktemp -d)
cleanup() {
  bench_cleanup
  rm -rf "$CERTS"
}
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$CERTS/key.pem" -out "$CERTS/cert.pem" 2>/dev/null

bench_pin
$PIN_SERVER redis-server --port "$REDIS_PORT" --tls-port "$REDIS_TLS" \
  --tls-cert-file "$CERTS/cert.pem" --tls-key-file "$CERTS/key.pem" \
  --tls-ca-cert-file "$CERTS/cert.pem" --tls-auth-clients no \
  --save '' --appendonly no --logfile /dev/null &
bench_track $!
$PIN_SERVER "$BIN" serve --port "$MERIDIAN_PORT" --tls-port "$MERIDIAN_TLS" \
  --tls-cert-file "$CERTS/cert.pem" --tls-key-file "$CERTS/key.pem" \
  --threads 1 --log warn >/dev/null &
bench_track $!
bench_wait_ping "$REDIS_PORT" "$MERIDIAN_PORT"
for p in "$REDIS_PORT" "$MERIDIAN_PORT"; do
  redis-cli -p "$p" ACL SETUSER bench "${ACL_RULES[@]}" >/dev/null
done

# rb PORT PIPELINE [redis-benchmark options...] -> csv lines "test",rps,...
rb() {
  local port=$1 pipeline=$2
  shift 2
  $PIN_CLIENT redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$REQUESTS" \
    -P "$pipeline" -t "$TESTS" -r 100000 --csv -q "$@" 2>/dev/null | tail -n +2
}

echo
bench_machine
echo "redis:   $(redis-server --version | awk '{print $3}')   clients=$CLIENTS requests=$REQUESTS pinning=${PIN_SERVER:+servers on cpu0, client on cpu1}"
echo "ACL user: ${ACL_RULES[*]}"
echo
printf '%-8s %-4s %-3s %12s %12s %7s %10s %10s\n' mode test P redis_rps meridian_rps ratio redis_rel mer_rel
for P in ${PIPELINES:-1 16}; do
  declare -A BASE=()
  for mode in default acl tls; do
    case $mode in
      default) R=$(rb "$REDIS_PORT" "$P"); M=$(rb "$MERIDIAN_PORT" "$P") ;;
      acl)
        R=$(rb "$REDIS_PORT" "$P" --user bench -a bench)
        M=$(rb "$MERIDIAN_PORT" "$P" --user bench -a bench)
        ;;
      tls)
        R=$(rb "$REDIS_TLS" "$P" --tls --cacert "$CERTS/cert.pem")
        M=$(rb "$MERIDIAN_TLS" "$P" --tls --cacert "$CERTS/cert.pem")
        ;;
    esac
    if [ -z "$R" ] || [ -z "$M" ]; then bench_die "redis-benchmark produced no results ($mode, -P $P)"; fi
    while IFS=, read -r name r m; do
      if [ "$mode" = default ]; then BASE[$name]="$r,$m"; fi
      IFS=, read -r br bm <<<"${BASE[$name]}"
      awk -v mode="$mode" -v n="$name" -v P="$P" -v r="$r" -v m="$m" -v br="$br" -v bm="$bm" 'BEGIN {
        printf "%-8s %-4s %-3s %12.0f %12.0f %7.2f %10.2f %10.2f\n", mode, n, P, r, m, m / r, r / br, m / bm }'
    done < <(paste -d, <(echo "$R") <(echo "$M") | tr -d '"' | awk -F, '{ name=$1; sub(/:.*/, "", name); print tolower(name) "," $2 "," $10 }')
  done
  unset BASE
done
echo
echo "redis_rel / mer_rel: throughput relative to the same server's default-user row (1.00 = free)."
