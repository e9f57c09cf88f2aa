//! `bench-clients`: N sockio clients in one process against a bench server
//! (`docs/benchmark-contract.md`), each with its own connection (WebSocket), each emitting
//! `echo` with an acknowledgement in a loop for `--duration` seconds. Prints one JSON
//! object: the process's RSS per connected client (measured idle, after every client
//! connected) and acknowledgements per CPU-second of this process.
//!
//! ```text
//! bench-clients --port 3900 --clients 1000 --duration 5
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sockio_client::{ClientBuilder, Socket, TransportKind};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A field of /proc/self/status, in KiB.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// User + system CPU seconds of this process.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    ticks as f64 / 100.0
}

fn main() {
    let port = arg("--port", 3900);
    let clients = arg("--clients", 1000) as usize;
    let duration = Duration::from_secs(arg("--duration", 5));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let result = runtime.block_on(async move {
        let url = format!("http://127.0.0.1:{port}/");
        let rss_before = status_kib("VmRSS:");
        let mut sockets: Vec<Socket> = Vec::with_capacity(clients);
        let gate = Arc::new(tokio::sync::Semaphore::new(128));
        let mut pending = Vec::with_capacity(clients);
        for _ in 0..clients {
            let (url, gate) = (url.clone(), gate.clone());
            pending.push(tokio::spawn(async move {
                let _permit = gate.acquire().await;
                ClientBuilder::new(&url)
                    .force_new(true)
                    .transports([TransportKind::WebSocket])
                    .reconnection(false)
                    .connect()
                    .await
            }));
        }
        let mut errors = 0;
        for p in pending {
            match p.await {
                Ok(Ok(s)) => sockets.push(s),
                _ => errors += 1,
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss_idle = status_kib("VmRSS:");
        let acks = Arc::new(AtomicU64::new(0));
        let cpu0 = cpu_secs();
        let start = Instant::now();
        let end = start + duration;
        let loops: Vec<_> = sockets
            .iter()
            .cloned()
            .map(|s| {
                let acks = acks.clone();
                tokio::spawn(async move {
                    while Instant::now() < end {
                        let r = s
                            .timeout(Duration::from_secs(10))
                            .emit_with_ack("echo", serde_json::json!({"p": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}))
                            .await;
                        if r.is_ok() {
                            acks.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for l in loops {
            let _ = l.await;
        }
        let wall = start.elapsed().as_secs_f64();
        let cpu = cpu_secs() - cpu0;
        let acks = acks.load(Ordering::Relaxed);
        let connected = sockets.len();
        for s in &sockets {
            s.disconnect();
        }
        serde_json::json!({
            "client": "sockio-client",
            "clients": clients,
            "connected": connected,
            "connect_errors": errors,
            "rss_kib_per_client": if connected == 0 { 0.0 } else {
                (rss_idle.saturating_sub(rss_before)) as f64 / connected as f64
            },
            "acks": acks,
            "duration_secs": wall,
            "cpu_secs": cpu,
            "acks_per_cpu_sec": if cpu > 0.0 { acks as f64 / cpu } else { 0.0 },
        })
    });
    println!("{result}");
    runtime.shutdown_timeout(Duration::from_secs(1));
}
