#!/usr/bin/env bash
# Runs every test of mypostshare: formatting, lints, unit and integration tests.
# It installs what it needs on a fresh Debian machine (the Rust components used below); the
# integration tests start the real server and the platform simulator on loopback, so no network
# beyond the package registries is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked --all-targets
