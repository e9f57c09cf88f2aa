//! `polling-broadcast`: N clients on the Engine.IO v4 long-polling transport only (no
//! upgrade), each keeping one GET outstanding on its own keep-alive HTTP/1.1 connection and
//! POSTing on a second one (as browsers and socket.io-client do: the POST cannot wait behind
//! the pending GET), join room `bench`; one WebSocket client (not a member) broadcasts a
//! message every 100 ms. Every member must receive every message exactly once.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};

use crate::client::{drain, wait, wait_for_go, Setup, Target, Wait};
use crate::http1::{self, Http};
use crate::ledger::{Ledger, Receipt, Receipts, Tally};
use crate::progress::wait_for_deliveries;
use crate::stats::round3;
use crate::{cpu_json, cpu_per, frames, join_all, now_ns, own_util, Config};

/// One broadcast every this long.
pub const EVERY: Duration = Duration::from_millis(100);
const HANDSHAKE_PATH: &str = "/socket.io/?EIO=4&transport=polling";
/// Bound on one member's set-up.
const SETUP_TIMEOUT: Duration = Duration::from_secs(15);
/// A `join` not acknowledged within this long is sent again. socketioxide 0.18 sends the
/// CONNECT ack before the connect handler (a spawned task) has registered the event
/// handlers, so an event that follows the ack at once is sometimes dropped (a few in
/// 2 000 over polling); socket.io on Node and sockio register them first.
const JOIN_RESEND: Duration = Duration::from_secs(2);
/// Read buffer of a polling connection (responses are small; it grows if needed).
const HTTP_BUFFER: usize = 4 << 10;

/// An Engine.IO polling session: the GET connection and the POST connection.
pub struct Poller<'a> {
    target: &'a Target,
    i: usize,
    /// `/socket.io/?EIO=4&transport=polling&sid=…`
    path: String,
    pub get: Http,
    post: Option<Http>,
    /// Pings answered.
    pub pings: u64,
    /// Payloads sent again for want of an answer (see [`JOIN_RESEND`]).
    pub resends: u64,
}

