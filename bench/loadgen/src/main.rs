//! `loadgen`: the load generator of the benchmark (see `docs/benchmark-contract.md`).
//!
//! Speaks Engine.IO v4 / Socket.IO v5 over WebSocket itself to any server implementing the
//! bench contract on `127.0.0.1:PORT`, runs one scenario, checks every delivery and prints
//! one JSON object with the results on stdout. Progress and errors go to stderr.

mod client;
mod cluster;
mod connect;
mod connect_default;
mod echo;
mod fanout;
mod frames;
mod held;
mod http1;
mod ledger;
mod polling_broadcast;
mod progress;
mod stats;
mod syscalls;
mod ws;

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client::Target;
use crate::stats::Proc;

const USAGE: &str = "\
usage: loadgen --scenario <connect|fanout|fanout-slow|fanout-10k|fanout-burst|echo|echo-latency|
                           held-19k|polling-broadcast|connect-default|cluster> [options]

fanout-slow is fanout whose receivers parse every message as JSON (the load generator,
not the server, is the bottleneck: each socket has a backlog, as on real networks).
cluster is fanout over several servers joined by Redis (--ports; members round robin,
the sender on the first port), with each node's and redis-server's CPU (src/cluster.rs).
held-19k holds 19 000 idle WebSockets opened by worker processes (held-worker, 4 750 each);
polling-broadcast: 2 000 long-polling members, a broadcast every 100 ms; connect-default:
2 000 connections through polling, CONNECT, then the WebSocket upgrade.

options:
  --port PORT            server port on 127.0.0.1 (default 3900)
  --clients N            connections (default per scenario: connect 10000, fanout 1000,
                         fanout-10k 10000, fanout-burst 1000, echo 100, echo-latency 1)
  --messages N           broadcasts (fanout 1000, fanout-10k 100, fanout-burst 1000, cluster 5000) or
                         echoes per client (echo-latency 5000; echo: unlimited, runs --duration)
  --inflight N           broadcasts outstanding at most (fanout 32, fanout-10k 8,
                         fanout-burst: all at once)
  --size BYTES           payload size (default 100)
  --server-pid PID       server process, for CPU and memory figures from /proc
  --sources A,B,...      client source addresses in 127.0.0.0/8
                         (default 127.0.0.2 .. 127.0.0.9)
  --duration SECS        echo run time (default 5)
  --hold SECS            connect, connect-default: idle hold before measuring RSS
                         (default 2); held-19k: idle window (default 25, one ping interval)
  --timeout SECS         bound on each phase (setup, run) (default 60)
  --stall SECS           fanout: end early when nothing arrives for this long (default 5)
  --concurrency N        connection handshakes in progress at once (default 128)
  --threads N            runtime worker threads (default: CPUs in the affinity mask)
  --ports P1,P2,...      cluster: the nodes' ports (replaces --port)
  --server-pids A,B,...  cluster: the nodes' pids, in --ports order (CPU per node)
  --redis-pid PID        cluster: redis-server's pid (its CPU per broadcast)
";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    Connect,
    Fanout,
    FanoutSlow,
    Fanout10k,
    FanoutBurst,
    Echo,
    EchoLatency,
    Cluster,
    HeldIdle,
    HeldWorker,
    PollingBroadcast,
    ConnectDefault,
}

