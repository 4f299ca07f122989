#!/usr/bin/env bash
# Runs every test of mypostshare: formatting, lints, unit and integration tests.
# It installs what it needs on a fresh Debian machine (the Rust components used below, and
# Chromium with ChromeDriver for the dashboard's browser tests); the
# integration tests start the real server and the platform simulator on loopback, so no network
# beyond the package registries is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi

# Debian packages: Chromium and ChromeDriver for the dashboard's browser tests; buildah (and
# jq, curl, file) for the container image test.
packages=()
command -v chromium >/dev/null || packages+=(chromium)
command -v chromedriver >/dev/null || packages+=(chromium-driver)
for tool in buildah jq curl file; do
  command -v "$tool" >/dev/null || packages+=("$tool")
done
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update && $sudo apt-get install -y "${packages[@]}"
fi

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked --all-targets
# The release build is one static binary; its container image is built and run locally.
./scripts/image-test.sh
