//! [`EngineConfig`]: every option of the Engine.IO server.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Request};

use crate::cors::Cors;

/// A hook that may refuse a handshake: `Err((status, message))` refuses it with Engine.IO
/// error code 4 (`Forbidden`), HTTP 403 and `message` (or `"Forbidden"` when empty).
pub type AllowRequest = Arc<dyn Fn(&Request<()>) -> Result<(), String> + Send + Sync>;

/// A hook that adds headers to responses: gets the response headers and the request.
pub type HeadersHook = Arc<dyn Fn(&mut HeaderMap, &Request<()>) + Send + Sync>;

/// Transports a server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transports {
    /// HTTP long-polling.
    pub polling: bool,
    /// WebSocket.
    pub websocket: bool,
}

impl Default for Transports {
    fn default() -> Self {
        Self {
            polling: true,
            websocket: true,
        }
    }
}

/// The `io` session cookie set on the polling handshake response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cookie {
    /// Cookie name (default `io`).
    pub name: String,
    /// `Path` attribute (default `/`).
    pub path: String,
    /// `HttpOnly` attribute (default on).
    pub http_only: bool,
    /// `SameSite` attribute (default `Lax`).
    pub same_site: Option<String>,
}

impl Default for Cookie {
    fn default() -> Self {
        Self {
            name: "io".into(),
            path: "/".into(),
            http_only: true,
            same_site: Some("Lax".into()),
        }
    }
}

/// Configuration of an Engine.IO server. Defaults are those of Node's engine.io 6.
///
/// ```
/// use std::time::Duration;
/// use sockio_engine::EngineConfig;
///
/// let config = EngineConfig::builder()
///     .path("/engine.io/")
///     .ping_interval(Duration::from_millis(300))
///     .ping_timeout(Duration::from_millis(200))
///     .allow_eio3(true)
///     .build();
/// assert_eq!(config.max_payload, 1_000_000);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct EngineConfig {
    /// Request path prefix, with its trailing slash (default `/engine.io/`).
    pub path: String,
    /// Heartbeat interval (default 25 s).
    pub ping_interval: Duration,
    /// How long to wait for a heartbeat answer (default 20 s).
    pub ping_timeout: Duration,
    /// Longest time between an upgrade probe and the `upgrade` packet (default 10 s).
    pub upgrade_timeout: Duration,
    /// Largest POST body or WebSocket message, in bytes (`maxHttpBufferSize`, default 1e6).
    pub max_payload: usize,
    /// Transports accepted.
    pub transports: Transports,
    /// Whether polling sessions are offered the WebSocket upgrade (default true).
    pub allow_upgrades: bool,
    /// Whether Engine.IO protocol 3 (socket.io-client 2.x) is accepted (default false).
    pub allow_eio3: bool,
    /// Most packets in one polling response; the rest waits for the next GET (default 16,
    /// the most python-engineio accepts).
    pub max_packets_per_poll: usize,
    /// CORS policy applied to every request (default none).
    pub cors: Option<Cors>,
    /// Session cookie on the polling handshake (default none).
    pub cookie: Option<Cookie>,
    /// Handshake gate.
    pub allow_request: Option<AllowRequest>,
    /// Headers added to the first response of a session only.
    pub initial_headers: Option<HeadersHook>,
    /// Headers added to every polling response and WebSocket 101 response.
    pub headers: Option<HeadersHook>,
    /// A message sent right after the `open` packet.
    pub initial_packet: Option<String>,
    /// Outgoing bytes a session may have queued before it is closed as too slow (default 16 MiB).
    pub max_buffered_bytes: usize,
    /// Most sessions open at once (default 100 000); past it, handshakes are refused with
    /// HTTP 503 and the Engine.IO error body `{"code":3,"message":"Server full"}`.
    pub max_sessions: usize,
    /// Polling responses of at least this many bytes are gzip/deflate-compressed when the
    /// client accepts it (`httpCompression.threshold`, default 1024; `None` disables).
    pub http_compression: Option<usize>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            path: "/engine.io/".into(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_payload: 1_000_000,
            transports: Transports::default(),
            allow_upgrades: true,
            allow_eio3: false,
            max_packets_per_poll: 16,
            cors: None,
            cookie: None,
            allow_request: None,
            initial_headers: None,
            headers: None,
            initial_packet: None,
            max_buffered_bytes: 16 << 20,
            max_sessions: 100_000,
            http_compression: Some(1024),
        }
    }
}

