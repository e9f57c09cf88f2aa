#!/usr/bin/env python3
"""Turns a directory of load-generator results (<scenario>.<server>.<run>.json) into the
BENCHMARKS.md report (stdout) and bench/chart.svg: medians of the runs, every server side
by side, ratios to the ceiling, the targets of issue 5, and the machine it ran on."""

import glob
import json
import os
import platform
import statistics
import subprocess
import sys

import report_cluster

SERVERS = ["ceiling", "bare", "sockio", "socketioxide", "node", "sockio-client", "node-client"]


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return ""


def load(directory):
    results = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        name = os.path.basename(path)[: -len(".json")]
        try:
            scenario, server, _run = name.rsplit(".", 2)
            with open(path) as f:
                data = json.load(f)
        except (ValueError, OSError):
            continue
        results.setdefault(scenario, {}).setdefault(server, []).append(data)
    return results


def get(d, key):
    cur = d
    for part in key.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur if isinstance(cur, (int, float)) else None


def median(runs, key):
    values = [v for v in (get(r, key) for r in runs) if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=2):
    if v is None:
        return "—"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}f}"


def ratio(v, base):
    if v is None or not base:
        return "—"
    return f"{v / base:.2f}×"


# scenario -> [(key, label, higher_is_better)]
TABLES = {
    "connect": [
        ("connects_per_sec", "connects/s", True),
        ("server_cpu_us_per_connect", "server CPU µs / connect", False),
        ("server_rss_kib_per_conn", "RSS KiB / idle connection", False),
        ("connect_errors", "connect errors", None),
    ],
    "fanout": [
        ("deliveries_per_sec", "deliveries/s", True),
        ("server_cpu_us_per_delivery", "server CPU µs / delivery", False),
        ("server_send_calls.per_1k_deliveries", "send calls / 1 000 deliveries", False),
        ("latency_us.p50", "latency p50 µs", False),
        ("latency_us.p99", "latency p99 µs", False),
        ("drops", "drops", None),
        ("clients_extra", "duplicates (clients)", None),
        ("bad_frames", "bad frames", None),
    ],
    "fanout-slow": [
        ("deliveries_per_sec", "deliveries/s", True),
        ("server_cpu_us_per_delivery", "server CPU µs / delivery", False),
        ("server_send_calls.per_1k_deliveries", "send calls / 1 000 deliveries", False),
        ("latency_us.p50", "latency p50 µs", False),
        ("latency_us.p99", "latency p99 µs", False),
        ("drops", "drops", None),
        ("clients_extra", "duplicates (clients)", None),
        ("bad_frames", "bad frames", None),
    ],
    "fanout-10k": [
        ("deliveries_per_sec", "deliveries/s", True),
        ("server_cpu_us_per_delivery", "server CPU µs / delivery", False),
        ("latency_us.p50", "latency p50 µs", False),
        ("latency_us.p99", "latency p99 µs", False),
        ("drops", "drops", None),
        ("clients_extra", "duplicates (clients)", None),
    ],
    "fanout-burst": [
        ("drops", "drops", None),
        ("disconnects", "disconnects", None),
        ("server_peak_rss_kib", "peak RSS KiB", False),
        ("duration_secs", "duration s", False),
        ("deliveries_per_sec", "deliveries/s", True),
    ],
    "echo": [
        ("acks_per_sec", "acks/s", True),
        ("server_cpu_us_per_ack", "server CPU µs / ack", False),
        ("errors", "errors", None),
    ],
    "clients-1000": [
        ("rss_kib_per_client", "client process RSS KiB / connected client", False),
        ("acks_per_cpu_sec", "acks / client CPU-second", True),
        ("connected", "clients connected", None),
    ],
    "clients-10000": [
        ("rss_kib_per_client", "client process RSS KiB / connected client", False),
        ("acks_per_cpu_sec", "acks / client CPU-second", True),
        ("connected", "clients connected", None),
    ],
    "echo-latency": [
        ("latency_us.p50", "round trip p50 µs", False),
        ("latency_us.p99", "round trip p99 µs", False),
        ("errors", "errors", None),
    ],
}