impl<'a> Poller<'a> {
    /// Opens the GET connection and does the handshake (`0{"sid":…}`).
    pub async fn handshake(target: &'a Target, i: usize) -> Result<Poller<'a>, String> {
        let mut get = Http::new(target.tcp(i).await?, target.host(), HTTP_BUFFER);
        let r = get.request("GET", HANDSHAKE_PATH, b"").await?;
        if r.status != 200 {
            return Err(format!("handshake: HTTP {}", r.status));
        }
        let sid = http1::packets(&r.body)
            .find_map(http1::open_sid)
            .ok_or_else(|| {
                format!(
                    "handshake: no OPEN packet in {}",
                    crate::client::clip(&String::from_utf8_lossy(&r.body))
                )
            })?;
        Ok(Poller {
            target,
            i,
            path: format!("{HANDSHAKE_PATH}&sid={sid}"),
            get,
            post: None,
            pings: 0,
            resends: 0,
        })
    }

    /// Sends a GET (poll) without waiting for its answer, on a new connection if the
    /// server closed the last one.
    pub async fn send_get(&mut self) -> Result<(), String> {
        if self.get.closed {
            let stream = self.target.tcp(self.i).await?;
            self.get = Http::new(stream, self.target.host(), HTTP_BUFFER);
        }
        self.get.send("GET", &self.path, b"").await
    }

    /// The answer to the GET sent last: the payload's body.
    pub async fn get_response(&mut self) -> Result<Vec<u8>, String> {
        let r = self.get.response().await?;
        if r.status != 200 {
            return Err(format!("GET: HTTP {}", r.status));
        }
        Ok(r.body)
    }

    /// A POST of one payload (see [`post_on`]).
    pub async fn post(&mut self, body: &[u8]) -> Result<(), String> {
        post_on(&mut self.post, self.target, self.i, &self.path, body).await
    }

    /// Polls until a packet for which `want` is true arrives, answering pings; any other
    /// packet but `noop` is an error. With `resend`, that payload is POSTed again every
    /// [`JOIN_RESEND`] while the poll waits.
    pub async fn until(
        &mut self,
        what: &str,
        want: impl Fn(&[u8]) -> bool,
        resend: Option<&[u8]>,
    ) -> Result<(), String> {
        loop {
            self.send_get().await?;
            let body = loop {
                tokio::select! {
                    r = self.get.response() => break r?,
                    _ = tokio::time::sleep(JOIN_RESEND), if resend.is_some() => {
                        self.resends += 1;
                        let body = resend.unwrap_or_default();
                        post_on(&mut self.post, self.target, self.i, &self.path, body).await?;
                    }
                }
            };
            if body.status != 200 {
                return Err(format!("GET: HTTP {}", body.status));
            }
            let body = body.body;
            let mut found = false;
            let mut pings = 0;
            for p in http1::packets(&body) {
                if p == frames::PING.as_bytes() {
                    pings += 1;
                } else if want(p) {
                    found = true;
                } else if p != b"6" {
                    return Err(format!(
                        "waiting for {what}, got {}",
                        crate::client::clip(&String::from_utf8_lossy(p))
                    ));
                }
            }
            for _ in 0..pings {
                self.pings += 1;
                self.post(frames::PONG.as_bytes()).await?;
            }
            if found {
                return Ok(());
            }
        }
    }
}

/// A POST of one payload on the POST connection `conn` (opened, or reopened when the
/// server closed it while idle — Node closes idle keep-alive connections after 5 s).
async fn post_on(
    conn: &mut Option<Http>,
    target: &Target,
    i: usize,
    path: &str,
    body: &[u8],
) -> Result<(), String> {
    for _ in 0..2 {
        let fresh = match conn {
            Some(h) if !h.closed => false,
            _ => {
                let stream = target.tcp(i).await?;
                *conn = Some(Http::new(stream, target.host(), 512));
                true
            }
        };
        let Some(h) = conn.as_mut() else {
            continue;
        };
        match h.request("POST", path, body).await {
            Ok(r) if r.status == 200 => return Ok(()),
            Ok(r) => return Err(format!("POST: HTTP {}", r.status)),
            // A reused connection the server closed meanwhile: once more on a new one.
            Err(_) if !fresh => *conn = None,
            Err(e) => return Err(format!("POST: {e}")),
        }
    }
    Err("POST: connection closed twice".into())
}

#[derive(Default)]
struct MemberOut {
    joined: bool,
    receipts: Receipts,
    bad: u64,
    polls: u64,
    pings: u64,
    /// `join` sent again, and the extra acks that came back.
    resends: u64,
    late_acks: u64,
    disconnected: bool,
}

pub async fn run(cfg: &Config) -> Value {
    let n = cfg.clients;
    let total = cfg.messages;
    let shared = Arc::new(Ledger::new(total));
    let setup = Arc::new(Setup::default());
    let sender_setup = Arc::new(Setup::default());
    let gate = Arc::new(Semaphore::new(cfg.concurrency));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (go_tx, go_rx) = watch::channel(false);

    let members: Vec<_> = (0..n)
        .map(|i| {
            let (target, shared, setup, gate, stop) = (
                cfg.target.clone(),
                shared.clone(),
                setup.clone(),
                gate.clone(),
                stop_rx.clone(),
            );
            tokio::spawn(async move { member(i, &target, &shared, &setup, &gate, stop).await })
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
        "loadgen: {joined} of {n} polling members joined in {:.3} s",
        t_setup.elapsed().as_secs_f64()
    );
    let sender_ok = sender_setup.ok.load(Ordering::Relaxed) == 1;
    shared.set_members(joined);

    let (mut timed_out, mut stalled) = (false, false);
    let (before, after, end_ns) = if joined > 0 && sender_ok && setup_finished {
        // Let the last members' GETs reach the server.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = cfg.sample();
        let _ = go_tx.send(true);
        let progress = wait_for_deliveries(
            &shared.completed,
            &shared.received,
            total,
            Duration::from_millis(5),
            cfg.stall,
            cfg.timeout + EVERY * total as u32,
        )
        .await;
        (timed_out, stalled) = (progress.timed_out, progress.stalled);
        let after = cfg.sample();
        let complete = progress.complete();
        let end_ns = if complete {
            shared.last_complete_ns.load(Ordering::Relaxed)
        } else {
            progress.last_progress_ns
        };
        if complete {
            // Late duplicates, if any, arrive now.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        (before, after, end_ns)
    } else {
        (cfg.sample(), cfg.sample(), 0)
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

    let sent = shared.sent.load(Ordering::Relaxed);
    let mut tally = Tally::default();
    let (mut polls, mut pings, mut resends) = (0u64, 0u64, 0u64);
    for o in outs.into_iter().filter(|o| o.joined) {
        tally.add(&o.receipts, sent, o.bad, o.disconnected);
        polls += o.polls;
        pings += o.pings;
        resends += o.resends;
    }
    tally.bad += sender_out.bad;
    let deliveries = tally.deliveries;
    let first_send = shared.first_send_ns.load(Ordering::Relaxed);
    let wall = Duration::from_nanos(end_ns.saturating_sub(first_send));
    let (cpu_secs, cpu_util) = cpu_json(before, after, wall);
    let mut out = json!({
        "clients": n,
        "members_joined": joined,
        "join_errors": setup.failed.load(Ordering::Relaxed),
        "first_error": setup.first_error(),
        "sender_error": sender_out.error.or_else(|| sender_setup.first_error()),
        "messages": total,
        "interval_ms": EVERY.as_millis() as u64,
        "size": cfg.size,
        "sent": sent,
        "messages_completed": shared.completed.load(Ordering::Relaxed),
        "complete": !(timed_out || stalled) && sent == total && joined > 0,
        "timed_out": timed_out,
        "stalled": stalled,
        "deliveries": deliveries,
        "expected_deliveries": (joined * sent) as u64,
        "duration_secs": round3(wall.as_secs_f64()),
        "deliveries_per_sec": if wall.is_zero() { json!(0) } else { json!(round3(deliveries as f64 / wall.as_secs_f64())) },
        "polls": polls,
        "deliveries_per_poll": if polls > 0 { json!(round3(deliveries as f64 / polls as f64)) } else { Value::Null },
        "pings_answered": pings,
        "join_resends": resends,
        "server_cpu_secs": cpu_secs,
        "server_cpu_util": cpu_util,
        "loadgen_cpu_util": own_util(before, after, wall),
        "server_cpu_us_per_delivery": cpu_per(before, after, deliveries),
        "server_rss_before_kib": before.rss_kib,
        "server_rss_after_kib": after.rss_kib,
        "server_vmhwm_kib": cfg.server_status("VmHWM"),
    });
    tally.report(&mut out);
    out
}

/// Handshake, CONNECT, join: the member's set-up, over polling.
/// `step` names the step in progress (for the error when the set-up times out).
async fn join<'a>(
    target: &'a Target,
    i: usize,
    step: &mut &'static str,
) -> Result<Poller<'a>, String> {
    *step = "handshake";
    let mut p = Poller::handshake(target, i).await?;
    *step = "POST CONNECT";
    p.post(frames::CONNECT.as_bytes()).await?;
    *step = "polling for the CONNECT ack";
    p.until("CONNECT ack", |f| f.starts_with(b"40{"), None)
        .await?;
    *step = "POST join";
    p.post(frames::JOIN.as_bytes()).await?;
    *step = "polling for the join ack";
    p.until(
        "join ack",
        |f| f.starts_with(b"431["),
        Some(frames::JOIN.as_bytes()),
    )
    .await?;
    Ok(p)
}

async fn member(
    i: usize,
    target: &Target,
    shared: &Ledger,
    setup: &Setup,
    gate: &Semaphore,
    mut stop: watch::Receiver<bool>,
) -> MemberOut {
    let mut out = MemberOut::default();
    let joined = {
        let _permit = gate.acquire().await;
        let mut step = "";
        match tokio::time::timeout(SETUP_TIMEOUT, join(target, i, &mut step)).await {
            Ok(r) => r,
            Err(_) => Err(format!("polling set-up: timed out ({step})")),
        }
    };
    let mut p = match joined {
        Ok(p) => p,
        Err(e) => {
            setup.fail(e);
            return out;
        }
    };
    out.joined = true;
    out.resends = p.resends;
    out.receipts = Receipts::new(shared);
    setup.succeed();

    let stop = stop.changed();
    tokio::pin!(stop);
    'poll: loop {
        if p.send_get().await.is_err() {
            out.disconnected = true;
            break;
        }
        let body = tokio::select! {
            biased;
            _ = &mut stop => break,
            r = p.get_response() => match r {
                Ok(b) => b,
                Err(_) => {
                    out.disconnected = true;
                    break;
                }
            },
        };
        out.polls += 1;
        let mut pings = 0;
        for f in http1::packets(&body) {
            if f == frames::PING.as_bytes() {
                pings += 1;
            } else if f == b"6" {
            } else if f.starts_with(b"431[") && out.resends > out.late_acks {
                out.late_acks += 1;
            } else if f == b"1" {
                out.disconnected = true;
                break 'poll;
            } else {
                match frames::parse_msg(f) {
                    Some((sent_at, s)) => {
                        if let Receipt::Unknown = out.receipts.receive(shared, s, sent_at) {
                            out.bad += 1;
                        }
                    }
                    None => out.bad += 1,
                }
            }
        }
        for _ in 0..pings {
            out.pings += 1;
            if p.post(frames::PONG.as_bytes()).await.is_err() {
                out.disconnected = true;
                break 'poll;
            }
        }
    }
    out
}

#[derive(Default)]
struct SenderOut {
    bad: u64,
    error: Option<String>,
}

/// The broadcaster, on WebSocket: one `broadcast` every [`EVERY`] once told to go.
async fn sender(
    i: usize,
    target: &Target,
    shared: &Ledger,
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
    let mut not_for_us = 0u64;
    let mut on_early = |ws: &mut crate::ws::Ws| -> Result<(), String> {
        not_for_us += drain(ws, |_| not_for_us += 1)?;
        Ok(())
    };
    match wait_for_go(&mut ws, &mut go, &mut stop, &mut on_early).await {
        Ok(true) => {}
        Ok(false) => return out,
        Err(e) => {
            out.error = Some(format!("sender: {e}"));
            return out;
        }
    }
    shared.first_send_ns.store(now_ns(), Ordering::Relaxed);
    let mut tick = tokio::time::interval(EVERY);
    let mut frame = String::with_capacity(size + 48);
    let mut next = 0usize;
    loop {
        let r = drain(&mut ws, |_| out.bad += 1);
        match r {
            Ok(binary) => out.bad += binary,
            Err(e) => {
                out.error = Some(format!("sender: {e}"));
                return out;
            }
        }
        if next == shared.total {
            match wait(&mut ws, &mut stop).await {
                Ok(Wait::Data) => continue,
                Ok(Wait::Stopped) => break,
                Err(e) => {
                    out.error = Some(format!("sender: {e}"));
                    break;
                }
            }
        }
        if let Err(e) = ws.flush().await {
            out.error = Some(format!("sender: send: {e}"));
            return out;
        }
        tokio::select! {
            biased;
            _ = &mut stop => break,
            _ = tick.tick() => {
                frames::broadcast_frame(&mut frame, now_ns(), next as u64, size);
                if let Err(e) = ws.send_text(frame.as_bytes()).await {
                    out.error = Some(format!("sender: send: {e}"));
                    return out;
                }
                next += 1;
                shared.sent.store(next, Ordering::Relaxed);
            }
            r = ws.fill() => match r {
                Ok(true) => {}
                Ok(false) => {
                    out.error = Some("sender: closed by server".into());
                    return out;
                }
                Err(e) => {
                    out.error = Some(format!("sender: read: {e}"));
                    return out;
                }
            },
        }
    }
    out.bad += not_for_us;
    out
}
