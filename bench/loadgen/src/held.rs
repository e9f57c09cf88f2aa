//! `held-19k`: N idle WebSocket connections (default 19 000) held with heartbeats running.
//! One process may hold at most its open-file limit (20 000 here, hard), so the
//! connections are opened by several worker processes (this binary again, scenario
//! `held-worker`, at most [`PER_WORKER`] connections each), each from its own loopback
//! source addresses (each address has its own ephemeral port range). Once every worker has
//! its connections up, the server's CPU is read over `--hold` (default 25 s, one ping
//! interval: every connection is pinged once in it) and its RSS at the end.
//!
//! Worker protocol: the worker prints `ready <connected> <failed>` on stdout once its
//! connections are set up, holds them (answering pings) until a line or EOF on stdin, then
//! prints one JSON object (`disconnects`, `pings`, `first_error`) and exits.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};

use crate::client::{Setup, Target};
use crate::stats::round3;
use crate::ws::{Frame, Ws};
use crate::{cpu_json, cpu_per, frames, Config};

/// Most connections one worker process opens (below the 20 000 open-file limit).
pub const PER_WORKER: usize = 4_750;

struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: std::sync::mpsc::Receiver<String>,
}

pub async fn run(cfg: &Config) -> Value {
    let n = cfg.clients;
    let workers = n.div_ceil(PER_WORKER).max(1);
    let sources = &cfg.target.sources;
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            return json!({"clients": n, "connect_errors": n, "first_error": format!("current_exe: {e}")})
        }
    };

    let before = cfg.sample();
    let t0 = Instant::now();
    let mut procs = Vec::new();
    let mut spawn_error = None;
    for w in 0..workers {
        let share = n / workers + usize::from(w < n % workers);
        // Sources dealt to workers round robin; every worker gets at least one.
        let mine: Vec<String> = (0..sources.len().max(workers))
            .filter(|k| k % workers == w)
            .map(|k| sources[k % sources.len()].to_string())
            .collect();
        let mut cmd = Command::new(&exe);
        cmd.args([
            "--scenario",
            "held-worker",
            "--port",
            &cfg.target.port.to_string(),
            "--clients",
            &share.to_string(),
            "--sources",
            &mine.join(","),
            "--concurrency",
            &cfg.concurrency.to_string(),
            "--timeout",
            &cfg.timeout.as_secs_f64().to_string(),
        ]);
        if let Some(t) = cfg.threads {
            cmd.args(["--threads", &t.to_string()]);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        match cmd.spawn() {
            Ok(mut child) => {
                let stdin = child.stdin.take();
                let (tx, rx) = std::sync::mpsc::channel();
                if let Some(out) = child.stdout.take() {
                    std::thread::spawn(move || {
                        for line in BufReader::new(out).lines().map_while(Result::ok) {
                            if tx.send(line).is_err() {
                                break;
                            }
                        }
                    });
                }
                procs.push(Worker {
                    child,
                    stdin,
                    lines: rx,
                });
            }
            Err(e) => {
                spawn_error = Some(format!("spawning a worker: {e}"));
                break;
            }
        }
    }

    // Every worker's `ready` line (bounded by the set-up timeout plus a margin).
    let deadline = Instant::now() + cfg.timeout + Duration::from_secs(5);
    let (mut connected, mut failed, mut ready) = (0usize, 0usize, 0usize);
    for p in &procs {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = tokio::task::block_in_place(|| p.lines.recv_timeout(left));
        if let Ok(line) = line {
            let mut it = line.split_whitespace();
            if it.next() == Some("ready") {
                let num = |s: Option<&str>| s.and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
                connected += num(it.next());
                failed += num(it.next());
                ready += 1;
            }
        }
    }
    let connect_time = t0.elapsed();
    let after_connect = cfg.sample();
    let setup_ok = ready == procs.len() && spawn_error.is_none();
    eprintln!(
        "loadgen: {connected} of {n} connected by {} workers in {:.3} s; idle {:.1} s",
        procs.len(),
        connect_time.as_secs_f64(),
        cfg.hold.as_secs_f64()
    );

    // Settle (the last handshakes' buffers freed), then the idle window.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_start = cfg.sample();
    let t_idle = Instant::now();
    tokio::time::sleep(cfg.hold).await;
    let idle_end = cfg.sample();
    let idle_wall = t_idle.elapsed();
    let hwm = cfg.server_status("VmHWM");

    // Stop the workers and collect their reports.
    let (mut disconnects, mut pings, mut first_error) = (0u64, 0u64, spawn_error);
    for p in &mut procs {
        if let Some(mut stdin) = p.stdin.take() {
            let _ = stdin.write_all(b"stop\n");
        }
    }
    for p in &mut procs {
        let line = tokio::task::block_in_place(|| p.lines.recv_timeout(Duration::from_secs(15)));
        match line
            .ok()
            .and_then(|l| serde_json::from_str::<Value>(&l).ok())
        {
            Some(v) => {
                disconnects += v["disconnects"].as_u64().unwrap_or(0);
                pings += v["pings"].as_u64().unwrap_or(0);
                if first_error.is_none() {
                    first_error = v["first_error"].as_str().map(String::from);
                }
            }
            None => first_error = first_error.or(Some("a worker did not report".into())),
        }
    }
    for p in &mut procs {
        let _ = p.child.kill();
        let _ = p.child.wait();
    }

    let (cpu_secs, cpu_util) = cpu_json(idle_start, idle_end, idle_wall);
    let idle_pct = cpu_util.as_f64().map(|u| u * 100.0);
    let rss_per_conn = match (before.rss_kib, idle_end.rss_kib) {
        (Some(a), Some(b)) if connected > 0 => {
            json!(round3((b as f64 - a as f64) / connected as f64))
        }
        _ => Value::Null,
    };
    json!({
        "clients": n,
        "workers": procs.len(),
        "connected": connected,
        "connect_errors": failed + n.saturating_sub(connected + failed),
        "first_error": first_error,
        "setup_timed_out": !setup_ok,
        "connect_secs": round3(connect_time.as_secs_f64()),
        "server_cpu_us_per_connect": cpu_per(before, after_connect, connected as u64),
        "idle_secs": round3(idle_wall.as_secs_f64()),
        "server_idle_cpu_secs": cpu_secs,
        "server_idle_cpu_pct": idle_pct.map(round3),
        "server_idle_cpu_pct_per_1k": idle_pct.filter(|_| connected > 0).map(|p| (p / connected as f64 * 1000.0 * 10000.0).round() / 10000.0),
        "pings_answered": pings,
        "server_rss_before_kib": before.rss_kib,
        "server_rss_after_kib": idle_end.rss_kib,
        "server_rss_kib_per_conn": rss_per_conn,
        "server_vmhwm_kib": hwm,
        "disconnects": disconnects,
    })
}

