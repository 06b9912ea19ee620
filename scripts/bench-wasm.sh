#!/usr/bin/env bash
# WASM guest benchmark (not part of the tests):
#   1. criterion: instantiate + call of a plugin from its InstancePre, and the
#      cost of one host call (cache get of a small value);
#   2. edge HTTP at concurrency 50 through Meridian: the edge-cache example
#      (cache hits) and hello-edge (no cache call);
#   3. the same hello-edge component under `wasmtime serve` in the same run,
#      and the ratio. wasmtime-cli is installed with cargo if missing
#      (SKIP_WASMTIME=1 skips this part).
#
#   scripts/bench-wasm.sh               # defaults: 50 connections, 5 s each
#   DURATION=10 CONNECTIONS=100 scripts/bench-wasm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib/bench-common.sh
. scripts/lib/bench-common.sh

CONNECTIONS=${CONNECTIONS:-50}
DURATION=${DURATION:-5}
WASMTIME_VERSION=${WASMTIME_VERSION:-^48}
RESP_PORT=$(bench_free_port "${RESP_PORT:-16480}")
HTTP_PORT=$(bench_free_port "${HTTP_PORT:-18480}")
WT_PORT=$(bench_free_port $((HTTP_PORT + 1)))

bench_machine
echo "==> building guests (wasm32-wasip2), meridian and http-load (release)"
rustup target add wasm32-wasip2 >/dev/null
cargo build --release -q --target wasm32-wasip2 -p edge-cache -p hello-edge -p api-check
cargo build --release -q -p meridian -p meridian-tests --bin meridian --bin http-load
REL=$(bench_release_dir)
GUESTS=${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release

echo
echo "==> criterion: plugin instantiate + call, and host calls"
cargo bench -q -p meridian-tests --bench wasm_host_call -- --noplot 2>&1 |
  grep -E '^(plugin/|\s+time:)' | tee /tmp/bench-wasm-criterion.$$
# time: [low mid high] with a unit; the middle figure of each, in ns.
mids=$(awk '/time:/ {v=$4; u=$5; f=1; if (u=="us"||u=="µs") f=1e3; if (u=="ms") f=1e6; if (u=="s") f=1e9; print v*f}' /tmp/bench-wasm-criterion.$$)
rm -f /tmp/bench-wasm-criterion.$$
call_ns=$(echo "$mids" | sed -n 1p)
gets_ns=$(echo "$mids" | sed -n 2p)
if [ -n "$call_ns" ] && [ -n "$gets_ns" ]; then
  awk -v a="$call_ns" -v b="$gets_ns" 'BEGIN {
    printf "instantiate+call: %.1f us; one host call (cache get): %.0f ns\n", a/1000, (b-a)/1000 }'
fi

trap bench_cleanup EXIT
bench_pin
cat > /tmp/bench-wasm.$$.toml <<TOML
port = $RESP_PORT
http-port = $HTTP_PORT
log = "warn"
[[modules]]
path = "$GUESTS/edge_cache.wasm"
name = "edge-cache"
route = "/cache"
[[modules]]
path = "$GUESTS/hello_edge.wasm"
name = "hello"
route = "/hello"
TOML
$PIN_SERVER "$REL/meridian" serve --config /tmp/bench-wasm.$$.toml >/dev/null 2>&1 &
bench_track $!
for _ in $(seq 100); do bench_port_busy "$HTTP_PORT" && break; sleep 0.1; done
rm -f /tmp/bench-wasm.$$.toml

load() { $PIN_CLIENT "$REL/http-load" --addr "127.0.0.1:$1" --path "$2" \
  --connections "$CONNECTIONS" --duration "$DURATION" | tail -1; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

echo
echo "==> edge HTTP, $CONNECTIONS connections, ${DURATION}s each (server on one core)"
curl -s "http://127.0.0.1:$HTTP_PORT/cache/primes?n=100000&ttl=3600" >/dev/null
cache=$(load "$HTTP_PORT" "/cache/primes?n=100000&ttl=3600")
echo "meridian edge-cache (hits): $cache"
hello=$(load "$HTTP_PORT" "/hello")
echo "meridian hello-edge:        $hello"

if [ "${SKIP_WASMTIME:-0}" = 1 ]; then
  echo "wasmtime serve: skipped (SKIP_WASMTIME=1)"
  exit 0
fi
# The comparison is with wasmtime 48 (the wasmtime Meridian embeds): another
# major version on PATH does not count.
if ! bench_need wasmtime || ! wasmtime --version | grep -q '^wasmtime 48\.'; then
  echo "==> installing wasmtime-cli $WASMTIME_VERSION with cargo (takes a while)"
  cargo install -q --locked wasmtime-cli --version "$WASMTIME_VERSION"
fi
$PIN_SERVER wasmtime serve --addr "127.0.0.1:$WT_PORT" -S cli "$GUESTS/hello_edge.wasm" >/dev/null 2>&1 &
bench_track $!
for _ in $(seq 100); do bench_port_busy "$WT_PORT" && break; sleep 0.1; done
wt=$(load "$WT_PORT" "/hello")
echo "wasmtime serve hello-edge:  $wt"
awk -v m="$(field "$hello" rps)" -v w="$(field "$wt" rps)" \
  'BEGIN { if (w > 0) printf "ratio meridian/wasmtime-serve (hello, req/s): %.2f\n", m/w }'
