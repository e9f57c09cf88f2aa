#!/usr/bin/env bash
# The benchmark matrix of issue 5, in one command:
#
#   bench/run.sh                      # every scenario, every server, 3 runs, then BENCHMARKS.md
#   bench/run.sh --runs 1 --scenarios "fanout echo" --servers "ceiling sockio"
#   bench/run.sh --soak 2                # also the churn soak (bench/soak), 2 minutes
#
# Builds sockio's bench-server, the load generator and the peers (socket.io on Node,
# socketioxide, the raw tokio-tungstenite ceiling, the bare ceiling) from their registries, then for each
# scenario and run starts each server pinned to CPU 1 and the load generator pinned to
# CPU 0 (taskset), in the same run, on the same machine. Results (one JSON per run) go to
# target/bench-results/<time>/; bench/report.py turns them into BENCHMARKS.md and
# bench/chart.svg. Only loopback addresses are used; every process is stopped by pid.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

runs=3
scenarios="connect fanout fanout-slow fanout-10k fanout-burst echo echo-latency held-19k polling-broadcast connect-default cluster"
servers="ceiling bare sockio socketioxide node"
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --scenarios) scenarios="$2"; shift 2 ;;
    --servers) servers="$2"; shift 2 ;;
    --soak) soak_minutes="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

# What a fresh Debian machine lacks: taskset (pinning), Node.js and npm (the socket.io
# peer), python3 (the report).
missing=()
command -v taskset >/dev/null || missing+=(util-linux)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v python3 >/dev/null || missing+=(python3)
command -v perf >/dev/null || missing+=(linux-perf) # send system calls, counted
command -v redis-server >/dev/null || missing+=(redis-server) # the cluster scenario
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update && apt-get install -y "${missing[@]}"
fi
cargo build --release --bin bench-server
cargo build --release -p sockio-loadgen -p sockio-bench-ceiling -p sockio-bench-clients
bench/peers/build.sh $servers

# 10 000 connections need as many descriptors on both sides.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

out="target/bench-results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
server_cpu=1
loadgen_cpu=0
if [ "$(nproc)" -lt 2 ]; then server_cpu=0; fi

start_server() { # name port [scenario] -> pid on stdout (the server's own pid: taskset execs it)
  local name="$1" port="$2" scenario="${3:-}" cmd
  case "$name" in
    sockio) cmd=(target/release/bench-server) ;;
    # held-19k's floor: only what an Engine.IO server must do for an idle connection
    # (upgrade, open, the heartbeat) on one epoll thread, no Socket.IO, no runtime.
    ceiling) if [ "$scenario" = held-19k ]; then cmd=(target/release/held-ceiling-server)
             else cmd=(target/release/ceiling-server); fi ;;
    bare) cmd=(target/release/bare-ceiling-server) ;;
    socketioxide) cmd=(target/peers/release/socketioxide-bench-server) ;;
    node) cmd=(node bench/peers/node/server.mjs) ;;
    *) echo "unknown server $name" >&2; return 2 ;;
  esac
  PORT=$port taskset -c $server_cpu "${cmd[@]}" >>"$out/servers.log" 2>&1 &
  echo $!
}

wait_port() {
  for _ in $(seq 200); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

stop() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 30); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}

# shellcheck source=bench/cluster.sh
source bench/cluster.sh

# Servers listen below the ephemeral port range (32768 and up): the held-19k workers
# open 19 000 connections from 127.0.0.x, whose source ports would otherwise collide
# with the next server's listening port.
port=20000
for scenario in $scenarios; do
  for run in $(seq "$runs"); do
    if [ "$scenario" = cluster ]; then run_cluster "$run" || exit 1; continue; fi
    for server in $servers; do
      # Load held (issue 14) compares the Socket.IO servers (the ceilings speak no
      # polling); held-19k also runs its floor (ceiling: held-ceiling-server), not the bare
      # ceiling (it never pings; held-19k takes a minute a run).
      case "$scenario/$server" in
        held-19k/bare | polling-broadcast/ceiling | polling-broadcast/bare \
          | connect-default/ceiling | connect-default/bare) continue ;;
      esac
      port=$((port + 1))
      pid=$(start_server "$server" "$port" "$scenario")
      if ! wait_port "$port"; then
        echo "$server did not start" >&2; stop "$pid"; exit 1
      fi
      echo "== $scenario run $run: $server (pid $pid, port $port)" >&2
      taskset -c $loadgen_cpu target/release/loadgen --port "$port" --scenario "$scenario" \
        --server-pid "$pid" "${extra[@]}" >"$out/$scenario.$server.$run.json" \
        || echo "loadgen failed for $scenario/$server/$run" >&2
      stop "$pid"
      sleep 1 # let sockets in TIME_WAIT and the CPU settle
    done
  done
done

# The client benchmark: N clients in one process (sockio's, then socket.io-client on Node)
# against sockio's bench server, each emitting with acknowledgement in a loop.
# The clients connect from 127.0.0.1, whose ephemeral ports (32768 and up) would collide
# with the servers' ports above: these servers listen below that range.
if [ "${client_runs:-1}" -gt 0 ]; then
  port=30000
  for clients in 1000 10000; do
    for run in $(seq "$runs"); do
      for client in sockio-client node-client; do
        port=$((port + 1))
        pid=$(start_server sockio "$port")
        wait_port "$port" || { echo "sockio did not start" >&2; stop "$pid"; exit 1; }
        echo "== clients-$clients run $run: $client (server pid $pid, port $port)" >&2
        case "$client" in
          sockio-client) taskset -c $loadgen_cpu target/release/bench-clients --port "$port" \
              --clients "$clients" --duration 5 ;;
          node-client) (cd bench/peers/node && PORT=$port CLIENTS=$clients DURATION=5 \
              taskset -c $loadgen_cpu node clients.mjs) ;;
        esac >"$out/clients-$clients.$client.$run.json" || echo "$client failed" >&2
        stop "$pid"
        sleep 1
      done
    done
  done
fi

# The churn soak (issue 14), when asked for: its results go to $out/soak/, its plot to
# bench/soak.svg, and report.py shows them.
run_soak() { # minutes
  cargo build --release -p sockio-soak
  echo "== churn soak: $1 min" >&2
  target/release/sockio-soak --minutes "$1" --out "$out/soak" >/dev/null || echo "soak: a check failed" >&2
}
if [ -n "${soak_minutes:-}" ]; then
  run_soak "$soak_minutes"
fi

python3 bench/report.py "$out" >BENCHMARKS.md
echo "wrote BENCHMARKS.md and bench/chart.svg from $out" >&2