/// The worker process: opens its share, reports `ready`, holds until told to stop.
pub async fn worker(cfg: &Config) -> Value {
    let n = cfg.clients;
    let setup = Arc::new(Setup::default());
    let gate = Arc::new(Semaphore::new(cfg.concurrency));
    let disconnects = Arc::new(AtomicUsize::new(0));
    let pings = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (target, setup, gate, disconnects, pings, stop): (Arc<Target>, _, _, _, _, _) = (
                cfg.target.clone(),
                setup.clone(),
                gate.clone(),
                disconnects.clone(),
                pings.clone(),
                stop_rx.clone(),
            );
            tokio::spawn(async move {
                let opened = {
                    let _permit = gate.acquire().await;
                    target.open(i).await
                };
                match opened {
                    Ok(ws) => {
                        setup.succeed();
                        hold(ws, stop, &disconnects, &pings).await;
                    }
                    Err(e) => setup.fail(e),
                }
            })
        })
        .collect();
    setup.wait(n, cfg.timeout).await;
    println!(
        "ready {} {}",
        setup.ok.load(Ordering::Relaxed),
        setup.failed.load(Ordering::Relaxed)
    );
    let _ = std::io::stdout().flush();
    // Until the coordinator says stop (a line) or goes away (EOF).
    let _ = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    })
    .await;
    let _ = stop_tx.send(true);
    crate::join_all(handles, Duration::from_secs(10)).await;
    json!({
        "disconnects": disconnects.load(Ordering::Relaxed),
        "pings": pings.load(Ordering::Relaxed),
        "first_error": setup.first_error(),
    })
}

/// An idle connection: answers pings (counted) until stopped or closed by the server.
async fn hold(
    mut ws: Ws,
    mut stop: watch::Receiver<bool>,
    disconnects: &AtomicUsize,
    pings: &AtomicU64,
) {
    let stop = stop.changed();
    tokio::pin!(stop);
    loop {
        loop {
            match ws.next_frame() {
                Ok(Some(Frame::Text(t))) if t == frames::PING.as_bytes() => {
                    pings.fetch_add(1, Ordering::Relaxed);
                    ws.queue_text(frames::PONG.as_bytes());
                }
                Ok(Some(Frame::Close)) | Err(_) => {
                    disconnects.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
            }
        }
        match crate::client::wait(&mut ws, &mut stop).await {
            Ok(crate::client::Wait::Data) => {}
            Ok(crate::client::Wait::Stopped) => return,
            Err(_) => {
                disconnects.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
}
