//! `connect-default`: N connections through the default client path of socket.io-client
//! (polling handshake, Socket.IO CONNECT over polling, then the WebSocket upgrade with
//! `2probe` / `3probe`, the pending poll released with `noop`, then `5`), held idle. As
//! socket.io-client does in Node and browsers, the keep-alive HTTP connection used for
//! polling stays open and idle after the upgrade (until the server closes it). Reports the
//! server CPU per connect and the server RSS per connection once upgraded.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};

use crate::client::{clip, drain, next_text, send, wait, Setup, Target, Wait, READ_BUFFER};
use crate::connect::{report, rss_per_conn, Samples};
use crate::http1::{self, Http};
use crate::ws::Ws;
use crate::{frames, join_all, Config};

const POLLING: &str = "/socket.io/?EIO=4&transport=polling";

/// Counters the connections update while held.
#[derive(Default)]
struct Held {
    /// WebSockets the server closed.
    disconnects: AtomicUsize,
    /// Idle polling connections the server closed.
    polling_closed: AtomicUsize,
}

pub async fn run(cfg: &Config) -> Value {
    let n = cfg.clients;
    let setup = Arc::new(Setup::default());
    let held = Arc::new(Held::default());
    let gate = Arc::new(Semaphore::new(cfg.concurrency));
    let (stop_tx, stop_rx) = watch::channel(false);

    let before = cfg.sample();
    let t0 = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (target, setup, gate, held, stop) = (
                cfg.target.clone(),
                setup.clone(),
                gate.clone(),
                held.clone(),
                stop_rx.clone(),
            );
            tokio::spawn(async move {
                let opened = {
                    let _permit = gate.acquire().await;
                    match tokio::time::timeout(target.open_timeout, open(&target, i)).await {
                        Ok(r) => r,
                        Err(_) => Err("default path: timed out".into()),
                    }
                };
                match opened {
                    Ok((http, ws)) => {
                        setup.succeed();
                        idle(http, ws, stop, &held).await;
                    }
                    Err(e) => setup.fail(e),
                }
            })
        })
        .collect();

    let finished = setup.wait(n, cfg.timeout).await;
    let connect_time = t0.elapsed();
    let after_connect = cfg.sample();
    let connected = setup.ok.load(Ordering::Relaxed);
    eprintln!(
        "loadgen: {connected} of {n} upgraded in {:.3} s; holding {:.1} s",
        connect_time.as_secs_f64(),
        cfg.hold.as_secs_f64()
    );
    let polling_closed_at_connect = held.polling_closed.load(Ordering::Relaxed);
    tokio::time::sleep(cfg.hold).await;
    let after_hold = cfg.sample();
    let hwm = cfg.server_status("VmHWM");
    let disconnects = held.disconnects.load(Ordering::Relaxed);
    let polling_closed = held.polling_closed.load(Ordering::Relaxed);

    let _ = stop_tx.send(true);
    join_all(handles, Duration::from_secs(10)).await;

    let samples = Samples {
        before,
        connected: after_connect,
        held: after_hold,
    };
    let mut out = report(cfg, &setup, finished, connect_time, &samples);
    out["server_rss_connected_kib"] = json!(after_connect.rss_kib);
    out["server_rss_kib_per_conn_connected"] = rss_per_conn(before, after_connect, connected);
    out["server_vmhwm_kib"] = json!(hwm);
    out["polling_conns_closed_by_server_at_connect"] = json!(polling_closed_at_connect);
    out["polling_conns_closed_by_server"] = json!(polling_closed);
    out["disconnects"] = json!(disconnects);
    out
}

/// The default client path for client `i`: the polling connection (kept) and the WebSocket.
async fn open(target: &Target, i: usize) -> Result<(Http, Ws), String> {
    let mut http = Http::new(target.tcp(i).await?, target.host(), 4 << 10);
    let r = http.request("GET", POLLING, b"").await?;
    if r.status != 200 {
        return Err(format!("handshake: HTTP {}", r.status));
    }
    let sid = http1::packets(&r.body)
        .find_map(http1::open_sid)
        .ok_or_else(|| {
            format!(
                "handshake: no OPEN in {}",
                clip(&String::from_utf8_lossy(&r.body))
            )
        })?;
    let path = format!("{POLLING}&sid={sid}");
    // CONNECT over polling, then poll for its ack.
    let r = http
        .request("POST", &path, frames::CONNECT.as_bytes())
        .await?;
    if r.status != 200 {
        return Err(format!("POST CONNECT: HTTP {}", r.status));
    }
    loop {
        let r = http.request("GET", &path, b"").await?;
        if r.status != 200 {
            return Err(format!("poll: HTTP {}", r.status));
        }
        let mut acked = false;
        for p in http1::packets(&r.body) {
            if p.starts_with(b"40{") {
                acked = true;
            } else if p != b"6" && p != frames::PING.as_bytes() {
                return Err(format!(
                    "expected CONNECT ack, got {}",
                    clip(&String::from_utf8_lossy(p))
                ));
            }
        }
        if acked {
            break;
        }
    }
    // Polling goes on (a GET pending) while the WebSocket probes.
    http.send("GET", &path, b"").await?;
    let ws_path = format!("/socket.io/?EIO=4&transport=websocket&sid={sid}");
    let stream = target.tcp(i).await?;
    let mut ws = Ws::handshake(stream, target.host(), &ws_path, READ_BUFFER, i as u32)
        .await
        .map_err(|e| format!("websocket: {e}"))?;
    send(&mut ws, "2probe").await?;
    let f = next_text(&mut ws).await?;
    if f != "3probe" {
        return Err(format!("expected 3probe, got {}", clip(&f)));
    }
    // The pending GET is released (with `noop`) before the client sends `upgrade`.
    let r = http.response().await?;
    if r.status != 200 {
        return Err(format!("poll during probe: HTTP {}", r.status));
    }
    send(&mut ws, "5").await?;
    Ok((http, ws))
}

/// Holds a connection: the WebSocket answers pings, the polling connection sits idle.
async fn idle(mut http: Http, mut ws: Ws, mut stop: watch::Receiver<bool>, held: &Held) {
    let stop = stop.changed();
    tokio::pin!(stop);
    let mut polling_open = !http.closed;
    if !polling_open {
        held.polling_closed.fetch_add(1, Ordering::Relaxed);
    }
    loop {
        if drain(&mut ws, |_| {}).is_err() {
            break;
        }
        if polling_open {
            if ws.flush().await.is_err() {
                break;
            }
            tokio::select! {
                biased;
                _ = &mut stop => return,
                _ = http.closed_by_server() => {
                    polling_open = false;
                    held.polling_closed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                r = ws.fill() => match r {
                    Ok(true) => continue,
                    _ => break,
                },
            }
        }
        match wait(&mut ws, &mut stop).await {
            Ok(Wait::Data) => {}
            Ok(Wait::Stopped) => return,
            Err(_) => break,
        }
    }
    held.disconnects.fetch_add(1, Ordering::Relaxed);
}
