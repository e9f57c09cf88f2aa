//! `fanout`, `fanout-slow`, `fanout-10k`, `fanout-burst`: N members join room `bench`; one more
//! client (not a member) broadcasts M messages with at most `inflight` outstanding. A message
//! is complete when every member has received it. Every member must receive every message
//! exactly once. In `fanout-slow` the members also parse every message as JSON, so the
//! receivers, not the server, are the bottleneck.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};

use crate::client::{clip, drain, next_text, send, wait, wait_for_go, Setup, Target, Wait};
use crate::ledger::{Ledger, Receipt, Receipts, Tally};
use crate::progress::wait_for_deliveries;
use crate::stats::{round3, RssSampler};
use crate::ws::Ws;
use crate::{cpu_json, cpu_per, frames, join_all, now_ns, own_util, Config};

/// State shared by the members and the sender.
struct Shared {
    ledger: Ledger,
    /// Receivers parse every message as JSON (`fanout-slow`).
    parse_json: bool,
    /// Permits = broadcasts that may be outstanding.
    window: Semaphore,
}

#[derive(Default)]
struct MemberOut {
    /// The cluster node it is connected to (0 without a cluster).
    node: usize,
    joined: bool,
    receipts: Receipts,
    bad: u64,
    disconnected: bool,
}

#[derive(Default)]
struct SenderOut {
    bad: u64,
    error: Option<String>,
}

