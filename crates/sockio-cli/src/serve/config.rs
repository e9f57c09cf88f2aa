//! The configuration of `sockio serve`: command-line flags, each with an environment
//! variable, over an optional TOML file (`--config FILE`), over the defaults.
//!
//! ```toml
//! # sockio.toml — every key is optional
//! port = 3000
//! bind = "127.0.0.1"
//! path = "/socket.io"
//! cors_origins = ["http://localhost:8080"]   # or ["*"]
//! ping_interval_ms = 25000
//! ping_timeout_ms = 20000
//! max_payload = 1000000
//! transports = ["polling", "websocket"]
//! log = "info,sockio=debug"
//! client_dir = "crates/sockio-cli/node_modules/socket.io-client/dist"
//! redis = "redis://127.0.0.1:6379"          # one node of a cluster (see below)
//! redis_adapter = "classic"                  # or "sharded" (Redis >= 7)
//! redis_key = "socket.io"                    # the channel prefix, the same on every node
//! ```
//!
//! With `redis`, the server is one node of a cluster: every node started with the same
//! Redis, adapter and key serves one chat (a Redis adapter of `sockio-redis`, the wire
//! format of Node's `@socket.io/redis-adapter`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Deserialize;
use sockio::engine::cors::{AllowOrigin, Cors};
use sockio::engine::TransportKind;

/// Where the socket.io-client bundle is looked for when neither `--client-dir` nor the
/// file says: the `npm ci` of this crate's folder (`scripts/setup.sh`).
pub const DEFAULT_CLIENT_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/node_modules/socket.io-client/dist"
);

/// `sockio serve`'s flags. Each has an environment variable; both win over the file.
#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// A TOML file with any of the settings below (flags and variables win over it).
    #[arg(long, env = "SOCKIO_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The TCP port (0: any free one; the first line printed says which) [default: 3000].
    #[arg(short, long, env = "SOCKIO_PORT")]
    pub port: Option<u16>,
    /// The address to listen on (0.0.0.0 to be reachable from other machines)
    /// [default: 127.0.0.1].
    #[arg(long, env = "SOCKIO_BIND", value_name = "ADDR")]
    pub bind: Option<IpAddr>,
    /// The Socket.IO path [default: /socket.io].
    #[arg(long, env = "SOCKIO_PATH")]
    pub path: Option<String>,
    /// Origins allowed by CORS, comma-separated, `*` for any [default: same origin only].
    #[arg(
        long = "cors-origin",
        env = "SOCKIO_CORS_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    pub cors_origins: Option<Vec<String>>,
    /// Milliseconds between heartbeats [default: 25000].
    #[arg(
        long = "ping-interval",
        env = "SOCKIO_PING_INTERVAL",
        value_name = "MS"
    )]
    pub ping_interval_ms: Option<u64>,
    /// Milliseconds to wait for a heartbeat's answer [default: 20000].
    #[arg(long = "ping-timeout", env = "SOCKIO_PING_TIMEOUT", value_name = "MS")]
    pub ping_timeout_ms: Option<u64>,
    /// The largest message a client may send, in bytes [default: 1000000].
    #[arg(long, env = "SOCKIO_MAX_PAYLOAD", value_name = "BYTES")]
    pub max_payload: Option<usize>,
    /// Transports accepted, comma-separated: polling, websocket [default: both].
    #[arg(
        long,
        env = "SOCKIO_TRANSPORTS",
        value_delimiter = ',',
        value_name = "LIST"
    )]
    pub transports: Option<Vec<String>>,
    /// The log filter (tracing's env-filter syntax: `info`, `debug,hyper=info`…)
    /// [default: info].
    #[arg(long, env = "SOCKIO_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// The folder holding socket.io-client's `dist/` files [default: this crate's
    /// node_modules/socket.io-client/dist, installed by scripts/setup.sh].
    #[arg(long, env = "SOCKIO_CLIENT_DIR", value_name = "DIR")]
    pub client_dir: Option<PathBuf>,
    /// Join a cluster through this Redis: `redis://HOST:PORT` (or `redis-cluster://HOST:PORT`
    /// for a Redis Cluster, sharded adapter) [default: no cluster, one server alone].
    #[arg(long, env = "SOCKIO_REDIS", value_name = "URL")]
    pub redis: Option<String>,
    /// Which Redis adapter: classic (`createAdapter`) or sharded (`createShardedAdapter`,
    /// Redis >= 7); every node of a cluster must use the same [default: classic].
    #[arg(long, env = "SOCKIO_REDIS_ADAPTER", value_name = "KIND")]
    pub redis_adapter: Option<String>,
    /// The Redis channel prefix, the same on every node [default: socket.io].
    #[arg(long, env = "SOCKIO_REDIS_KEY", value_name = "KEY")]
    pub redis_key: Option<String>,
}

