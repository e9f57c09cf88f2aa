//! `sockio-soak`: the churn soak of issue 14, bounded and on loopback only.
//!
//! ```text
//! cargo run --release -p sockio-soak -- --minutes 3 [--clients 2000] [--ping-ms 2000]
//!     [--out DIR] [--svg PATH]
//! ```
//!
//! Starts the server under test as a process of its own (this binary, `serve`: see
//! `server.rs`) on 127.0.0.1 and a free port, then runs `--clients` client lives in this
//! process for `--minutes`. Each life loops over rounds: connect (a new sockio client,
//! or the previous round's socket reconnecting), join two of 64 rooms and leave one, emit
//! five messages with acknowledgements, broadcast a binary message to a room, stay a
//! while (heartbeats, the room's broadcasts), then leave: disconnect, be disconnected by
//! the server, disconnect to reconnect next round, or — every eighth round — vanish as a
//! raw WebSocket that stops reading and answering pings (the server's ping timeout finds
//! it). One client in four starts on HTTP long-polling and upgrades; the others use
//! WebSocket only.
//!
//! Every second the driver samples the server: RSS (/proc), heap in use (the server's
//! counting allocator), tasks, sessions, sockets, rooms, pending acks, CPU. After the
//! clients are gone it waits for the timeouts and checks: sessions, sockets and rooms
//! back to zero, tasks back to their idle count, heap back near its baseline, every
//! acknowledged message received by the server exactly once (none twice at all). The
//! series goes to `DIR/soak.csv`, the figures and checks to `DIR/summary.json`
//! (default `DIR`: `target/bench-results/soak-<time>/`), the plot to `--svg` (default
//! `bench/soak.svg`) and the summary beside it (`bench/soak.json`). Exit status 1 when a
//! check fails.

mod ghost;
mod plot;
mod server;

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sockio_client::{args, Bytes, ClientBuilder, Socket, TransportKind};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, ChildStdout};

#[global_allocator]
static ALLOCATOR: server::Counting = server::Counting;

