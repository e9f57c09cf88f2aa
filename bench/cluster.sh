# The cluster benchmark (issue 15), sourced by bench/run.sh for the scenario `cluster`:
# per server kind (sockio's bench-server, socket.io on Node with @socket.io/redis-adapter),
# one redis-server and three nodes on loopback ports, every node pinned to the servers'
# CPU, redis-server and the load generator to the load generator's; members spread over
# the three nodes, the sender on the first, so two thirds of every broadcast travel
# through Redis. The load generator reads every node's CPU and redis-server's from /proc.
# Everything is stopped by pid. Uses run.sh's start_server, wait_port, stop, $out, $port.

cluster_nodes=3

run_cluster() { # run-number
  local run="$1" server redis_port redis_pid k p
  for server in $servers; do
    case "$server" in sockio | node) ;; *) continue ;; esac
    port=$((port + 1))
    redis_port=$port
    taskset -c "$loadgen_cpu" redis-server --port "$redis_port" --bind 127.0.0.1 \
      --save "" --appendonly no >>"$out/servers.log" 2>&1 &
    redis_pid=$!
    if ! wait_port "$redis_port"; then
      echo "redis-server did not start" >&2; stop "$redis_pid"; return 1
    fi
    local ports=() pids=()
    for k in $(seq "$cluster_nodes"); do
      port=$((port + 1))
      ports+=("$port")
      pids+=("$(REDIS_URL="redis://127.0.0.1:$redis_port" start_server "$server" "$port")")
    done
    for p in "${ports[@]}"; do
      if ! wait_port "$p"; then
        echo "$server cluster node on $p did not start" >&2
        for k in "${pids[@]}" "$redis_pid"; do stop "$k"; done
        return 1
      fi
    done
    local port_list pid_list
    port_list=$(IFS=,; echo "${ports[*]}")
    pid_list=$(IFS=,; echo "${pids[*]}")
    echo "== cluster run $run: $server (pids $pid_list, ports $port_list, redis pid $redis_pid)" >&2
    taskset -c $loadgen_cpu target/release/loadgen --scenario cluster --ports "$port_list" \
      --server-pids "$pid_list" --redis-pid "$redis_pid" "${extra[@]}" \
      >"$out/cluster.$server.$run.json" || echo "loadgen failed for cluster/$server/$run" >&2
    for k in "${pids[@]}" "$redis_pid"; do stop "$k"; done
    sleep 1
  done
}