pub async fn run(cfg: &Config) -> Value {
    let n = cfg.clients;
    let total = cfg.messages;
    let inflight = if cfg.inflight == 0 {
        total
    } else {
        cfg.inflight.min(total)
    };
    let shared = Arc::new(Shared {
        ledger: Ledger::new(total),
        parse_json: cfg.scenario == crate::Scenario::FanoutSlow,
        window: Semaphore::new(inflight),
    });
    let setup = Arc::new(Setup::default());
    let sender_setup = Arc::new(Setup::default());
    let gate = Arc::new(Semaphore::new(cfg.concurrency));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (go_tx, go_rx) = watch::channel(false);

    let members: Vec<_> = (0..n)
        .map(|i| {
            let ((target, node), shared, setup, gate, stop) = (
                cfg.member_target(i),
                shared.clone(),
                setup.clone(),
                gate.clone(),
                stop_rx.clone(),
            );
            tokio::spawn(async move {
                let mut out = member(i, &target, &shared, &setup, &gate, stop).await;
                out.node = node;
                out
            })
        })
        .collect();
    let sender = {
        let (target, shared, setup, stop, size) = (
            cfg.target.clone(),
            shared.clone(),
            sender_setup.clone(),
            stop_rx.clone(),
            cfg.size,
        );
        tokio::spawn(async move { sender(n, &target, &shared, &setup, go_rx, stop, size).await })
    };

    let t_setup = std::time::Instant::now();
    let setup_finished =
        setup.wait(n, cfg.timeout).await && sender_setup.wait(1, cfg.timeout).await;
    let joined = setup.ok.load(Ordering::Relaxed);
    eprintln!(
        "loadgen: {joined} of {n} members joined in {:.3} s",
        t_setup.elapsed().as_secs_f64()
    );
    let sender_ok = sender_setup.ok.load(Ordering::Relaxed) == 1;
    shared.ledger.set_members(joined);

    let mut timed_out = false;
    let mut stalled = false;
    let (before, after, sampler, end_ns, sends, cluster_samples) =
        if joined > 0 && sender_ok && setup_finished {
            let sampler = cfg.server.clone().map(RssSampler::start);
            let counter = cfg.server_pid.and_then(crate::syscalls::SendCounter::start);
            if counter.is_some() {
                tokio::time::sleep(crate::syscalls::SendCounter::ATTACH).await;
            }
            let cluster_before = cfg.cluster.as_ref().map(|c| c.sample());
            let before = cfg.sample();
            let _ = go_tx.send(true);
            let progress = wait_for_deliveries(
                &shared.ledger.completed,
                &shared.ledger.received,
                total,
                Duration::from_millis(2),
                cfg.stall,
                cfg.timeout,
            )
            .await;
            (timed_out, stalled) = (progress.timed_out, progress.stalled);
            let after = cfg.sample();
            let cluster_after = cfg.cluster.as_ref().map(|c| c.sample());
            let sends = counter.and_then(crate::syscalls::SendCounter::finish);
            let complete = progress.complete();
            let end_ns = if complete {
                shared.ledger.last_complete_ns.load(Ordering::Relaxed)
            } else {
                progress.last_progress_ns
            };
            if complete {
                // Late duplicates, if any, arrive now.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let cluster_samples = cluster_before.zip(cluster_after);
            (before, after, sampler, end_ns, sends, cluster_samples)
        } else {
            (cfg.sample(), cfg.sample(), None, 0, None, None)
        };

    let _ = stop_tx.send(true);
    let sender_out = join_all(vec![sender], Duration::from_secs(5))
        .await
        .pop()
        .unwrap_or_else(|| SenderOut {
            bad: 0,
            error: Some("sender task did not finish".into()),
        });
    let outs = join_all(members, Duration::from_secs(10)).await;
    let peak_rss = sampler.and_then(RssSampler::finish);
    let hwm = cfg.server_status("VmHWM");

    // Correctness over the members that joined and the messages that were sent.
    let sent = shared.ledger.sent.load(Ordering::Relaxed);
    let mut tally = Tally::default();
    let nodes = cfg.cluster.as_ref().map_or(1, |c| c.targets.len());
    let mut per_node = vec![0u64; nodes];
    for o in outs.into_iter().filter(|o| o.joined) {
        let got = tally.add(&o.receipts, sent, o.bad, o.disconnected);
        if let Some(d) = per_node.get_mut(o.node) {
            *d += got;
        }
    }
    tally.bad += sender_out.bad;
    let deliveries = tally.deliveries;
    let first_send = shared.ledger.first_send_ns.load(Ordering::Relaxed);
    let wall = Duration::from_nanos(end_ns.saturating_sub(first_send));
    let (cpu_secs, cpu_util) = cpu_json(before, after, wall);
    let cluster = match (&cfg.cluster, &cluster_samples) {
        (Some(c), Some((a, b))) => c.report(a, b, wall, &per_node, sent as u64),
        _ => Value::Null,
    };

    let mut out = json!({
        "clients": n,
        "members_joined": joined,
        "join_errors": setup.failed.load(Ordering::Relaxed),
        "sender_error": sender_out.error.or_else(|| sender_setup.first_error()),
        "first_error": setup.first_error(),
        "messages": total,
        "sent": sent,
        "inflight": inflight,
        "size": cfg.size,
        "messages_completed": shared.ledger.completed.load(Ordering::Relaxed),
        "complete": !(timed_out || stalled) && sent == total && joined > 0,
        "timed_out": timed_out,
        "stalled": stalled,
        "deliveries": deliveries,
        "expected_deliveries": (joined * sent) as u64,
        "duration_secs": round3(wall.as_secs_f64()),
        "deliveries_per_sec": if wall.is_zero() { json!(0) } else { json!(round3(deliveries as f64 / wall.as_secs_f64())) },
        "server_cpu_secs": cpu_secs,
        "server_cpu_util": cpu_util,
        "loadgen_cpu_util": own_util(before, after, wall),
        "server_cpu_us_per_delivery": cpu_per(before, after, deliveries),
        "server_send_calls": crate::syscalls::send_calls_json(sends, deliveries),
        "server_rss_before_kib": before.rss_kib,
        "server_rss_after_kib": after.rss_kib,
        "server_peak_rss_kib": peak_rss,
        "server_vmhwm_kib": hwm,
    });
    tally.report(&mut out);
    if !cluster.is_null() {
        out["cluster"] = cluster;
    }
    out
}

/// The receivers' work in `fanout-slow`, what a client application does with a message:
/// the `42[…]` frame's array parsed into values and written back out. False when it is
/// not valid JSON.
fn parses_as_json(frame: &[u8]) -> bool {
    let Some(at) = frame.iter().position(|&b| b == b'[') else {
        return false;
    };
    match serde_json::from_slice::<Value>(&frame[at..]) {
        Ok(v) => (0..RECEIVER_WORK).all(|_| serde_json::to_vec(&v).is_ok_and(|t| !t.is_empty())),
        Err(_) => false,
    }
}

/// How many times a `fanout-slow` receiver writes each parsed message back out: enough
/// that the load generator, not the server, bounds the rate (about 0.5–0.7 M deliveries/s
/// on one core here).
const RECEIVER_WORK: usize = 4;

/// Sends `join` and waits for its ack (answering pings meanwhile).
async fn join(ws: &mut Ws) -> Result<(), String> {
    send(ws, frames::JOIN).await?;
    loop {
        let f = next_text(ws).await?;
        if frames::is_join_ack(&f) {
            return Ok(());
        }
        if f == frames::PING {
            send(ws, frames::PONG).await?;
            continue;
        }
        return Err(format!("expected join ack, got {}", clip(&f)));
    }
}

async fn member(
    i: usize,
    target: &Target,
    shared: &Shared,
    setup: &Setup,
    gate: &Semaphore,
    mut stop: watch::Receiver<bool>,
) -> MemberOut {
    let mut out = MemberOut::default();
    let opened = {
        let _permit = gate.acquire().await;
        match target.open(i).await {
            Ok(mut ws) => match tokio::time::timeout(target.open_timeout, join(&mut ws)).await {
                Ok(Ok(())) => Ok(ws),
                Ok(Err(e)) => Err(e),
                Err(_) => Err("join: timed out".into()),
            },
            Err(e) => Err(e),
        }
    };
    let mut ws = match opened {
        Ok(ws) => ws,
        Err(e) => {
            setup.fail(e);
            return out;
        }
    };
    out.joined = true;
    out.receipts = Receipts::new(&shared.ledger);
    setup.succeed();

    let stop = stop.changed();
    tokio::pin!(stop);
    loop {
        let (receipts, bad) = (&mut out.receipts, &mut out.bad);
        let parse_json = shared.parse_json;
        let drained = drain(&mut ws, |t| match frames::parse_msg(t) {
            Some(_) if parse_json && !parses_as_json(t) => *bad += 1,
            Some((sent_at, s)) => match receipts.receive(&shared.ledger, s, sent_at) {
                Receipt::First { completes: true } => shared.window.add_permits(1),
                Receipt::First { .. } | Receipt::Again => {}
                Receipt::Unknown => *bad += 1,
            },
            None => *bad += 1,
        });
        match drained {
            Ok(binary) => out.bad += binary,
            Err(_) => {
                out.disconnected = true;
                break;
            }
        }
        match wait(&mut ws, &mut stop).await {
            Ok(Wait::Data) => {}
            Ok(Wait::Stopped) => break,
            Err(_) => {
                out.disconnected = true;
                break;
            }
        }
    }
    out
}

/// Reads what the sender (not in the room) got: only pings are expected.
fn sender_drain(ws: &mut Ws, out: &mut SenderOut) -> Result<(), String> {
    let mut bad = 0;
    let binary = drain(ws, |_| bad += 1)?;
    out.bad += bad + binary;
    Ok(())
}

async fn sender(
    i: usize,
    target: &Target,
    shared: &Shared,
    setup: &Setup,
    mut go: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
    size: usize,
) -> SenderOut {
    let mut out = SenderOut::default();
    let mut ws = match target.open(i).await {
        Ok(ws) => ws,
        Err(e) => {
            setup.fail(format!("sender: {e}"));
            return out;
        }
    };
    setup.succeed();
    let stop = stop.changed();
    tokio::pin!(stop);
    // Wait for the start signal, answering pings meanwhile.
    match wait_for_go(&mut ws, &mut go, &mut stop, |ws| sender_drain(ws, &mut out)).await {
        Ok(true) => {}
        Ok(false) => return out,
        Err(e) => {
            out.error = Some(format!("sender: {e}"));
            return out;
        }
    }

    shared
        .ledger
        .first_send_ns
        .store(now_ns(), Ordering::Relaxed);
    let total = shared.ledger.total;
    let mut next = 0usize;
    let mut frame = String::with_capacity(size + 48);
    while next < total {
        if let Err(e) = sender_drain(&mut ws, &mut out) {
            out.error = Some(format!("sender: {e}"));
            return out;
        }
        if let Err(e) = ws.flush().await {
            out.error = Some(format!("sender: send: {e}"));
            return out;
        }
        let permit = tokio::select! {
            biased;
            _ = &mut stop => return out,
            p = shared.window.acquire() => match p {
                Ok(p) => p,
                Err(_) => return out,
            },
            r = ws.fill() => match r {
                Ok(true) => continue,
                Ok(false) => {
                    out.error = Some("sender: closed by server".into());
                    return out;
                }
                Err(e) => {
                    out.error = Some(format!("sender: read: {e}"));
                    return out;
                }
            },
        };
        permit.forget();
        let mut batch = 1;
        while next + batch < total {
            match shared.window.try_acquire() {
                Ok(p) => {
                    p.forget();
                    batch += 1;
                }
                Err(_) => break,
            }
        }
        for _ in 0..batch {
            frames::broadcast_frame(&mut frame, now_ns(), next as u64, size);
            ws.queue_text(frame.as_bytes());
            next += 1;
        }
        if let Err(e) = ws.flush().await {
            out.error = Some(format!("sender: send: {e}"));
            return out;
        }
        shared.ledger.sent.store(next, Ordering::Relaxed);
    }

    // All sent: keep answering pings until the end.
    loop {
        if let Err(e) = sender_drain(&mut ws, &mut out) {
            out.error = Some(format!("sender: {e}"));
            return out;
        }
        match wait(&mut ws, &mut stop).await {
            Ok(Wait::Data) => {}
            Ok(Wait::Stopped) => return out,
            Err(e) => {
                out.error = Some(format!("sender: {e}"));
                return out;
            }
        }
    }
}
