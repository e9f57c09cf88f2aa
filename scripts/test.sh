#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need (Node.js and
# Debian's chromium if missing, the npm packages from the committed lockfiles: the test
# peers of tests/js and the client bundle of crates/sockio-cli), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ -x /usr/bin/chromium ] || missing+=(chromium) # the browser test of `sockio serve`
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi
# The Redis adapter tests start their own redis-server (Redis 7: sharded pub/sub).
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  apt-get update && apt-get install -y redis-server
fi
(cd tests/js && npm ci --no-audit --no-fund)
(cd crates/sockio-cli && npm ci --no-audit --no-fund)

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
