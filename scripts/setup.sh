#!/usr/bin/env bash
# What `sockio serve` needs besides Rust, on a fresh Debian machine: Node.js and npm (from
# Debian, when missing) and the official socket.io-client bundle that the server hands to
# browsers at /socket.io/socket.io.js — installed by npm from the version pinned in
# crates/sockio-cli/package-lock.json (never committed to the repository).
set -euo pipefail
cd "$(dirname "$0")/.."

# apt-get as root, or through sudo.
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get update && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm
fi
(cd crates/sockio-cli && npm ci --no-audit --no-fund)
