"""The "load held" sections of BENCHMARKS.md (issue 14), used by bench/report.py:
held-19k (idle WebSockets at the machine's limit, and what 1 000 000 would cost on paper),
polling-broadcast (long-polling clients receiving a broadcast every 100 ms) and
connect-default (the default client path: polling, then the WebSocket upgrade)."""

SERVERS = ["sockio", "socketioxide", "node", "ceiling"]
# Column heads; held-19k's `ceiling` is its floor (bench/ceiling's held-ceiling-server).
NAMES = {"ceiling": "floor (held-ceiling-server)"}

TABLES = {
    "held-19k": [
        ("connected", "connections held", None),
        ("server_rss_after_kib", "server RSS KiB (after the idle window)", False),
        ("server_rss_kib_per_conn", "RSS KiB / idle connection", False),
        ("server_idle_cpu_pct", "idle server CPU, % of a core", False),
        ("server_idle_cpu_pct_per_1k", "idle server CPU per 1 000 connections, % of a core", False),
        ("pings_answered", "pings answered in the run", None),
        ("server_cpu_us_per_connect", "server CPU µs / connect", False),
        ("connect_secs", "time to connect all, s", False),
        ("connect_errors", "connect errors", None),
        ("disconnects", "disconnects", None),
    ],
    "polling-broadcast": [
        ("members_joined", "polling clients joined", None),
        ("join_resends", "`join` re-sent, unacknowledged after 2 s (see the note)", None),
        ("deliveries_per_sec", "deliveries/s", True),
        ("server_cpu_us_per_delivery", "server CPU µs / delivery", False),
        ("server_cpu_util", "server CPU, share of a core", False),
        ("deliveries_per_poll", "deliveries / poll response", None),
        ("latency_us.p50", "latency p50 µs", False),
        ("latency_us.p99", "latency p99 µs", False),
        ("drops", "drops", None),
        ("clients_extra", "duplicates (clients)", None),
        ("bad_frames", "bad frames", None),
        ("disconnects", "disconnects", None),
    ],
    "connect-default": [
        ("connected", "connections upgraded", None),
        ("connects_per_sec", "connects/s", True),
        ("server_cpu_us_per_connect", "server CPU µs / connect", False),
        ("server_rss_kib_per_conn", "RSS KiB / connection once upgraded", False),
        ("polling_conns_closed_by_server", "idle polling connections the server closed", None),
        ("connect_errors", "connect errors", None),
        ("disconnects", "disconnects", None),
    ],
}

TITLES = {
    "held-19k": "held-19k: 19 000 idle WebSockets, heartbeats running (default 25 s ping interval)",
    "polling-broadcast": "polling-broadcast: 2 000 long-polling clients, a broadcast every 100 ms",
    "connect-default": "connect-default: 2 000 connections on the default client path (polling, then upgrade)",
}

NOTES = {
    "held-19k": (
        "Opened by 4 load-generator processes (4 750 connections each, the open-file limit is "
        "20 000 per process) from 127.0.0.2–9. KiB per connection = (RSS after the idle window − "
        "RSS before connecting) / connections. Idle CPU is read over one ping interval (25 s) "
        "starting 1 s after the last connection: every connection is pinged once in it. "
        "The floor is bench/ceiling's held-ceiling-server: what an Engine.IO server must do for "
        "an idle connection and nothing else (the upgrade, the open packet, `40` answered, a `2` "
        "25 s after the open and after each pong, a close 20 s after an unanswered ping), on one "
        "thread with one epoll and two first-in-first-out timer lists; what it uses is mostly the "
        "kernel's share of each ping round (the ping's send, loopback delivery included, and the "
        "pong's read)."
    ),
    "polling-broadcast": (
        "Engine.IO v4 polling only: each client keeps one GET outstanding on a keep-alive "
        "HTTP/1.1 connection and POSTs (CONNECT, `join`, pongs) on a second one; a WebSocket "
        "client outside the room sends `broadcast` every 100 ms. CPU per delivery = server CPU "
        "from the first broadcast to the last delivery / deliveries; every delivery is checked. "
        "Each delivery is one HTTP response and the parse of the next GET, served by sockio's "
        "own HTTP/1.1 loop, which answers a session's polling requests straight from the parsed "
        "head (no `http::Request` or header map): about 9 900 user-space instructions per "
        "delivery (callgrind), the broadcast to the sessions included; the rest is the kernel's "
        "(the `sendto` of each response, loopback delivery to the client included; the "
        "`recvfrom` of the GET and the ACK it sends; see bench/notes.md). A server that batches (several messages per poll "
        "response) pays less per delivery, so `deliveries / poll response` is shown. "
        "socketioxide 0.18 sends the CONNECT ack before its (spawned) connect handler has "
        "registered the event handlers, so a `join` sent at once is sometimes dropped; the load "
        "generator sends it again after 2 s."
    ),
    "connect-default": (
        "Each connection: polling handshake, `40` POSTed and its ack polled, a GET left pending, "
        "WebSocket with the sid, `2probe` → `3probe`, the pending GET released, `5`. The polling "
        "connection stays open and idle afterwards, as with socket.io-client (until the server "
        "closes it: Node closes idle keep-alive connections after 5 s). CPU per connect = server "
        "CPU from the first connect to the last upgrade / connections; RSS read after a 2 s hold."
    ),
}


