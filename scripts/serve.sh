#!/usr/bin/env bash
# `sockio serve` from a fresh clone: installs what it needs (scripts/setup.sh) the first
# time, then builds and runs it — the chat at http://localhost:3000/, metrics at /metrics.
# Arguments go to `sockio serve` (e.g. ./scripts/serve.sh --port 8080; --help for all).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f crates/sockio-cli/node_modules/socket.io-client/package.json ]; then
  ./scripts/setup.sh
fi
exec cargo run --release -p sockio-cli -- serve "$@"