# (scenario, key, description, test(sockio, ceiling) -> bool)
TARGETS = [
    ("fanout", "deliveries_per_sec", "fanout 1 000 × 1 000 deliveries/s ≥ 0.85 × ceiling",
     lambda s, c: s is not None and c and s >= 0.85 * c),
    ("fanout-10k", "deliveries_per_sec", "fanout-10k deliveries/s ≥ 0.80 × ceiling",
     lambda s, c: s is not None and c and s >= 0.80 * c),
    ("connect", "server_rss_kib_per_conn", "RSS per idle WebSocket connection ≤ 10 KiB",
     lambda s, c: s is not None and s <= 10),
    ("connect", "server_cpu_us_per_connect", "server CPU per connect ≤ 1.2 × ceiling",
     lambda s, c: s is not None and c and s <= 1.2 * c),
    ("echo", "server_cpu_us_per_ack", "server CPU per echo ack ≤ 1.1 × ceiling",
     lambda s, c: s is not None and c and s <= 1.1 * c),
]
# Fan-out when receivers are slower than the server: both fan-out scenarios.
for _scenario in ("fanout", "fanout-slow"):
    TARGETS += [
        (_scenario, "server_send_calls.per_1k_deliveries", f"{_scenario}: send calls per delivery ≤ 1.0 × ceiling",
         lambda s, c: s is not None and c and s <= 1.0 * c),
        (_scenario, "server_cpu_us_per_delivery", f"{_scenario}: server CPU per delivery ≤ 1.0 × ceiling",
         lambda s, c: s is not None and c and s <= 1.0 * c),
        (_scenario, "latency_us.p99", f"{_scenario}: latency p99 ≤ 1.1 × ceiling",
         lambda s, c: s is not None and c and s <= 1.1 * c),
    ]


def machine():
    cpu = sh("lscpu | sed -n 's/^Model name: *//p'") or platform.processor()
    mem_gib = sh("free -g | awk '/Mem:/{print $2}'")
    return [
        f"- CPU: {cpu}, {os.cpu_count()} cores; server pinned to CPU 1, load generator to CPU 0 (`taskset`)",
        f"- Memory: {mem_gib} GiB; kernel {platform.release()}",
        f"- {sh('rustc --version')}; Node {sh('node --version')}",
        f"- Date: {sh('date -u +%Y-%m-%dT%H:%MZ')}",
    ]