impl Scenario {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "connect" => Self::Connect,
            "fanout" => Self::Fanout,
            "fanout-slow" => Self::FanoutSlow,
            "fanout-10k" => Self::Fanout10k,
            "fanout-burst" => Self::FanoutBurst,
            "echo" => Self::Echo,
            "echo-latency" => Self::EchoLatency,
            "cluster" => Self::Cluster,
            "held-19k" => Self::HeldIdle,
            "held-worker" => Self::HeldWorker,
            "polling-broadcast" => Self::PollingBroadcast,
            "connect-default" => Self::ConnectDefault,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Fanout => "fanout",
            Self::FanoutSlow => "fanout-slow",
            Self::Fanout10k => "fanout-10k",
            Self::FanoutBurst => "fanout-burst",
            Self::Echo => "echo",
            Self::EchoLatency => "echo-latency",
            Self::Cluster => "cluster",
            Self::HeldIdle => "held-19k",
            Self::HeldWorker => "held-worker",
            Self::PollingBroadcast => "polling-broadcast",
            Self::ConnectDefault => "connect-default",
        }
    }

    /// (clients, messages, inflight) defaults; 0 messages = unlimited, 0 inflight = all.
    fn defaults(self) -> (usize, usize, usize) {
        match self {
            Self::Connect => (10_000, 0, 0),
            Self::Fanout | Self::FanoutSlow => (1_000, 1_000, 32),
            Self::Fanout10k => (10_000, 100, 8),
            Self::FanoutBurst => (1_000, 1_000, 0),
            Self::Echo => (100, 0, 1),
            Self::EchoLatency => (1, 5_000, 1),
            Self::Cluster => (1_000, 5_000, 32),
            Self::HeldIdle => (19_000, 0, 0),
            Self::HeldWorker => (held::PER_WORKER, 0, 0),
            Self::PollingBroadcast => (2_000, 200, 0),
            Self::ConnectDefault => (2_000, 0, 0),
        }
    }
}

/// Everything a scenario needs, defaults resolved.
pub struct Config {
    pub scenario: Scenario,
    pub target: Arc<Target>,
    pub clients: usize,
    pub messages: usize,
    pub inflight: usize,
    pub size: usize,
    pub server: Option<Proc>,
    pub server_pid: Option<u32>,
    pub duration: Duration,
    pub hold: Duration,
    pub timeout: Duration,
    pub stall: Duration,
    pub concurrency: usize,
    pub threads: Option<usize>,
    pub clk_tck: u64,
    /// `cluster`: the nodes (members spread over them) and the processes measured.
    pub cluster: Option<cluster::Cluster>,
}

