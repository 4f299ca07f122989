#!/usr/bin/env bash
# Builds in release mode and runs the benchmark harness (bench/bench.rs); prints its figures.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --locked --example bench 2>/dev/null
