#!/usr/bin/env bash
# Installs what the webhook tests need beside Rust: the official Standard Webhooks library for
# Python (`standardwebhooks` from PyPI), in a virtual environment under target/ that
# tests/webhook_receiver.py runs in. Idempotent: it does nothing when the library is there.
# scripts/test.sh runs it; the webhook tests run it themselves when the environment is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=target/webhook-venv
if ! "$VENV/bin/python" -c 'import standardwebhooks' >/dev/null 2>&1; then
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check 'standardwebhooks==1.1.0'
fi