impl fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineConfig")
            .field("path", &self.path)
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("upgrade_timeout", &self.upgrade_timeout)
            .field("max_payload", &self.max_payload)
            .field("transports", &self.transports)
            .field("allow_upgrades", &self.allow_upgrades)
            .field("allow_eio3", &self.allow_eio3)
            .field("cors", &self.cors)
            .field("cookie", &self.cookie)
            .finish_non_exhaustive()
    }
}

impl EngineConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> EngineConfigBuilder {
        EngineConfigBuilder(Self::default())
    }
}

/// Builds an [`EngineConfig`]; see its fields for the meaning of each option.
#[derive(Debug, Clone, Default)]
pub struct EngineConfigBuilder(EngineConfig);

impl EngineConfigBuilder {
    /// Request path; a trailing slash is added when missing.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let mut p: String = path.into();
        if !p.starts_with('/') {
            p.insert(0, '/');
        }
        if !p.ends_with('/') {
            p.push('/');
        }
        self.0.path = p;
        self
    }
    /// Heartbeat interval.
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.0.ping_interval = d;
        self
    }
    /// Heartbeat timeout.
    pub fn ping_timeout(mut self, d: Duration) -> Self {
        self.0.ping_timeout = d;
        self
    }
    /// Upgrade timeout.
    pub fn upgrade_timeout(mut self, d: Duration) -> Self {
        self.0.upgrade_timeout = d;
        self
    }
    /// Largest POST body / WebSocket message (`maxHttpBufferSize`).
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.0.max_payload = bytes;
        self
    }
    /// Transports accepted.
    pub fn transports(mut self, transports: impl AsRef<[crate::TransportKind]>) -> Self {
        let t = transports.as_ref();
        self.0.transports = Transports {
            polling: t.contains(&crate::TransportKind::Polling),
            websocket: t.contains(&crate::TransportKind::WebSocket),
        };
        self
    }
    /// Whether upgrades are offered.
    pub fn allow_upgrades(mut self, allow: bool) -> Self {
        self.0.allow_upgrades = allow;
        self
    }
    /// Whether EIO=3 clients are accepted.
    pub fn allow_eio3(mut self, allow: bool) -> Self {
        self.0.allow_eio3 = allow;
        self
    }
    /// Most packets per polling response.
    pub fn max_packets_per_poll(mut self, n: usize) -> Self {
        self.0.max_packets_per_poll = n.max(1);
        self
    }
    /// CORS policy.
    pub fn cors(mut self, cors: Cors) -> Self {
        self.0.cors = Some(cors);
        self
    }
    /// Session cookie.
    pub fn cookie(mut self, cookie: Cookie) -> Self {
        self.0.cookie = Some(cookie);
        self
    }
    /// Handshake gate: return `Err(message)` to refuse with 403 `Forbidden`.
    pub fn allow_request(
        mut self,
        f: impl Fn(&Request<()>) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.0.allow_request = Some(Arc::new(f));
        self
    }
    /// Headers for the first response of each session.
    pub fn initial_headers(
        mut self,
        f: impl Fn(&mut HeaderMap, &Request<()>) + Send + Sync + 'static,
    ) -> Self {
        self.0.initial_headers = Some(Arc::new(f));
        self
    }
    /// Headers for every polling and WebSocket 101 response.
    pub fn headers(
        mut self,
        f: impl Fn(&mut HeaderMap, &Request<()>) + Send + Sync + 'static,
    ) -> Self {
        self.0.headers = Some(Arc::new(f));
        self
    }
    /// A message sent right after the `open` packet.
    pub fn initial_packet(mut self, text: impl Into<String>) -> Self {
        self.0.initial_packet = Some(text.into());
        self
    }
    /// Outgoing queue bound in bytes per session.
    pub fn max_buffered_bytes(mut self, bytes: usize) -> Self {
        self.0.max_buffered_bytes = bytes;
        self
    }
    /// Most sessions open at once (default 100 000).
    pub fn max_sessions(mut self, n: usize) -> Self {
        self.0.max_sessions = n;
        self
    }
    /// Compression threshold of polling responses (`None` disables compression).
    pub fn http_compression(mut self, threshold: Option<usize>) -> Self {
        self.0.http_compression = threshold;
        self
    }
    /// The configuration.
    pub fn build(self) -> EngineConfig {
        self.0
    }
}

impl From<EngineConfig> for EngineConfigBuilder {
    fn from(config: EngineConfig) -> Self {
        Self(config)
    }
}