/// The TOML file: the same settings, all optional; unknown keys are an error.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    port: Option<u16>,
    bind: Option<IpAddr>,
    path: Option<String>,
    cors_origins: Option<Vec<String>>,
    ping_interval_ms: Option<u64>,
    ping_timeout_ms: Option<u64>,
    max_payload: Option<usize>,
    transports: Option<Vec<String>>,
    log: Option<String>,
    client_dir: Option<PathBuf>,
    redis: Option<String>,
    redis_adapter: Option<String>,
    redis_key: Option<String>,
}

/// The settings `sockio serve` runs with, checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub port: u16,
    pub bind: IpAddr,
    /// Starts and ends with `/` (as the engine matches it).
    pub path: String,
    pub cors: Option<Cors>,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub max_payload: usize,
    pub transports: Vec<TransportKind>,
    pub log: String,
    pub client_dir: PathBuf,
    /// One node of a cluster through this Redis.
    pub redis: Option<Redis>,
}

/// The Redis of a cluster node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redis {
    /// `redis://…` or `redis-cluster://…`.
    pub url: String,
    /// Sharded (`createShardedAdapter`) rather than classic (`createAdapter`).
    pub sharded: bool,
    /// The channel prefix.
    pub key: String,
}

impl Config {
    /// Flags over the file (when `--config` names one) over the defaults.
    pub fn load(args: ServeArgs) -> Result<Self, String> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        Self::merge(args, file)
    }

    fn merge(args: ServeArgs, file: FileConfig) -> Result<Self, String> {
        let path = normalize_path(args.path.or(file.path).as_deref().unwrap_or("/socket.io"))?;
        let transports = parse_transports(
            &args
                .transports
                .or(file.transports)
                .unwrap_or_else(|| vec!["polling".into(), "websocket".into()]),
        )?;
        let cors = cors(args.cors_origins.or(file.cors_origins).unwrap_or_default())?;
        let ping_interval_ms = args
            .ping_interval_ms
            .or(file.ping_interval_ms)
            .unwrap_or(25_000);
        let ping_timeout_ms = args
            .ping_timeout_ms
            .or(file.ping_timeout_ms)
            .unwrap_or(20_000);
        if ping_interval_ms == 0 || ping_timeout_ms == 0 {
            return Err("ping interval and ping timeout must be at least 1 ms".into());
        }
        let max_payload = args.max_payload.or(file.max_payload).unwrap_or(1_000_000);
        if max_payload == 0 {
            return Err("max payload must be at least 1 byte".into());
        }
        let redis = redis(
            args.redis.or(file.redis),
            args.redis_adapter.or(file.redis_adapter),
            args.redis_key.or(file.redis_key),
        )?;
        Ok(Self {
            port: args.port.or(file.port).unwrap_or(3000),
            bind: args
                .bind
                .or(file.bind)
                .unwrap_or(IpAddr::from([127, 0, 0, 1])),
            path,
            cors,
            ping_interval: Duration::from_millis(ping_interval_ms),
            ping_timeout: Duration::from_millis(ping_timeout_ms),
            max_payload,
            transports,
            log: args.log.or(file.log).unwrap_or_else(|| "info".into()),
            client_dir: args
                .client_dir
                .or(file.client_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_CLIENT_DIR)),
            redis,
        })
    }
}

fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    parse_file(&text).map_err(|e| format!("config file {}: {e}", path.display()))
}

/// Parses the TOML text; the error is one line (TOML's own message spans several).
fn parse_file(text: &str) -> Result<FileConfig, String> {
    toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .and_then(|span| text.get(..span.start))
            .map(|before| before.matches('\n').count() + 1);
        let message = e.message().replace('\n', " ");
        match line {
            Some(line) => format!("line {line}: {message}"),
            None => message,
        }
    })
}

/// `/socket.io` → `/socket.io/`; the path must start with `/` and hold no query.
fn normalize_path(path: &str) -> Result<String, String> {
    if !path.starts_with('/') || path.contains(['?', '#', ' ']) || path == "/" {
        return Err(format!(
            "path {path:?}: expected an absolute path such as /socket.io"
        ));
    }
    let mut p = path.to_owned();
    if !p.ends_with('/') {
        p.push('/');
    }
    Ok(p)
}

fn parse_transports(names: &[String]) -> Result<Vec<TransportKind>, String> {
    let mut out = Vec::new();
    for name in names {
        let t = match name.trim() {
            "polling" => TransportKind::Polling,
            "websocket" => TransportKind::WebSocket,
            other => {
                return Err(format!(
                    "unknown transport {other:?}: expected polling or websocket"
                ))
            }
        };
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.is_empty() {
        return Err("at least one transport is needed (polling, websocket)".into());
    }
    Ok(out)
}

/// The Redis settings: the adapter and key only make sense with a URL.
fn redis(
    url: Option<String>,
    adapter: Option<String>,
    key: Option<String>,
) -> Result<Option<Redis>, String> {
    let Some(url) = url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()) else {
        if adapter.is_some() || key.is_some() {
            return Err("--redis-adapter and --redis-key need --redis URL".into());
        }
        return Ok(None);
    };
    if !(url.starts_with("redis://")
        || url.starts_with("rediss://")
        || url.starts_with("redis-cluster://"))
    {
        return Err(format!(
            "redis URL {url:?}: expected redis://HOST:PORT or redis-cluster://HOST:PORT"
        ));
    }
    let sharded = match adapter.as_deref().map(str::trim) {
        None | Some("classic") => false,
        Some("sharded") => true,
        Some(other) => {
            return Err(format!(
                "unknown redis adapter {other:?}: expected classic or sharded"
            ))
        }
    };
    let key = key.unwrap_or_else(|| "socket.io".into());
    if key.is_empty() || key.chars().any(|c| c.is_control() || c == '#') {
        return Err(format!(
            "redis key {key:?}: expected a non-empty prefix without '#'"
        ));
    }
    Ok(Some(Redis { url, sharded, key }))
}

