#!/usr/bin/env bash
# Builds the benchmark peers of docs/benchmark-contract.md from their registries:
#   socket.io on Node  -> node bench/peers/node/server.mjs             (npm ci, package-lock.json)
#   socketioxide       -> target/peers/release/socketioxide-bench-server (crates.io, own Cargo.lock)
#   ceiling            -> target/release/ceiling-server, held-ceiling-server (workspace member)
# socketioxide builds into target/peers so it never collides with the main build.
# Arguments: the servers of the run (bench/run.sh passes its --servers); socketioxide is
# built only when it is one of them (or when none are given).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"

(cd "$root/bench/peers/node" && npm ci --no-audit --no-fund)
if [ $# -eq 0 ] || [[ " $* " == *" socketioxide "* ]]; then
  CARGO_TARGET_DIR="$root/target/peers" cargo build --release --locked \
    --manifest-path "$root/bench/peers/socketioxide/Cargo.toml"
fi
(cd "$root" && cargo build --release -p sockio-bench-ceiling)