def chart(results, path):
    """Grouped bars: throughput of each server as a fraction of the ceiling."""
    groups = [("fanout", "deliveries_per_sec", "fanout 1k"),
              ("fanout-10k", "deliveries_per_sec", "fanout 10k"),
              ("echo", "acks_per_sec", "echo 100")]
    colors = {"ceiling": "#888888", "sockio": "#d9480f", "socketioxide": "#1c7ed6", "node": "#2b8a3e"}
    width, bar_h, gap = 760, 16, 14
    rows = []
    for scenario, key, label in groups:
        runs = results.get(scenario, {})
        base = median(runs.get("ceiling", []), key)
        for server in SERVERS:
            v = median(runs.get(server, []), key)
            if v is not None and base:
                rows.append((label, server, v / base, v))
    height = 40 + len(rows) * (bar_h + 4) + len(groups) * gap
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<text x="10" y="20" font-size="14">Throughput as a fraction of the raw tokio-tungstenite ceiling (median of runs)</text>']
    y = 36
    last = None
    scale = 420
    for label, server, frac, value in rows:
        if label != last:
            y += gap
            out.append(f'<text x="10" y="{y + 12}" font-weight="bold">{label}</text>')
            last = label
        w = max(1, int(min(frac, 1.5) * scale))
        out.append(f'<text x="100" y="{y + 12}">{server}</text>')
        out.append(f'<rect x="200" y="{y}" width="{w}" height="{bar_h}" fill="{colors.get(server, "#555")}"/>')
        out.append(f'<text x="{205 + w}" y="{y + 12}">{frac:.2f}× ({value:,.0f}/s)</text>')
        y += bar_h + 4
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    directory = sys.argv[1]
    results = load(directory)
    here = os.path.dirname(os.path.abspath(__file__))
    chart(results, os.path.join(here, "chart.svg"))
    print("# Benchmarks\n")
    print("Produced by `bench/run.sh` (one command: builds every server from its registry, runs each")
    print("scenario against sockio, socket.io 4.8 on Node, socketioxide 0.18, a raw tokio-tungstenite")
    print("ceiling and a bare ceiling (no WebSocket library: broadcast frames built once and shared, one")
    print("vectored write of everything queued per socket — the limit of this machine's kernel path) in")
    print("the same run, 3 runs each, medians), with `bench/report.py`. The load generator")
    print("(`bench/loadgen`) checks every delivery and every echo on every run; send system calls are")
    print("counted with `perf stat` on the server's syscall tracepoints. Every server answers the same")
    print("events (`join`, `broadcast`, `echo` in `/`; sockio's is `bench/server`).\n")
    print("## Machine\n")
    print("\n".join(machine()))
    runs_seen = max((len(v) for s in results.values() for v in s.values()), default=0)
    print(f"- Runs per cell: {runs_seen} (medians shown); raw JSON: `{directory}`\n")
    print("![throughput relative to the ceiling](bench/chart.svg)\n")
    print("## Targets (sockio)\n")
    print("| target | sockio | ceiling | met |")
    print("| --- | --- | --- | --- |")
    for scenario, key, text, test in TARGETS:
        runs = results.get(scenario, {})
        s = median(runs.get("sockio", []), key)
        c = median(runs.get("ceiling", []), key)
        met = "yes" if test(s, c) else ("no" if s is not None else "—")
        print(f"| {text} | {fmt(s)} | {fmt(c)} | {met} |")
    for scenario in ("fanout", "fanout-slow"):
        runs = results.get(scenario, {})
        s = median(runs.get("sockio", []), "server_cpu_us_per_delivery")
        b = median(runs.get("bare", []), "server_cpu_us_per_delivery")
        if s is not None and b:
            print(f"| {scenario}: distance to the bare ceiling (CPU per delivery, stated) | {fmt(s)} µs | bare {fmt(b)} µs | {s / b:.2f}× |")
    for scenario in ("clients-1000", "clients-10000"):
        runs = results.get(scenario, {})
        ours, node = runs.get("sockio-client", []), runs.get("node-client", [])
        if ours and node:
            m, mn = median(ours, "rss_kib_per_client"), median(node, "rss_kib_per_client")
            a, an = median(ours, "acks_per_cpu_sec"), median(node, "acks_per_cpu_sec")
            ok = m is not None and mn and m <= mn / 4
            print(f"| {scenario}: client memory per client ≤ ¼ of socket.io-client's | {fmt(m)} KiB | node {fmt(mn)} KiB | {'yes' if ok else 'no'} |")
            ok = a is not None and an and a >= 3 * an
            print(f"| {scenario}: acks per client CPU-second ≥ 3 × socket.io-client's | {fmt(a)} | node {fmt(an)} | {'yes' if ok else 'no'} |")
    burst = results.get("fanout-burst", {}).get("sockio", [])
    if burst:
        d, x, p = (median(burst, k) for k in ("drops", "disconnects", "server_peak_rss_kib"))
        ok = d == 0 and x == 0 and p is not None and p <= 100 * 1024
        print(f"| fanout-burst: 0 drops, 0 disconnects, peak RSS ≤ 100 MiB | {fmt(d, 0)} drops, {fmt(x, 0)} disconnects, {fmt(p / 1024 if p else None)} MiB | — | {'yes' if ok else 'no'} |")
    for row in report_cluster.target_rows(results):
        print(row)
    print()
    for scenario, metrics in TABLES.items():
        runs = results.get(scenario)
        if not runs:
            continue
        print(f"## {scenario}\n")
        servers = [s for s in SERVERS if s in runs]
        print("| metric | " + " | ".join(servers) + " |")
        print("| --- |" + " --- |" * len(servers))
        # Servers are compared with the ceiling; clients with socket.io-client on Node.
        reference = "node-client" if scenario.startswith("clients") else "ceiling"
        for key, label, _better in metrics:
            base = median(runs.get(reference, []), key)
            cells = []
            for server in servers:
                v = median(runs[server], key)
                cell = fmt(v)
                if base and v is not None and server != reference and _better is not None:
                    cell += f" ({ratio(v, base)})"
                cells.append(cell)
            print(f"| {label} | " + " | ".join(cells) + " |")
        print()
    # Load held (issue 14): held-19k, polling-broadcast, connect-default.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import report_held
    report_held.main(results, median, fmt, ratio)
    report_cluster.section(results)