static BASE: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since the load generator started (the `t` of broadcasts).
pub fn now_ns() -> u64 {
    BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

fn parse_args(args: &[String]) -> Result<Config, String> {
    let mut scenario = None;
    let mut port = 3900u16;
    let (mut clients, mut messages, mut inflight) = (None, None, None);
    let mut size = 100usize;
    let mut server_pid = None;
    let mut sources: Vec<Ipv4Addr> = (2..=9).map(|i| Ipv4Addr::new(127, 0, 0, i)).collect();
    let mut duration = 5.0f64;
    let mut hold = None;
    let mut timeout = 60.0f64;
    let mut stall = 5.0f64;
    let mut concurrency = 128usize;
    let mut threads = None;
    let (mut ports, mut pids, mut redis_pid) = (Vec::new(), Vec::new(), None);

    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .as_str();
        let num = |what: &str| -> Result<u64, String> {
            value
                .parse::<u64>()
                .map_err(|_| format!("{what}: not a number: {value}"))
        };
        let secs = |what: &str| -> Result<f64, String> {
            value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0 && *v <= 3600.0)
                .ok_or_else(|| format!("{what}: not a duration in seconds: {value}"))
        };
        match flag.as_str() {
            "--scenario" => {
                scenario = Some(
                    Scenario::parse(value).ok_or_else(|| format!("unknown scenario {value}"))?,
                )
            }
            "--port" => port = u16::try_from(num("--port")?).map_err(|_| "--port out of range")?,
            "--clients" => clients = Some(num("--clients")? as usize),
            "--messages" => messages = Some(num("--messages")? as usize),
            "--inflight" => inflight = Some(num("--inflight")? as usize),
            "--size" => size = num("--size")? as usize,
            "--server-pid" => {
                server_pid = Some(u32::try_from(num("--server-pid")?).map_err(|_| "bad pid")?)
            }
            "--sources" => {
                sources = value
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        let ip: Ipv4Addr =
                            s.trim().parse().map_err(|_| format!("bad address {s}"))?;
                        if ip.octets()[0] != 127 {
                            return Err(format!("{ip} is not in 127.0.0.0/8"));
                        }
                        Ok(ip)
                    })
                    .collect::<Result<_, String>>()?;
                if sources.is_empty() {
                    return Err("--sources is empty".into());
                }
            }
            "--duration" => duration = secs("--duration")?,
            "--hold" => hold = Some(secs("--hold")?),
            "--timeout" => timeout = secs("--timeout")?,
            "--stall" => stall = secs("--stall")?,
            "--concurrency" => concurrency = (num("--concurrency")? as usize).max(1),
            "--threads" => threads = Some((num("--threads")? as usize).max(1)),
            "--ports" => ports = cluster::parse_list::<u16>("--ports", value)?,
            "--server-pids" => pids = cluster::parse_list::<u32>("--server-pids", value)?,
            "--redis-pid" => {
                redis_pid = Some(u32::try_from(num("--redis-pid")?).map_err(|_| "bad pid")?)
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    let scenario = scenario.ok_or("--scenario is required")?;
    let (dc, dm, di) = scenario.defaults();
    let clients = clients.unwrap_or(dc);
    if clients == 0 || clients > 100_000 {
        return Err("--clients must be in 1..=100000".into());
    }
    let messages = messages.unwrap_or(dm);
    if messages > 10_000_000 {
        return Err("--messages must be at most 10000000".into());
    }
    if matches!(
        scenario,
        Scenario::Fanout
            | Scenario::FanoutSlow
            | Scenario::Fanout10k
            | Scenario::FanoutBurst
            | Scenario::Cluster
            | Scenario::PollingBroadcast
    ) && messages == 0
    {
        return Err("--messages must be at least 1 for fanout".into());
    }
    if size > 1 << 20 {
        return Err("--size must be at most 1 MiB".into());
    }
    let clk_tck = stats::clk_tck();
    let server = server_pid.map(|pid| Proc::pid(pid, clk_tck));
    if let Some(s) = &server {
        if !s.alive() {
            return Err(format!(
                "--server-pid {}: no such process",
                server_pid.unwrap()
            ));
        }
    }
    let cluster = match scenario {
        Scenario::Cluster => {
            if ports.is_empty() {
                return Err("cluster needs --ports".into());
            }
            Some(cluster::Cluster::new(
                &ports, &pids, redis_pid, &sources, clk_tck,
            )?)
        }
        _ => None,
    };
    let target = match &cluster {
        Some(c) => c.targets[0].clone(),
        None => Arc::new(Target::new(port, sources)),
    };
    Ok(Config {
        scenario,
        target,
        clients,
        messages,
        inflight: inflight.unwrap_or(di),
        size,
        server,
        server_pid,
        duration: Duration::from_secs_f64(duration),
        hold: Duration::from_secs_f64(hold.unwrap_or(if scenario == Scenario::HeldIdle {
            25.0
        } else {
            2.0
        })),
        timeout: Duration::from_secs_f64(timeout),
        stall: Duration::from_secs_f64(stall),
        concurrency,
        threads,
        clk_tck,
        cluster,
    })
}

