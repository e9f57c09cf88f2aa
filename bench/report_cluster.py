"""The cluster benchmark's part of BENCHMARKS.md (issue 15), used by bench/report.py.

Definitions (medians over the runs):

* deliveries per node-CPU-second (cluster): every delivery of the run divided by the CPU
  seconds of the three nodes summed (`cluster.deliveries_per_node_cpu_sec` of the load
  generator's JSON). redis-server's CPU is reported on its own (per broadcast), not in it.
* sockio's single-node rate per core: in the `fanout` scenario of the same run (1 000
  members, one server), deliveries divided by that server's CPU seconds
  (`deliveries / server_cpu_secs`): deliveries per server-CPU-second.

Targets: sockio's deliveries per node-CPU-second ≥ 5 × Node's (three socket.io 4.8
nodes with @socket.io/redis-adapter), and ≥ 0.7 × sockio's single-node rate per core."""

import statistics


def value(run, path):
    cur = run
    for part in path.split("."):
        if isinstance(cur, list):
            try:
                cur = cur[int(part)]
            except (ValueError, IndexError):
                return None
        elif isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return None
    return cur if isinstance(cur, (int, float)) and not isinstance(cur, bool) else None


def med(runs, path):
    vs = [v for v in (value(r, path) for r in runs) if v is not None]
    return statistics.median(vs) if vs else None


def single_node_per_core(runs):
    """Deliveries per server-CPU-second of single-node fan-out runs (median)."""
    vs = []
    for r in runs:
        d, c = value(r, "deliveries"), value(r, "server_cpu_secs")
        if d is not None and c:
            vs.append(d / c)
    return statistics.median(vs) if vs else None


def _fmt(v, digits=2):
    if v is None:
        return "—"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}f}"


def target_rows(results):
    """Lines of the targets table (| target | sockio | reference | met |)."""
    cluster = results.get("cluster", {})
    ours, node = cluster.get("sockio", []), cluster.get("node", [])
    if not ours:
        return []
    s = med(ours, "cluster.deliveries_per_node_cpu_sec")
    n = med(node, "cluster.deliveries_per_node_cpu_sec")
    single = single_node_per_core(results.get("fanout", {}).get("sockio", []))
    rows = []
    met = "yes" if s is not None and n and s >= 5 * n else ("no" if n else "—")
    rows.append(f"| cluster (3 nodes, 1 Redis): deliveries per node-CPU-second ≥ 5 × Node's "
                f"| {_fmt(s)} | node {_fmt(n)} ({s / n:.2f}×) | {met} |" if s and n else
                f"| cluster: deliveries per node-CPU-second ≥ 5 × Node's | {_fmt(s)} | node — | — |")
    met = "yes" if s is not None and single and s >= 0.7 * single else ("no" if single else "—")
    shown = f"single node {_fmt(single)} ({s / single:.2f}×)" if s and single else "single node —"
    rows.append(f"| cluster: deliveries per node-CPU-second ≥ 0.7 × sockio's single-node "
                f"deliveries per server-CPU-second (fanout) | {_fmt(s)} | {shown} | {met} |")
    return rows


METRICS = [
    ("deliveries_per_sec", "deliveries/s (all nodes)"),
    ("cluster.deliveries_per_node_cpu_sec", "deliveries per node-CPU-second"),
    ("cluster.node_cpu_us_per_delivery", "node CPU µs / delivery (3 nodes summed)"),
    ("cluster.nodes.0.cpu_us_per_delivery", "node 1 (the sender's) CPU µs / delivery to its members"),
    ("cluster.nodes.1.cpu_us_per_delivery", "node 2 CPU µs / delivery to its members"),
    ("cluster.nodes.2.cpu_us_per_delivery", "node 3 CPU µs / delivery to its members"),
    ("cluster.redis_cpu_us_per_broadcast", "redis-server CPU µs / broadcast"),
    ("cluster.redis_cpu_util", "redis-server CPU utilisation"),
    ("latency_us.p50", "latency p50 µs"),
    ("latency_us.p99", "latency p99 µs"),
    ("drops", "drops"),
    ("clients_extra", "duplicates (clients)"),
    ("bad_frames", "bad frames"),
]


def section(results):
    """The `## cluster` table, or nothing without cluster results."""
    cluster = results.get("cluster")
    if not cluster:
        return
    servers = [s for s in ("sockio", "node") if s in cluster]
    print("## cluster\n")
    print("Three nodes of one server kind on loopback ports, one `redis-server`; 1 000 members of")
    print("room `bench` spread evenly over the nodes, the sender on node 1, so two thirds of every")
    print("broadcast reach their members through Redis (sockio: `sockio-redis`, classic adapter;")
    print("Node: socket.io 4.8 with `@socket.io/redis-adapter` 8.3 and node-redis 4.7). The nodes")
    print("share the servers' CPU, redis-server runs beside the load generator; 5 000 broadcasts,")
    print("at most 32 outstanding. Every member must receive every message exactly once. CPU time")
    print("of the nodes and of Redis: the scheduler's, per thread, in ns (`/proc/PID/task/*/schedstat`).\n")
    print("| metric | " + " | ".join(servers) + " |")
    print("| --- |" + " --- |" * len(servers))
    for key, label in METRICS:
        cells = [_fmt(med(cluster[s], key)) for s in servers]
        print(f"| {label} | " + " | ".join(cells) + " |")
    single = single_node_per_core(results.get("fanout", {}).get("sockio", []))
    if single:
        print(f"| sockio single node (fanout): deliveries per server-CPU-second | {_fmt(single)} |"
              + " |" * (len(servers) - 1))
    print()
