#!/usr/bin/env bash
# Where the server's memory per connection goes: heap in use against memory the allocator
# keeps, for one load-generator scenario against sockio's bench server.
#
#   bench/heap.sh connect-default 2000            # default client path, 2 000 connections
#   bench/heap.sh connect 2000                    # WebSocket only, to compare
#   bench/heap.sh connect-default 2000 --concurrency 16
#
# Starts target/release/bench-server (CPU 1) and the load generator (CPU 0), both built
# by bench/run.sh, and reads glibc's malloc_stats() from the server through gdb before
# connecting and at the idle point (during the load generator's hold). Prints, per
# connection: the RSS growth (as the scenario reports it), the allocator's arenas
# (`system`), the heap in use (live allocations) and the difference, memory freed but
# kept by the allocator (`free in arenas`). Needs gdb and permission to attach to the
# server. Only loopback is used; both processes are stopped by pid.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if [ $# -lt 2 ]; then
  echo "usage: bench/heap.sh SCENARIO CLIENTS [loadgen options]" >&2
  exit 2
fi
scenario="$1" clients="$2"
shift 2
port="${PORT:-29500}"
command -v gdb >/dev/null || { echo "bench/heap.sh needs gdb" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

dir="$(mktemp -d)"
PORT=$port taskset -c 1 target/release/bench-server 2>"$dir/server.err" >/dev/null &
server=$!
loadgen=
cleanup() {
  [ -n "$loadgen" ] && kill "$loadgen" 2>/dev/null
  kill -TERM "$server" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

for _ in $(seq 200); do
  (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
  sleep 0.05
done
malloc_stats() { # label: the server's malloc_stats() (written to its stderr), kept as stats.label
  # gdb may exit non-zero after the call (restoring registers); the stats are written.
  gdb -p "$server" -batch -ex 'call (void)malloc_stats()' >/dev/null 2>&1 || true
  cp "$dir/server.err" "$dir/stats.$1"
}
sleep 0.5
malloc_stats before

taskset -c 0 target/release/loadgen --port "$port" --scenario "$scenario" --clients "$clients" \
  --hold 8 --server-pid "$server" "$@" >"$dir/result.json" 2>"$dir/loadgen.err" &
loadgen=$!
for _ in $(seq 1200); do
  grep -q holding "$dir/loadgen.err" && break
  kill -0 "$loadgen" 2>/dev/null || break
  sleep 0.1
done
sleep 3
malloc_stats idle
wait "$loadgen" || true
loadgen=

python3 - "$dir" "$clients" "$scenario" <<'PY'
import json, re, sys
d, n = sys.argv[1], int(sys.argv[2])
def totals(path):
    # The last "Total (incl. mmap)" block of malloc_stats() in the file.
    text = open(path).read()
    block = text[text.rindex("Total (incl. mmap)"):]
    system = int(re.search(r"system bytes\s*=\s*(\d+)", block).group(1))
    in_use = int(re.search(r"in use bytes\s*=\s*(\d+)", block).group(1))
    return system, in_use
(s0, u0), (s1, u1) = totals(f"{d}/stats.before"), totals(f"{d}/stats.idle")
result = json.load(open(f"{d}/result.json"))
connected = result.get("connected") or 0
if connected == 0:
    sys.exit(f"no connection held: {result.get('first_error')}")
kib = lambda b: b / connected / 1024
print(f"{sys.argv[3]}: {connected} of {result.get('clients')} connected")
print(f"RSS growth per connection:     {result.get('server_rss_kib_per_conn')} KiB")
print(f"arenas (system) per connection: {kib(s1 - s0):.3f} KiB")
print(f"  heap in use per connection:   {kib(u1 - u0):.3f} KiB")
print(f"  free in arenas (kept):        {kib((s1 - u1) - (s0 - u0)):.3f} KiB "
      f"({(s1 - u1) / 1024:.0f} KiB in all at the idle point)")
PY