fn main() -> ExitCode {
    now_ns();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = match parse_args(&args) {
        Ok(c) => c,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("loadgen: {e}");
            }
            eprint!("{USAGE}");
            return if e.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };

    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(n) = cfg.threads {
        builder.worker_threads(n);
    }
    let rt = match builder.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadgen: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };

    let me = Proc::this(cfg.clk_tck);
    let cpu0 = me.cpu_us();
    let wall0 = Instant::now();
    let mut result = rt.block_on(async {
        match cfg.scenario {
            Scenario::Connect => connect::run(&cfg).await,
            Scenario::Fanout
            | Scenario::FanoutSlow
            | Scenario::Fanout10k
            | Scenario::FanoutBurst
            | Scenario::Cluster => fanout::run(&cfg).await,
            Scenario::Echo | Scenario::EchoLatency => echo::run(&cfg).await,
            Scenario::HeldIdle => held::run(&cfg).await,
            Scenario::HeldWorker => held::worker(&cfg).await,
            Scenario::PollingBroadcast => polling_broadcast::run(&cfg).await,
            Scenario::ConnectDefault => connect_default::run(&cfg).await,
        }
    });
    // Client tasks have all returned; whatever is left is torn down without waiting long.
    rt.shutdown_timeout(Duration::from_secs(2));

    let mut head = json!({
        "scenario": cfg.scenario.name(),
        "port": cfg.target.port,
        "server_pid": cfg.server_pid,
        "sources": cfg.target.sources.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        "clk_tck": cfg.clk_tck,
        "loadgen_wall_secs": stats::round3(wall0.elapsed().as_secs_f64()),
        "loadgen_cpu_secs": match (cpu0, me.cpu_us()) {
            (Some(a), Some(b)) => json!(stats::round3(b.saturating_sub(a) as f64 / 1e6)),
            _ => Value::Null,
        },
    });
    let ok = run_ok(&result);
    if let (Some(h), Some(r)) = (head.as_object_mut(), result.as_object_mut()) {
        h.append(r);
        h.insert("ok".into(), json!(ok));
    }
    println!("{head}");
    ExitCode::SUCCESS
}

/// Whether a run is clean: every client set up, everything sent and received exactly once,
/// every ack right, no disconnect, nothing timed out.
fn run_ok(r: &Value) -> bool {
    let zero = |k: &str| r.get(k).is_none_or(|v| v.as_u64() == Some(0));
    let not_true = |k: &str| r.get(k).and_then(Value::as_bool) != Some(true);
    let not_false = |k: &str| r.get(k).and_then(Value::as_bool) != Some(false);
    [
        "connect_errors",
        "join_errors",
        "drops",
        "duplicates",
        "bad_frames",
        "errors",
        "timeouts",
        "disconnects",
    ]
    .iter()
    .all(|k| zero(k))
        && ["timed_out", "setup_timed_out", "stalled"]
            .iter()
            .all(|k| not_true(k))
        && not_false("complete")
        && r.get("sender_error").is_none_or(Value::is_null)
}

/// Server CPU and memory readings taken together (server ones `None` without
/// `--server-pid`), with the load generator's own CPU time.
#[derive(Clone, Copy, Default)]
pub struct ServerSample {
    pub cpu_us: Option<u64>,
    pub rss_kib: Option<u64>,
    pub own_cpu_us: Option<u64>,
}

impl Config {
    /// Where member `i` connects: its node in a cluster, else the one server.
    pub fn member_target(&self, i: usize) -> (Arc<Target>, usize) {
        match &self.cluster {
            Some(c) => {
                let k = c.node_of(i);
                (c.targets[k].clone(), k)
            }
            None => (self.target.clone(), 0),
        }
    }

    pub fn sample(&self) -> ServerSample {
        let own_cpu_us = Proc::this(self.clk_tck).cpu_us();
        match &self.server {
            Some(p) => ServerSample {
                cpu_us: p.cpu_us(),
                rss_kib: p.rss_kib(),
                own_cpu_us,
            },
            None => ServerSample {
                own_cpu_us,
                ..ServerSample::default()
            },
        }
    }

    pub fn server_status(&self, key: &str) -> Option<u64> {
        self.server.as_ref().and_then(|p| p.status_kib(key))
    }
}

