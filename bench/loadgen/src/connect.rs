//! `connect`: open N Socket.IO connections as fast as the server accepts them, hold them idle,
//! and report the connect rate, server CPU per connect and server RSS per idle connection.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};

use crate::client::{drain, wait, Setup, Wait};
use crate::stats::round3;
use crate::ws::Ws;
use crate::{cpu_json, cpu_per, join_all, own_util, Config, ServerSample};

pub async fn run(cfg: &Config) -> Value {
    let n = cfg.clients;
    let target = cfg.target.clone();
    let setup = Arc::new(Setup::default());
    let gate = Arc::new(Semaphore::new(cfg.concurrency));
    let disconnects = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);

    let before = cfg.sample();
    let t0 = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (target, setup, gate, disconnects, stop) = (
                target.clone(),
                setup.clone(),
                gate.clone(),
                disconnects.clone(),
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
                        idle(ws, stop, &disconnects).await;
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
        "loadgen: {connected} of {n} connected in {:.3} s; holding {:.1} s",
        connect_time.as_secs_f64(),
        cfg.hold.as_secs_f64()
    );

    tokio::time::sleep(cfg.hold).await;
    let after_hold = cfg.sample();
    let hwm = cfg.server_status("VmHWM");
    let disconnected_in_hold = disconnects.load(Ordering::Relaxed);

    let _ = stop_tx.send(true);
    join_all(handles, Duration::from_secs(10)).await;

    let samples = Samples {
        before,
        connected: after_connect,
        held: after_hold,
    };
    let mut out = report(cfg, &setup, finished, connect_time, &samples);
    out["server_vmhwm_kib"] = json!(hwm);
    out["disconnects"] = json!(disconnected_in_hold);
    out
}

/// The server sampled before the first connect, once every client connected, and after
/// the idle hold.
pub struct Samples {
    pub before: ServerSample,
    pub connected: ServerSample,
    pub held: ServerSample,
}

/// The report of a connect scenario (`connect`, `connect-default`): connects, their rate
/// and server CPU, server RSS per connection after the hold.
pub fn report(
    cfg: &Config,
    setup: &Setup,
    finished: bool,
    connect_time: Duration,
    s: &Samples,
) -> Value {
    let connected = setup.ok.load(Ordering::Relaxed);
    let (cpu_secs, cpu_util) = cpu_json(s.before, s.connected, connect_time);
    json!({
        "clients": cfg.clients,
        "connected": connected,
        "connect_errors": setup.failed.load(Ordering::Relaxed),
        "first_error": setup.first_error(),
        "setup_timed_out": !finished,
        "concurrency": cfg.concurrency,
        "connect_secs": round3(connect_time.as_secs_f64()),
        "connects_per_sec": round3(connected as f64 / connect_time.as_secs_f64()),
        "server_cpu_secs": cpu_secs,
        "server_cpu_util": cpu_util,
        "loadgen_cpu_util": own_util(s.before, s.connected, connect_time),
        "server_cpu_us_per_connect": cpu_per(s.before, s.connected, connected as u64),
        "hold_secs": round3(cfg.hold.as_secs_f64()),
        "server_rss_before_kib": s.before.rss_kib,
        "server_rss_after_kib": s.held.rss_kib,
        "server_rss_kib_per_conn": rss_per_conn(s.before, s.held, connected),
    })
}

/// Server RSS growth from `before` to `after`, per connection (KiB).
pub fn rss_per_conn(before: ServerSample, after: ServerSample, connected: usize) -> Value {
    match (before.rss_kib, after.rss_kib) {
        (Some(a), Some(b)) if connected > 0 => {
            json!(round3((b as f64 - a as f64) / connected as f64))
        }
        _ => Value::Null,
    }
}

/// An idle connection: answers pings until told to stop or the server closes it.
async fn idle(mut ws: Ws, mut stop: watch::Receiver<bool>, disconnects: &AtomicUsize) {
    let stop = stop.changed();
    tokio::pin!(stop);
    loop {
        if drain(&mut ws, |_| {}).is_err() {
            break;
        }
        match wait(&mut ws, &mut stop).await {
            Ok(Wait::Data) => {}
            Ok(Wait::Stopped) => return,
            Err(_) => break,
        }
    }
    disconnects.fetch_add(1, Ordering::Relaxed);
}