def latest_soak(directory):
    """The soak result next to the matrix (`DIR/soak/`, bench/run.sh --soak) or else the
    one beside the committed plot (`bench/soak.json`, written with `bench/soak.svg` by
    every soak run)."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.path.join(directory, "soak", "summary.json"), os.path.join(here, "soak.json")]
    for path in candidates:
        try:
            with open(path) as f:
                return path, json.load(f)
        except (OSError, ValueError):
            continue
    return None, None


def soak(directory):
    """The churn soak's section (issue 14): figures, checks, the plot bench/soak.svg."""
    path, s = latest_soak(directory)
    print("## Churn soak\n")
    print("`cargo run --release -p sockio-soak -- --minutes N [--clients 2000]` (or `bench/run.sh --soak N`):")
    print("thousands of sockio clients join and leave rooms, emit with acknowledgements, broadcast,")
    print("disconnect, get disconnected, reconnect and vanish without a word, against a sockio server in a")
    print("process of its own sampled every second; then the timeouts pass and it checks that sessions,")
    print("sockets, rooms and tasks are back to zero, the heap back near its baseline, and that every")
    print("acknowledged message reached the server exactly once. See `bench/soak/README.md`.\n")
    if s is None:
        print("No soak result yet.\n")
        return
    g = lambda *keys: get(s, ".".join(keys))
    mib = lambda v: fmt(v / 1024 if v is not None else None, 1)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    shown = os.path.relpath(path, root) if os.path.abspath(path).startswith(root + os.sep) else path
    print(f"Result: `{shown}` — {s.get('clients')} clients for {s.get('minutes')} min; "
          f"**{'every check passed' if s.get('pass') else 'a check FAILED'}**.\n")
    print("![server RSS, heap, tasks and sessions during the soak](bench/soak.svg)\n")
    print("| figure | value |")
    print("| --- | --- |")
    connections = sum(v for v in (g("connects"), g("reconnects"), g("ghosts")) if v is not None)
    print(f"| connections (new / reconnected / vanished) | {fmt(connections, 0)} ({fmt(g('connects'), 0)} / {fmt(g('reconnects'), 0)} / {fmt(g('ghosts'), 0)}) |")
    print(f"| acknowledged messages; received twice; acked but missing | {fmt(g('acks'), 0)}; {fmt(g('dups'), 0)}; {fmt(g('missing'), 0)} |")
    print(f"| room broadcasts received by clients | {fmt(g('relays'), 0)} |")
    print(f"| server RSS: idle / peak / after the drain / after malloc_trim | {mib(g('rss_kib', 'start'))} / {mib(g('rss_kib', 'peak'))} / {mib(g('rss_kib', 'end'))} / {mib(g('rss_kib', 'end_trimmed'))} MiB |")
    print(f"| server heap in use: idle / peak / after (growth without the ledger) | {mib(g('heap_kib', 'start'))} / {mib(g('heap_kib', 'peak'))} / {mib(g('heap_kib', 'end'))} MiB ({fmt(g('heap_kib', 'growth_without_ledger'), 0)} KiB) |")
    print(f"| tasks: idle / peak / after | {fmt(g('tasks', 'start'), 0)} / {fmt(g('tasks', 'peak'), 0)} / {fmt(g('tasks', 'end'), 0)} |")
    print(f"| sessions: peak / after; sockets: peak / after | {fmt(g('sessions', 'peak'), 0)} / {fmt(g('sessions', 'end'), 0)}; {fmt(g('sockets', 'peak'), 0)} / {fmt(g('sockets', 'end'), 0)} |")
    print(f"| back to zero after the clients left | {fmt(g('drain_secs'), 1)} s |")
    print(f"| server CPU during the churn | {fmt(g('server_cpu_pct_mean_churn'), 0)} % of a core |")
    failed = [c["check"] for c in s.get("checks", []) if not c.get("pass")]
    if failed:
        print(f"| failed checks | {', '.join(failed)} |")
    print()


def notes():
    """The hand-written analysis kept beside the script (what bounds the targets not met)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md")
    if os.path.exists(path):
        with open(path) as f:
            print(f.read().rstrip())


if __name__ == "__main__":
    main()
    soak(sys.argv[1])
    notes()