fn cors(origins: Vec<String>) -> Result<Option<Cors>, String> {
    let origins: Vec<String> = origins
        .into_iter()
        .map(|o| o.trim().to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    if origins.is_empty() {
        return Ok(None);
    }
    if origins.iter().any(|o| o == "*") {
        return Ok(Some(Cors::new(AllowOrigin::Any)));
    }
    for o in &origins {
        if !(o.starts_with("http://") || o.starts_with("https://")) || o.ends_with('/') {
            return Err(format!(
                "CORS origin {o:?}: expected scheme://host[:port], e.g. http://localhost:8080"
            ));
        }
    }
    Ok(Some(Cors::new(AllowOrigin::List(origins))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = Config::merge(ServeArgs::default(), FileConfig::default()).unwrap();
        assert_eq!(c.port, 3000);
        assert_eq!(c.bind.to_string(), "127.0.0.1");
        assert_eq!(c.path, "/socket.io/");
        assert!(c.cors.is_none());
        assert_eq!(c.ping_interval, Duration::from_secs(25));
        assert_eq!(c.ping_timeout, Duration::from_secs(20));
        assert_eq!(c.max_payload, 1_000_000);
        assert_eq!(
            c.transports,
            [TransportKind::Polling, TransportKind::WebSocket]
        );
        assert_eq!(c.log, "info");
        assert_eq!(c.client_dir, PathBuf::from(DEFAULT_CLIENT_DIR));
        assert_eq!(c.redis, None);
    }

    #[test]
    fn redis_settings() {
        let with = |f: &str| Config::merge(ServeArgs::default(), parse_file(f).unwrap());
        let c = with("redis = \"redis://127.0.0.1:6379\"").unwrap();
        assert_eq!(
            c.redis,
            Some(Redis {
                url: "redis://127.0.0.1:6379".into(),
                sharded: false,
                key: "socket.io".into()
            })
        );
        let file = parse_file(
            "redis = \"redis://a:1\"\nredis_adapter = \"classic\"\nredis_key = \"chat\"",
        )
        .unwrap();
        let args = ServeArgs {
            redis_adapter: Some("sharded".into()),
            ..Default::default()
        };
        let c = Config::merge(args, file).unwrap();
        assert_eq!(
            c.redis,
            Some(Redis {
                url: "redis://a:1".into(),
                sharded: true,
                key: "chat".into()
            })
        );
        assert!(with("redis = \"http://a:1\"").is_err());
        assert!(with("redis = \"redis://a:1\"\nredis_adapter = \"fancy\"").is_err());
        assert!(with("redis = \"redis://a:1\"\nredis_key = \"\"").is_err());
        assert!(with("redis_adapter = \"sharded\"").is_err());
    }

    #[test]
    fn flags_win_over_the_file() {
        let file = parse_file(
            "port = 4000\npath = \"/io\"\ntransports = [\"websocket\"]\nping_interval_ms = 1000\ncors_origins = [\"*\"]\n",
        )
        .unwrap();
        let args = ServeArgs {
            port: Some(5000),
            ..Default::default()
        };
        let c = Config::merge(args, file).unwrap();
        assert_eq!(c.port, 5000);
        assert_eq!(c.path, "/io/");
        assert_eq!(c.transports, [TransportKind::WebSocket]);
        assert_eq!(c.ping_interval, Duration::from_secs(1));
        assert_eq!(c.cors, Some(Cors::new(AllowOrigin::Any)));
    }

    #[test]
    fn bad_files_say_where() {
        let e = parse_file("port = \"x\"\n").unwrap_err();
        assert!(e.starts_with("line 1:"), "{e}");
        assert!(!e.contains('\n'));
        let e = parse_file("port = 1\nprot = 2\n").unwrap_err();
        assert!(e.starts_with("line 2:") && e.contains("prot"), "{e}");
        let e = parse_file("port = [").unwrap_err();
        assert!(!e.contains('\n'), "{e}");
        assert!(parse_file("port = 70000").is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        let with = |f: &str| Config::merge(ServeArgs::default(), parse_file(f).unwrap());
        assert!(with("path = \"socket.io\"").is_err());
        assert!(with("path = \"/\"").is_err());
        assert!(with("transports = [\"carrier-pigeon\"]").is_err());
        assert!(with("transports = []").is_err());
        assert!(with("cors_origins = [\"localhost\"]").is_err());
        assert!(with("ping_timeout_ms = 0").is_err());
        assert!(with("max_payload = 0").is_err());
        let c = with("cors_origins = [\"http://a.test\", \"https://b.test:8443\"]").unwrap();
        assert_eq!(
            c.cors,
            Some(Cors::new(AllowOrigin::List(vec![
                "http://a.test".into(),
                "https://b.test:8443".into()
            ])))
        );
    }
}