def section(results, scenario, median, fmt, ratio, targets):
    runs = results.get(scenario)
    if not runs:
        return
    servers = [s for s in SERVERS if s in runs]
    print(f"## {TITLES[scenario]}\n")
    print(NOTES[scenario] + "\n")
    names = [NAMES.get(s, s) for s in servers]
    print("| metric | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(servers))
    for key, label, better in TABLES[scenario]:
        base = median(runs.get("node", []), key)
        cells = []
        for server in servers:
            v = median(runs[server], key)
            cell = fmt(v, 4) if key.endswith("per_1k") else fmt(v, 0 if better is None and float(v or 0).is_integer() else 2)
            if base and v is not None and server != "node" and better is not None:
                cell += f" ({ratio(v, base)} Node)"
            cells.append(cell)
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    if targets:
        print("| target | " + " | ".join(names) + " | met? (sockio) |")
        print("| --- |" + " --- |" * len(servers) + " --- |")
        for text, value, test in targets:
            cells = [value(runs, s) for s in servers]
            met = test(runs) if test else None
            met = "—" if met is None else ("yes" if met else "no")
            print(f"| {text} | " + " | ".join(fmt_cell(c, fmt) for c in cells) + f" | {met} |")
        print()


def fmt_cell(c, fmt):
    if isinstance(c, str):
        return c
    return fmt(c, 4) if c is not None and abs(c) < 0.1 else fmt(c)


def main(results, median, fmt, ratio):
    def m(runs, server, key):
        return median(runs.get(server, []), key)

    def at_most(key, bound):
        def test(runs):
            v = m(runs, "sockio", key)
            return None if v is None else v <= bound
        return test

    def vs_floor(runs, server):
        v, f = m(runs, server, "server_idle_cpu_pct_per_1k"), m(runs, "ceiling", "server_idle_cpu_pct_per_1k")
        return "—" if v is None or not f else f"{v / f:.2f}×"

    section(results, "held-19k", median, fmt, ratio, [
        ("RSS per idle connection ≤ 5 KiB",
         lambda r, s: m(r, s, "server_rss_kib_per_conn"), at_most("server_rss_kib_per_conn", 5)),
        ("idle CPU ≤ 0.03 % of a core per 1 000 connections",
         lambda r, s: m(r, s, "server_idle_cpu_pct_per_1k"), at_most("server_idle_cpu_pct_per_1k", 0.03)),
        ("idle CPU against the floor's",
         lambda r, s: vs_floor(r, s), None),
    ])
    million(results.get("held-19k"), median, fmt)

    def third_of_node(runs):
        s, n = m(runs, "sockio", "server_cpu_us_per_delivery"), m(runs, "node", "server_cpu_us_per_delivery")
        if s is None or not n:
            return None
        return s <= n / 3 and m(runs, "sockio", "drops") == 0

    def vs_node(runs, server):
        v, n = m(runs, server, "server_cpu_us_per_delivery"), m(runs, "node", "server_cpu_us_per_delivery")
        return "—" if v is None or not n else f"{v / n:.2f}×"

    section(results, "polling-broadcast", median, fmt, ratio, [
        ("server CPU per delivery ≤ ⅓ of Node's (and 0 drops)", vs_node, third_of_node),
    ])

    def ws_only(server):
        for ref in ("held-19k", "connect"):
            v = median(results.get(ref, {}).get(server, []), "server_rss_kib_per_conn")
            if v is not None:
                return v, ref
        return None, None

    def default_vs_ws(runs, server):
        v = m(runs, server, "server_rss_kib_per_conn")
        w, ref = ws_only(server)
        return "—" if v is None or not w else f"{fmt(v)} / {fmt(w)} ({ref}) = {v / w:.2f}×"

    def default_met(runs):
        v = m(runs, "sockio", "server_rss_kib_per_conn")
        w, _ = ws_only("sockio")
        return None if v is None or not w else v <= 1.2 * w

    section(results, "connect-default", median, fmt, ratio, [
        ("memory per connection, default path ≤ 1.2 × WebSocket only", default_vs_ws, default_met),
    ])


def million(runs, median, fmt):
    """What 1 000 000 idle connections would cost on one node, from the per-connection
    figures of held-19k (on paper)."""
    if not runs:
        return
    servers = [s for s in SERVERS if s in runs]
    print("### 1 000 000 connections on one node, on paper\n")
    print("From the held-19k figures per connection, scaled linearly. Server process memory only: "
          "the kernel's socket buffers (a few KiB per idle TCP socket, twice on loopback) and the "
          "page tables come on top; 1 000 000 descriptors need `ulimit -n` above 1 000 000, and "
          "1 000 000 clients need many source addresses (about 28 000 ephemeral ports each).\n")
    print("| | " + " | ".join(NAMES.get(s, s) for s in servers) + " |")
    print("| --- |" + " --- |" * len(servers))
    kib = {s: median(runs[s], "server_rss_kib_per_conn") for s in servers}
    cpu = {s: median(runs[s], "server_idle_cpu_pct_per_1k") for s in servers}
    row = lambda label, f: print(f"| {label} | " + " | ".join(f(s) for s in servers) + " |")
    row("memory (RSS KiB / connection × 1 000 000)",
        lambda s: "—" if kib[s] is None else f"{kib[s] * 1e6 / 2**20:.1f} GiB")
    row("idle CPU (per-1 000 figure × 1 000)",
        lambda s: "—" if cpu[s] is None else f"{cpu[s] * 1000 / 100:.2f} cores")
    row("pings + pongs per second (25 s interval)", lambda s: "40 000 + 40 000")
    print()
