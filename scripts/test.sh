#!/usr/bin/env bash
# Runs every test of mypostshare: formatting, lints, unit and integration tests.
# It installs what it needs on a fresh Debian machine (the Rust components used below,
# Chromium with ChromeDriver for the dashboard's browser tests, Litestream from npm, and
# Python's `standardwebhooks` in a virtual environment under target/ for the webhook tests); the
# integration tests start the real server and the platform simulator on loopback, so no network
# beyond the package registries is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi

# The dashboard's browser tests drive Debian's headless Chromium through ChromeDriver.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update && apt-get install -y chromium chromium-driver
  else
    sudo apt-get update && sudo apt-get install -y chromium chromium-driver
  fi
fi

# Litestream, for the replication test (tests/it/replication.rs): its static binary is on the
# npm registry. Installed once under target/tools (kept between runs, like the build); the test
# finds it through LITESTREAM_BIN.
LITESTREAM_PACKAGE=@flydotio/litestream-linux-x64@1.0.1
export LITESTREAM_BIN="$PWD/target/tools/node_modules/@flydotio/litestream-linux-x64/litestream"
if [ ! -x "$LITESTREAM_BIN" ]; then
  if ! command -v npm >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
      apt-get update && apt-get install -y npm
    else
      sudo apt-get update && sudo apt-get install -y npm
    fi
  fi
  npm install --prefix "$PWD/target/tools" --no-save --no-audit --no-fund "$LITESTREAM_PACKAGE"
fi
# The webhook tests verify every delivery with Python's official Standard Webhooks library.
./scripts/webhook-test-deps.sh

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked --all-targets