const ROOMS: u64 = 64;
const MESSAGES_PER_ROUND: u64 = 5;
const GHOST_MESSAGES: u64 = 3;
const WAIT: Duration = Duration::from_secs(10);

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn num<T: std::str::FromStr>(name: &str, default: T) -> T {
    arg(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Raises the open-file soft limit to the hard one (thousands of connections on both
/// sides; the server inherits it).
fn raise_fd_limit() {
    #[repr(C)]
    struct Rlimit {
        cur: u64,
        max: u64,
    }
    extern "C" {
        fn getrlimit(resource: i32, rlim: *mut Rlimit) -> i32;
        fn setrlimit(resource: i32, rlim: *const Rlimit) -> i32;
    }
    const RLIMIT_NOFILE: i32 = 7;
    let mut r = Rlimit { cur: 0, max: 0 };
    // SAFETY: plain libc calls on a struct of the layout they expect (64-bit Linux).
    unsafe {
        if getrlimit(RLIMIT_NOFILE, &mut r) == 0 {
            r.cur = r.max;
            setrlimit(RLIMIT_NOFILE, &r);
        }
    }
}

/// A small xorshift: the soak's choices need no quality, only variety.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// What the clients did, counted as they go.
#[derive(Default)]
struct Counters {
    connects: AtomicU64,
    reconnects: AtomicU64,
    connect_errors: AtomicU64,
    ghosts: AtomicU64,
    ghost_errors: AtomicU64,
    kicks: AtomicU64,
    acks: AtomicU64,
    ack_failures: AtomicU64,
    shouts: AtomicU64,
    relays: AtomicU64,
    connected: AtomicU64,
}

fn set_bit(bits: &mut Vec<u64>, seq: u64) {
    let word = (seq / 64) as usize;
    if word >= bits.len() {
        bits.resize(word + 1, 0);
    }
    bits[word] |= 1 << (seq % 64);
}

/// One client's life until `end`; returns the bits of its acknowledged messages.
async fn client(tag: usize, port: u16, end: Instant, hold: Duration, c: Arc<Counters>) -> Vec<u64> {
    let url = format!("http://127.0.0.1:{port}/");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (tag as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let mut acked = Vec::new();
    let mut seq = 0u64;
    let mut kept: Option<Socket> = None;
    // Staggered start: the clients arrive over two seconds.
    tokio::time::sleep(Duration::from_millis(rng.below(2000))).await;
    let mut round = 0u64;
    while Instant::now() < end {
        let mode = round % 4;
        round += 1;
        if mode == 3 && tag.is_multiple_of(2) {
            c.ghosts.fetch_add(1, Ordering::Relaxed);
            match ghost::ghost(port, tag, seq, GHOST_MESSAGES, hold).await {
                Ok(done) => {
                    c.acks.fetch_add(done.len() as u64, Ordering::Relaxed);
                    for s in done {
                        set_bit(&mut acked, s);
                    }
                }
                Err(_) => {
                    c.ghost_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            seq += GHOST_MESSAGES;
            continue;
        }
        let socket = match kept.take() {
            Some(s) => match tokio::time::timeout(WAIT, s.connect_and_wait()).await {
                Ok(Ok(())) => {
                    c.reconnects.fetch_add(1, Ordering::Relaxed);
                    s
                }
                _ => {
                    c.connect_errors.fetch_add(1, Ordering::Relaxed);
                    s.disconnect();
                    continue;
                }
            },
            None => {
                let relays = c.clone();
                let transports = if tag.is_multiple_of(4) {
                    vec![TransportKind::Polling, TransportKind::WebSocket]
                } else {
                    vec![TransportKind::WebSocket]
                };
                let connecting = ClientBuilder::new(&url)
                    .force_new(true)
                    .transports(transports)
                    .reconnection(false)
                    .on("relay", move |_| {
                        relays.relays.fetch_add(1, Ordering::Relaxed);
                    })
                    .connect();
                match tokio::time::timeout(WAIT, connecting).await {
                    Ok(Ok(s)) => {
                        c.connects.fetch_add(1, Ordering::Relaxed);
                        s
                    }
                    _ => {
                        c.connect_errors.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue;
                    }
                }
            }
        };
        c.connected.fetch_add(1, Ordering::Relaxed);
        let room = |n: u64| format!("room-{n}");
        let (a, b, l) = (rng.below(ROOMS), rng.below(ROOMS), rng.below(ROOMS));
        let _ = socket
            .timeout(WAIT)
            .emit_with_ack("rooms", args![vec![room(a), room(b)], vec![room(l)]])
            .await;
        for _ in 0..MESSAGES_PER_ROUND {
            let s = seq;
            seq += 1;
            match socket
                .timeout(WAIT)
                .emit_with_ack("msg", args![tag, s])
                .await
            {
                Ok(answer) if answer.first().and_then(|v| v.as_u64()) == Some(s) => {
                    set_bit(&mut acked, s);
                    c.acks.fetch_add(1, Ordering::Relaxed);
                }
                _ => {
                    c.ack_failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if socket
            .emit("shout", args![room(a), Bytes::from_static(&[7u8; 64])])
            .is_ok()
        {
            c.shouts.fetch_add(1, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(500 + rng.below(2000))).await;
        match mode {
            1 => {
                // The server disconnects the socket.
                let _ = socket.timeout(WAIT).emit_with_ack("kick", ()).await;
                c.kicks.fetch_add(1, Ordering::Relaxed);
                socket.disconnect();
            }
            2 => {
                // Leaves, to reconnect the same socket next round.
                socket.disconnect();
                kept = Some(socket);
            }
            _ => socket.disconnect(),
        }
        c.connected.fetch_sub(1, Ordering::Relaxed);
    }
    if let Some(s) = kept {
        s.disconnect();
    }
    acked
}

/// The server's stdin and stdout: one command, one JSON line back.
struct Control {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Control {
    async fn ask(&mut self, command: &str) -> serde_json::Value {
        if self
            .stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .is_err()
        {
            return serde_json::Value::Null;
        }
        let _ = self.stdin.flush().await;
        let mut line = String::new();
        match self.stdout.read_line(&mut line).await {
            Ok(n) if n > 0 => serde_json::from_str(&line).unwrap_or(serde_json::Value::Null),
            _ => serde_json::Value::Null,
        }
    }
}

/// A field of /proc/PID/status, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// User + system CPU ticks of PID.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

const PHASES: [&str; 4] = ["idle", "churn", "drain", "after"];

/// One sample of the series.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Seconds since the server started.
    pub t: f64,
    /// Index into [`PHASES`].
    pub phase: u8,
    /// Server RSS.
    pub rss_kib: u64,
    /// Server heap in use (its counting allocator).
    pub heap_kib: u64,
    /// The ledger's share of the heap.
    pub ledger_kib: u64,
    /// Tasks the server's engine runs.
    pub tasks: u64,
    /// Open Engine.IO sessions.
    pub sessions: u64,
    /// Connected Socket.IO sockets.
    pub sockets: u64,
    /// Rooms (each socket's own included).
    pub rooms: u64,
    /// Acknowledgements the server waits for.
    pub acks_pending: u64,
    /// Server CPU over the last interval, % of one core.
    pub cpu_pct: f64,
    /// Client counters, cumulative.
    pub connects: u64,
    /// Acks the clients received, cumulative.
    pub acks: u64,
    /// Room broadcasts the clients received, cumulative.
    pub relays: u64,
}

fn field(v: &serde_json::Value, k: &str) -> u64 {
    v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0)
}

fn main() {
    raise_fd_limit();
    if std::env::args().nth(1).as_deref() == Some("serve") {
        server::serve(num("--ping-ms", 2000));
        return;
    }
    let minutes: f64 = num("--minutes", 1.0);
    let clients: usize = num("--clients", 2000);
    let ping_ms: u64 = num("--ping-ms", 2000);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let stamp = std::process::Command::new("date")
        .args(["-u", "+%Y%m%dT%H%M%SZ"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "now".into());
    let out = arg("--out")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join(format!("target/bench-results/soak-{stamp}")));
    let svg = arg("--svg")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("bench/soak.svg"));
    std::fs::create_dir_all(&out).expect("results folder");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ok = runtime.block_on(run(minutes, clients, ping_ms, &out, &svg));
    runtime.shutdown_timeout(Duration::from_secs(2));
    std::process::exit(if ok { 0 } else { 1 });
}

async fn run(
    minutes: f64,
    clients: usize,
    ping_ms: u64,
    out: &std::path::Path,
    svg: &std::path::Path,
) -> bool {
    let exe = std::env::current_exe().expect("own executable");
    let mut child = tokio::process::Command::new(exe)
        .args(["serve", "--ping-ms", &ping_ms.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the server");
    let pid = child.id().expect("server pid");
    let mut control = Control {
        stdin: child.stdin.take().expect("server stdin"),
        stdout: BufReader::new(child.stdout.take().expect("server stdout")),
    };
    let mut first = String::new();
    let _ = control.stdout.read_line(&mut first).await;
    let port = serde_json::from_str::<serde_json::Value>(&first)
        .ok()
        .and_then(|v| v.get("port").and_then(serde_json::Value::as_u64))
        .expect("the server's port") as u16;
    eprintln!(
        "soak: server pid {pid} on 127.0.0.1:{port}; {clients} clients for {minutes} min, pings every {ping_ms} ms"
    );

    let started = Instant::now();
    let phase = Arc::new(AtomicU8::new(0));
    let counters = Arc::new(Counters::default());
    let mut samples: Vec<Sample> = Vec::new();
    let mut last_cpu = (Instant::now(), cpu_ticks(pid));
    let mut sample = |control_stats: serde_json::Value, phase: u8, samples: &mut Vec<Sample>| {
        let now = Instant::now();
        let ticks = cpu_ticks(pid);
        let cpu_pct = (ticks.saturating_sub(last_cpu.1)) as f64
            / 100.0
            / now.duration_since(last_cpu.0).as_secs_f64().max(1e-3)
            * 100.0;
        last_cpu = (now, ticks);
        let s = Sample {
            t: started.elapsed().as_secs_f64(),
            phase,
            rss_kib: status_kib(pid, "VmRSS:"),
            heap_kib: field(&control_stats, "heap_bytes") / 1024,
            ledger_kib: field(&control_stats, "ledger_bytes") / 1024,
            tasks: field(&control_stats, "tasks"),
            sessions: field(&control_stats, "sessions"),
            sockets: field(&control_stats, "sockets"),
            rooms: field(&control_stats, "rooms"),
            acks_pending: field(&control_stats, "acks_pending"),
            cpu_pct,
            connects: counters.connects.load(Ordering::Relaxed)
                + counters.reconnects.load(Ordering::Relaxed)
                + counters.ghosts.load(Ordering::Relaxed),
            acks: counters.acks.load(Ordering::Relaxed),
            relays: counters.relays.load(Ordering::Relaxed),
        };
        samples.push(s);
    };

    // Idle: the baseline.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let st = control.ask("stats").await;
        sample(st, 0, &mut samples);
    }
    let baseline = samples.last().cloned().expect("a baseline sample");

    // Churn.
    phase.store(1, Ordering::Relaxed);
    let end = Instant::now() + Duration::from_secs_f64(minutes * 60.0);
    let hold = Duration::from_millis(2 * ping_ms + 1000);
    let tasks: Vec<_> = (0..clients)
        .map(|tag| tokio::spawn(client(tag, port, end, hold, counters.clone())))
        .collect();
    let all_done = tokio::spawn(async move {
        let mut acked = Vec::with_capacity(tasks.len());
        for t in tasks {
            acked.push(t.await.unwrap_or_default());
        }
        acked
    });
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut last_report = Instant::now();
    while !all_done.is_finished() {
        tick.tick().await;
        let p = if Instant::now() < end { 1 } else { 2 };
        let st = control.ask("stats").await;
        sample(st, p, &mut samples);
        if last_report.elapsed() >= Duration::from_secs(15) {
            last_report = Instant::now();
            let s = samples.last().expect("a sample");
            eprintln!(
                "soak: t={:.0}s {} rss {} KiB heap {} KiB tasks {} sessions {} sockets {} connected {} acks {} relays {}",
                s.t, PHASES[p as usize], s.rss_kib, s.heap_kib, s.tasks, s.sessions, s.sockets,
                counters.connected.load(Ordering::Relaxed), s.acks, s.relays
            );
        }
    }
    let acked = all_done.await.unwrap_or_default();
    let churn_end = samples
        .iter()
        .rev()
        .find(|s| s.phase == 1)
        .map(|s| s.t)
        .unwrap_or(0.0);

    // Drain: the clients are gone; the timeouts pass.
    let drain_limit = Instant::now() + Duration::from_millis(4 * ping_ms) + Duration::from_secs(30);
    loop {
        tick.tick().await;
        let st = control.ask("stats").await;
        sample(st, 2, &mut samples);
        let s = samples.last().expect("a sample");
        let clean = s.sessions == 0 && s.sockets == 0 && s.rooms == 0 && s.tasks <= baseline.tasks;
        if clean || Instant::now() > drain_limit {
            break;
        }
    }
    let drained = samples.last().cloned().expect("a sample");
    // After: idle again for a few seconds, then the allocator asked to give back.
    for _ in 0..5 {
        tick.tick().await;
        let st = control.ask("stats").await;
        sample(st, 3, &mut samples);
    }
    let after = samples.last().cloned().expect("a sample");
    let _ = control.ask("trim").await;
    tick.tick().await;
    let st = control.ask("stats").await;
    sample(st, 3, &mut samples);
    let trimmed = samples.last().cloned().expect("a sample");

    // Exactly once: every acknowledged message is in the server's ledger, none twice.
    let ledger = control.ask("ledger").await;
    let tags = ledger.as_array().cloned().unwrap_or_default();
    let mut missing = 0u64;
    let mut acked_total = 0u64;
    for (tag, bits) in acked.iter().enumerate() {
        let server_bits: Vec<u64> = tags
            .get(tag)
            .and_then(|t| t.get("bits"))
            .and_then(serde_json::Value::as_array)
            .map(|a| a.iter().map(|w| w.as_u64().unwrap_or(0)).collect())
            .unwrap_or_default();
        for (i, word) in bits.iter().enumerate() {
            acked_total += u64::from(word.count_ones());
            let have = server_bits.get(i).copied().unwrap_or(0);
            missing += u64::from((word & !have).count_ones());
        }
    }
    let dups: u64 = tags.iter().map(|t| field(t, "dups")).sum();
    let received: u64 = tags.iter().map(|t| field(t, "received")).sum();

    drop(control);
    let _ = child.kill().await;

    let peak = |f: fn(&Sample) -> u64| samples.iter().map(f).max().unwrap_or(0);
    let heap_growth_kib = (after.heap_kib.saturating_sub(after.ledger_kib)) as i64
        - (baseline.heap_kib.saturating_sub(baseline.ledger_kib)) as i64;
    let heap_slack_kib = 1024 + peak(|s| s.sessions) as i64;
    let checks = [
        ("sessions back to 0", drained.sessions == 0),
        ("sockets back to 0", drained.sockets == 0),
        ("rooms back to 0", drained.rooms == 0),
        ("tasks back to idle", drained.tasks <= baseline.tasks),
        // The heap (the ledger's own bits left out) near where it started: 1 MiB, plus
        // 1 KiB per session of the peak for what grown tables keep as capacity (bounded
        // by how many were open at once, not by how many came and went: a leak of even
        // 100 bytes per connection over 100 000 connections is 10 MiB).
        ("heap back near baseline", heap_growth_kib <= heap_slack_kib),
        ("every acked message received", missing == 0),
        ("no message received twice", dups == 0),
        ("clients did work", acked_total > 0),
    ];
    let ok = checks.iter().all(|(_, pass)| *pass);
    let churn_cpu: Vec<f64> = samples
        .iter()
        .filter(|s| s.phase == 1)
        .map(|s| s.cpu_pct)
        .collect();
    let cpu_churn = churn_cpu.iter().sum::<f64>() / churn_cpu.len().max(1) as f64;
    let c = &counters;
    let summary = serde_json::json!({
        "minutes": minutes,
        "clients": clients,
        "ping_ms": ping_ms,
        "duration_secs": samples.last().map(|s| s.t).unwrap_or(0.0),
        "churn_end_secs": churn_end,
        "drain_secs": drained.t - churn_end,
        "connects": c.connects.load(Ordering::Relaxed),
        "reconnects": c.reconnects.load(Ordering::Relaxed),
        "ghosts": c.ghosts.load(Ordering::Relaxed),
        "kicks": c.kicks.load(Ordering::Relaxed),
        "connect_errors": c.connect_errors.load(Ordering::Relaxed),
        "ghost_errors": c.ghost_errors.load(Ordering::Relaxed),
        "acks": acked_total,
        "ack_failures": c.ack_failures.load(Ordering::Relaxed),
        "received": received,
        "received_unacked": received.saturating_sub(acked_total),
        "missing": missing,
        "dups": dups,
        "shouts": c.shouts.load(Ordering::Relaxed),
        "relays": c.relays.load(Ordering::Relaxed),
        "rss_kib": { "start": baseline.rss_kib, "peak": peak(|s| s.rss_kib), "end": after.rss_kib, "end_trimmed": trimmed.rss_kib },
        "heap_kib": { "start": baseline.heap_kib, "peak": peak(|s| s.heap_kib), "end": after.heap_kib, "ledger_end": after.ledger_kib, "growth_without_ledger": heap_growth_kib, "allowed_growth": heap_slack_kib },
        "tasks": { "start": baseline.tasks, "peak": peak(|s| s.tasks), "end": drained.tasks },
        "sessions": { "start": baseline.sessions, "peak": peak(|s| s.sessions), "end": drained.sessions },
        "sockets": { "peak": peak(|s| s.sockets), "end": drained.sockets },
        "server_cpu_pct_mean_churn": cpu_churn,
        "checks": checks.iter().map(|(name, pass)| serde_json::json!({"check": name, "pass": pass})).collect::<Vec<_>>(),
        "pass": ok,
    });

    let mut csv = String::from(
        "t_s,phase,rss_kib,heap_kib,ledger_kib,tasks,sessions,sockets,rooms,acks_pending,server_cpu_pct,connects,acks,relays\n",
    );
    for s in &samples {
        csv.push_str(&format!(
            "{:.1},{},{},{},{},{},{},{},{},{},{:.1},{},{},{}\n",
            s.t,
            PHASES[s.phase as usize],
            s.rss_kib,
            s.heap_kib,
            s.ledger_kib,
            s.tasks,
            s.sessions,
            s.sockets,
            s.rooms,
            s.acks_pending,
            s.cpu_pct,
            s.connects,
            s.acks,
            s.relays
        ));
    }
    let plot = plot::svg(&samples, &summary);
    let _ = std::fs::write(out.join("soak.csv"), csv);
    let _ = std::fs::write(
        out.join("summary.json"),
        serde_json::to_string_pretty(&summary).unwrap_or_default(),
    );
    let _ = std::fs::write(out.join("soak.svg"), &plot);
    let _ = std::fs::write(svg, &plot);
    // Beside the plot, the figures it shows (what bench/report.py reads).
    let _ = std::fs::write(
        svg.with_extension("json"),
        serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n",
    );
    println!(
        "{}",
        serde_json::to_string_pretty(&summary).unwrap_or_default()
    );
    eprintln!(
        "soak: {} — results in {}, plot in {}",
        if ok { "PASS" } else { "FAIL" },
        out.display(),
        svg.display()
    );
    ok
}
