#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need (Node.js from
# Debian if missing, the npm peers from tests/js/package-lock.json), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1; then
  apt-get update && apt-get install -y nodejs npm
fi
# The Redis adapter tests start their own redis-server (Redis 7: sharded pub/sub).
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  apt-get update && apt-get install -y redis-server
fi
(cd tests/js && npm ci --no-audit --no-fund)

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
