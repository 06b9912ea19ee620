#!/usr/bin/env bash
# The whole test suite, as a new user (and CI) runs it:
#   1. installs what the tests need and a fresh machine lacks
#      (the wasm32-wasip2 target, redis-tools for redis-cli, redis-py, ioredis,
#      chromium and chromium-driver for the console's browser test);
#   2. builds the guest examples for wasm32-wasip2;
#   3. checks formatting and lints, then runs every test;
#   4. validates the deployment files (scripts/check-deploy.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# A one-off build (CI's fresh clone) gains nothing from incremental state,
# which would take several more GB of disk.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

# A cold build of everything takes about 5 GB under target/.
avail_kb=$(df -Pk . | awk 'NR == 2 { print $4 }')
if [ "${avail_kb:-0}" -lt $((6 * 1024 * 1024)) ]; then
  echo "warning: only $((avail_kb / 1024)) MiB free here; a cold build needs about 5 GB" >&2
fi

step "toolchain: wasm32-wasip2 target"
rustup target add wasm32-wasip2

if ! command -v redis-cli >/dev/null 2>&1; then
  step "installing redis-tools (redis-cli) for the compatibility tests"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq || true
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-tools
fi
redis-cli --version

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  step "installing chromium and chromium-driver for the web console's browser test"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq || true
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
fi

if ! python3 -c 'import redis' >/dev/null 2>&1; then
  step "installing redis-py for the client compatibility tests"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore 'redis==8.2.0'
fi

if ! command -v npm >/dev/null 2>&1; then
  step "installing Node.js for the client compatibility tests"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq || true
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi
if [ ! -d tests/node/node_modules/ioredis ]; then
  step "installing ioredis for the client compatibility tests"
  npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
fi

step "building guest examples for wasm32-wasip2"
# The WASM tests load these components (target/wasm32-wasip2/release/*.wasm).
cargo build --release --target wasm32-wasip2 \
  -p edge-cache -p rate-limiter -p leaderboard -p hostile-guest -p api-check \
  -p kv-portable -p hello-edge -p session

step "formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

step "tests"
# The CLI tests run the real `meridian` binary, so build it first.
cargo build -p meridian
cargo test --workspace

step "deployment files: Kubernetes manifests, region configs, container image"
./scripts/check-deploy.sh
