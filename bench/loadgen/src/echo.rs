//! `echo` and `echo-latency`: each client emits `echo` with an ack in a closed loop (the next
//! emit after the ack). `echo` runs N clients for a fixed duration; `echo-latency` runs until
//! each client has done `--messages` round trips. Every ack must carry the payload back.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};

use crate::client::{drain, wait, wait_for_go, Setup, Target, Wait};
use crate::frames::{self, EchoReply};
use crate::stats::{latency_json, round3};
use crate::{cpu_json, cpu_per, join_all, now_ns, own_util, Config};

/// After an `echo` run's end, how long the acks still outstanding may take; clients still
/// waiting then count a timeout.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

struct Shared {
    payload: String,
    /// Round trips per client; 0 = until `end_ns`.
    limit: usize,
    end_ns: AtomicU64,
    finished: AtomicUsize,
    last_finish_ns: AtomicU64,
}

#[derive(Default)]
struct EchoOut {
    connected: bool,
    acks: u64,
    errors: u64,
    timeouts: u64,
    disconnected: bool,
    lat: Vec<u64>,
}

pub async fn run(cfg: &Config) -> Value {
    let n = cfg.clients;
    let shared = Arc::new(Shared {
        payload: frames::echo_payload(cfg.size),
        limit: cfg.messages,
        end_ns: AtomicU64::new(u64::MAX),
        finished: AtomicUsize::new(0),
        last_finish_ns: AtomicU64::new(0),
    });
    let setup = Arc::new(Setup::default());
    let gate = Arc::new(Semaphore::new(cfg.concurrency));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (go_tx, go_rx) = watch::channel(false);

    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (target, shared, setup, gate, go, stop) = (
                cfg.target.clone(),
                shared.clone(),
                setup.clone(),
                gate.clone(),
                go_rx.clone(),
                stop_rx.clone(),
            );
            tokio::spawn(async move { client(i, &target, &shared, &setup, &gate, go, stop).await })
        })
        .collect();

    let setup_finished = setup.wait(n, cfg.timeout).await;
    let connected = setup.ok.load(Ordering::Relaxed);
    let mut timed_out = false;
    let (before, after, wall) = if connected > 0 && setup_finished {
        let before = cfg.sample();
        let start_ns = now_ns();
        let run_for = if shared.limit == 0 {
            cfg.duration
        } else {
            cfg.timeout
        };
        let end_ns = start_ns + run_for.as_nanos() as u64;
        shared.end_ns.store(end_ns, Ordering::Relaxed);
        let _ = go_tx.send(true);
        let deadline = tokio::time::Instant::now() + run_for;
        if shared.limit == 0 {
            tokio::time::sleep_until(deadline).await;
            let after = cfg.sample();
            let grace = tokio::time::Instant::now() + REPLY_TIMEOUT;
            while shared.finished.load(Ordering::Acquire) < connected
                && tokio::time::Instant::now() < grace
            {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (before, after, run_for)
        } else {
            while shared.finished.load(Ordering::Acquire) < connected {
                if tokio::time::Instant::now() >= deadline {
                    timed_out = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let after = cfg.sample();
            let last = if timed_out {
                end_ns
            } else {
                shared.last_finish_ns.load(Ordering::Relaxed)
            };
            (
                before,
                after,
                Duration::from_nanos(last.saturating_sub(start_ns)),
            )
        }
    } else {
        (cfg.sample(), cfg.sample(), Duration::ZERO)
    };

    let _ = stop_tx.send(true);
    let outs = join_all(handles, Duration::from_secs(5)).await;
    let (mut acks, mut errors, mut timeouts, mut disconnects) = (0u64, 0u64, 0u64, 0usize);
    let mut lat = Vec::new();
    for o in outs.into_iter().filter(|o| o.connected) {
        acks += o.acks;
        errors += o.errors;
        timeouts += o.timeouts;
        disconnects += usize::from(o.disconnected);
        lat.extend_from_slice(&o.lat);
    }
    let (cpu_secs, cpu_util) = cpu_json(before, after, wall);
    json!({
        "clients": n,
        "connected": connected,
        "connect_errors": setup.failed.load(Ordering::Relaxed),
        "first_error": setup.first_error(),
        "size": cfg.size,
        "messages_per_client": if shared.limit == 0 { Value::Null } else { json!(shared.limit) },
        "timed_out": timed_out,
        "duration_secs": round3(wall.as_secs_f64()),
        "acks": acks,
        "acks_per_sec": if wall.is_zero() { 0.0 } else { round3(acks as f64 / wall.as_secs_f64()) },
        "server_cpu_secs": cpu_secs,
        "server_cpu_util": cpu_util,
        "loadgen_cpu_util": own_util(before, after, wall),
        "server_cpu_us_per_ack": cpu_per(before, after, acks),
        "latency_us": latency_json(&mut lat),
        "errors": errors,
        "timeouts": timeouts,
        "disconnects": disconnects,
        "server_rss_after_kib": after.rss_kib,
    })
}

async fn client(
    i: usize,
    target: &Target,
    shared: &Shared,
    setup: &Setup,
    gate: &Semaphore,
    mut go: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) -> EchoOut {
    let mut out = EchoOut::default();
    let opened = {
        let _permit = gate.acquire().await;
        target.open(i).await
    };
    let mut ws = match opened {
        Ok(ws) => ws,
        Err(e) => {
            setup.fail(e);
            return out;
        }
    };
    out.connected = true;
    setup.succeed();
    let stop = stop.changed();
    tokio::pin!(stop);

    // Wait for the start signal; anything but pings before it counts as an error.
    let mut unexpected = 0;
    let started = wait_for_go(&mut ws, &mut go, &mut stop, |ws| {
        unexpected += drain(ws, |_| unexpected += 1)?;
        Ok(())
    })
    .await;
    out.errors += unexpected;
    match started {
        Ok(true) => {}
        Ok(false) => return out,
        Err(_) => {
            out.disconnected = true;
            return out;
        }
    }

    let end_ns = shared.end_ns.load(Ordering::Relaxed);
    let payload = shared.payload.as_bytes();
    if shared.limit > 0 {
        out.lat.reserve(shared.limit);
    }
    let mut frame = String::with_capacity(payload.len() + 32);
    let mut id = 0u64;
    'run: loop {
        if (shared.limit > 0 && id as usize >= shared.limit) || now_ns() >= end_ns {
            break;
        }
        frames::echo_frame(&mut frame, id, &shared.payload);
        let sent_at = now_ns();
        ws.queue_text(frame.as_bytes());
        loop {
            // `wait` sends the queued emit first.
            match wait(&mut ws, &mut stop).await {
                Ok(Wait::Data) => {}
                Ok(Wait::Stopped) => {
                    out.timeouts += 1;
                    break 'run;
                }
                Err(_) => {
                    out.disconnected = true;
                    break 'run;
                }
            }
            let mut replied = false;
            let (errors, acks, lat) = (&mut out.errors, &mut out.acks, &mut out.lat);
            let drained = drain(&mut ws, |t| {
                if replied {
                    *errors += 1;
                    return;
                }
                match frames::check_echo_reply(t, id, payload) {
                    EchoReply::Ok => {
                        let now = now_ns();
                        if now <= end_ns {
                            *acks += 1;
                            lat.push(now - sent_at);
                        }
                        replied = true;
                    }
                    EchoReply::WrongPayload => {
                        *errors += 1;
                        replied = true;
                    }
                    EchoReply::WrongId | EchoReply::NotAck => *errors += 1,
                }
            });
            match drained {
                Ok(binary) => out.errors += binary,
                Err(_) => {
                    out.disconnected = true;
                    break 'run;
                }
            }
            if replied {
                break;
            }
        }
        id += 1;
    }
    shared.last_finish_ns.fetch_max(now_ns(), Ordering::Relaxed);
    shared.finished.fetch_add(1, Ordering::Release);
    out
}