/// Server CPU µs between two samples, divided by `per` (JSON null when unknown or `per` = 0).
pub fn cpu_per(a: ServerSample, b: ServerSample, per: u64) -> Value {
    match (a.cpu_us, b.cpu_us) {
        (Some(x), Some(y)) if per > 0 => {
            json!(stats::round3(y.saturating_sub(x) as f64 / per as f64))
        }
        _ => Value::Null,
    }
}

/// Server CPU seconds between two samples and the share of `wall` it represents.
pub fn cpu_json(a: ServerSample, b: ServerSample, wall: Duration) -> (Value, Value) {
    match (a.cpu_us, b.cpu_us) {
        (Some(x), Some(y)) => {
            let us = y.saturating_sub(x) as f64;
            let util = if wall.is_zero() {
                0.0
            } else {
                us / 1e6 / wall.as_secs_f64()
            };
            (json!(stats::round3(us / 1e6)), json!(stats::round3(util)))
        }
        _ => (Value::Null, Value::Null),
    }
}

/// The load generator's CPU share of `wall` between two samples: near 1.0 per worker thread
/// means the load generator, not the server, may be what limits the rate.
pub fn own_util(a: ServerSample, b: ServerSample, wall: Duration) -> Value {
    match (a.own_cpu_us, b.own_cpu_us) {
        (Some(x), Some(y)) if !wall.is_zero() => {
            json!(stats::round3(
                y.saturating_sub(x) as f64 / 1e6 / wall.as_secs_f64()
            ))
        }
        _ => Value::Null,
    }
}

/// Joins client tasks, giving up on stragglers after `timeout` overall.
pub async fn join_all<T>(handles: Vec<tokio::task::JoinHandle<T>>, timeout: Duration) -> Vec<T> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        let abort = h.abort_handle();
        match tokio::time::timeout_at(deadline, h).await {
            Ok(Ok(v)) => out.push(v),
            Ok(Err(e)) => eprintln!("loadgen: client task failed: {e}"),
            Err(_) => abort.abort(),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn defaults_per_scenario() {
        let c = parse_args(&args("--scenario fanout-10k")).unwrap();
        assert_eq!((c.clients, c.messages, c.inflight), (10_000, 100, 8));
        assert_eq!(c.target.port, 3900);
        assert_eq!(c.size, 100);
        assert_eq!(c.target.sources.len(), 8);
        let c = parse_args(&args(
            "--scenario echo --clients 3 --port 4000 --sources 127.0.0.1",
        ))
        .unwrap();
        assert_eq!(c.clients, 3);
        assert_eq!(c.target.port, 4000);
        assert_eq!(c.target.sources, vec![Ipv4Addr::LOCALHOST]);
    }

    #[test]
    fn ok_summarises_the_checks() {
        assert!(run_ok(
            &json!({"drops": 0, "complete": true, "sender_error": null})
        ));
        assert!(!run_ok(&json!({"drops": 3, "complete": true})));
        assert!(!run_ok(&json!({"drops": 0, "complete": false})));
        assert!(!run_ok(&json!({"errors": 0, "timed_out": true})));
        assert!(!run_ok(&json!({"sender_error": "closed"})));
        assert!(run_ok(&json!({"connect_errors": 0, "disconnects": 0})));
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(parse_args(&args("")).is_err());
        assert!(parse_args(&args("--scenario nope")).is_err());
        assert!(parse_args(&args("--scenario echo --sources 10.0.0.1")).is_err());
        assert!(parse_args(&args("--scenario echo --clients")).is_err());
        assert!(parse_args(&args("--scenario echo --bogus 1")).is_err());
        assert!(parse_args(&args("--scenario fanout --messages 0")).is_err());
        assert!(parse_args(&args("--scenario echo --clients 0")).is_err());
        assert!(parse_args(&args("--scenario cluster")).is_err());
        let c = parse_args(&args("--scenario cluster --ports 4001,4002,4003")).unwrap();
        assert_eq!(c.target.port, 4001);
        assert_eq!(c.member_target(4).0.port, 4002);
    }
}
