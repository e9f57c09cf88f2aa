//! [`ClientBuilder`] and [`connect`]: the options, then the manager (a shared one from
//! the registry, or one of its own) and the socket.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use sockio_protocol::socket::{to_value, Value};

use crate::config::{Auth, ManagerConfig, SocketOptions};
use crate::driver::encode_component;
use crate::engine::{EngineOptions, ProtocolVersion, TransportKind};
use crate::error::Error;
use crate::event::Event;
use crate::manager::{normalize_nsp, Manager};
use crate::registry;
use crate::socket::Socket;
use crate::transport::{default_tls_config, Endpoint, ServerUrl};

type SocketHandler = Box<dyn FnOnce(&Socket) + Send>;

/// Connects to `url` (`http://host:3000/chat`: the path is the namespace) with the
/// default options and waits for the namespace connection.
///
/// ```no_run
/// # async fn f() -> Result<(), sockio_client::Error> {
/// let socket = sockio_client::connect("http://localhost:3000/").await?;
/// socket.emit("hello", "world")?;
/// # Ok(()) }
/// ```
pub async fn connect(url: &str) -> Result<Socket, Error> {
    ClientBuilder::new(url).connect().await
}

/// Options of a client, then [`connect`](Self::connect) (wait for the namespace),
/// [`build`](Self::build) (connect in the background) or [`manager`](Self::manager).
///
/// Defaults are socket.io-client's: path `/socket.io/`, polling then upgrade to
/// websocket, Engine.IO 4, reconnection with delays 1 s to 5 s randomized by 0.5,
/// unlimited attempts, 20 s to open a connection.
///
/// ```no_run
/// use std::time::Duration;
/// use sockio_client::{ClientBuilder, TransportKind, Value};
///
/// # async fn f() -> Result<(), sockio_client::Error> {
/// let socket = ClientBuilder::new("https://example.com/chat")
///     .transports([TransportKind::WebSocket])
///     .query("room", "lobby")
///     .header("x-api-key", "secret")?
///     .auth_with(|| async { Value::object([("token", "fresh")]) })
///     .reconnection_attempts(5)
///     .on("connect", |_| println!("connected"))
///     .on("news", |ev| println!("news: {:?}", ev.args))
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
pub struct ClientBuilder {
    url: Result<ServerUrl, Error>,
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    engine: EngineOptions,
    tls: Option<Arc<rustls::ClientConfig>>,
    reconnection: bool,
    reconnection_attempts: u32,
    reconnection_delay: Duration,
    reconnection_delay_max: Duration,
    randomization_factor: f64,
    timeout: Duration,
    force_new: bool,
    socket: SocketOptions,
    auth_error: Option<Error>,
    handlers: Vec<SocketHandler>,
}

impl ClientBuilder {
    /// Options for `url`; its path is the namespace, its query goes to the server.
    pub fn new(url: &str) -> ClientBuilder {
        let url = ServerUrl::parse(url);
        let query = match &url {
            Ok(u) if !u.query.is_empty() => u
                .query
                .split('&')
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (k.to_owned(), v.to_owned())
                })
                .collect(),
            _ => Vec::new(),
        };
        ClientBuilder {
            url,
            path: "/socket.io/".into(),
            query,
            headers: HeaderMap::new(),
            engine: EngineOptions::default(),
            tls: None,
            reconnection: true,
            reconnection_attempts: u32::MAX,
            reconnection_delay: Duration::from_millis(1000),
            reconnection_delay_max: Duration::from_millis(5000),
            randomization_factor: 0.5,
            timeout: Duration::from_secs(20),
            force_new: false,
            socket: SocketOptions::default(),
            auth_error: None,
            handlers: Vec::new(),
        }
    }

    /// The server's path (default `/socket.io/`).
    pub fn path(mut self, path: &str) -> Self {
        let mut p = normalize_nsp(path);
        if !p.ends_with('/') {
            p.push('/');
        }
        self.path = p;
        self
    }

    /// The transports, in order: the first opens, later ones are upgrades.
    pub fn transports(mut self, transports: impl AsRef<[TransportKind]>) -> Self {
        self.engine.transports = transports.as_ref().to_vec();
        self
    }

    /// Whether to upgrade from polling to websocket (default true).
    pub fn upgrade(mut self, upgrade: bool) -> Self {
        self.engine.upgrade = upgrade;
        self
    }

    /// Engine.IO protocol 3 (socket.io 2.x servers) instead of 4.
    pub fn eio3(mut self) -> Self {
        self.engine.version = ProtocolVersion::V3;
        self
    }

    /// The Engine.IO protocol revision.
    pub fn protocol(mut self, version: ProtocolVersion) -> Self {
        self.engine.version = version;
        self
    }

    /// Adds a query parameter to the connection URL (percent-encoded here).
    pub fn query(mut self, key: &str, value: &str) -> Self {
        self.query
            .push((encode_component(key), encode_component(value)));
        self
    }

    /// Adds a header to every HTTP request and the WebSocket handshake.
    pub fn header(mut self, name: &str, value: &str) -> Result<Self, Error> {
        let name = HeaderName::try_from(name).map_err(|e| Error::InvalidHeader(e.to_string()))?;
        let value =
            HeaderValue::try_from(value).map_err(|e| Error::InvalidHeader(e.to_string()))?;
        self.headers.insert(name, value);
        Ok(self)
    }

    /// The TLS configuration (default: webpki roots); see
    /// [`tls_config_with_roots`](crate::tls_config_with_roots) for custom roots.
    pub fn tls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Whether to reconnect (default true).
    pub fn reconnection(mut self, on: bool) -> Self {
        self.reconnection = on;
        self
    }

    /// How many reconnection attempts before `reconnect_failed` (default unlimited).
    pub fn reconnection_attempts(mut self, n: u32) -> Self {
        self.reconnection_attempts = n;
        self
    }

    /// The first reconnection delay (default 1 s), doubled on every attempt.
    pub fn reconnection_delay(mut self, d: Duration) -> Self {
        self.reconnection_delay = d;
        self
    }

    /// The longest reconnection delay (default 5 s).
    pub fn reconnection_delay_max(mut self, d: Duration) -> Self {
        self.reconnection_delay_max = d;
        self
    }

    /// The jitter of the delays, 0 to 1 (default 0.5).
    pub fn randomization_factor(mut self, f: f64) -> Self {
        self.randomization_factor = f.clamp(0.0, 1.0);
        self
    }

    /// How long opening a connection may take (default 20 s).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// A connection of its own instead of sharing one with other namespaces.
    pub fn force_new(mut self, on: bool) -> Self {
        self.force_new = on;
        self
    }

    /// The CONNECT payload: the same object on every connection.
    /// (A value that cannot be serialized fails the connection with
    /// [`Error::Serialize`].)
    pub fn auth(mut self, auth: impl serde::Serialize) -> Self {
        match to_value(&auth) {
            Ok(v) => self.socket.auth = Auth::Static(v),
            Err(e) => self.auth_error = Some(Error::Serialize(e.message().to_owned())),
        }
        self
    }

    /// The CONNECT payload computed on every (re)connection.
    pub fn auth_with<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Value> + Send + 'static,
    {
        self.socket.auth = Auth::Callback(Arc::new(move || Box::pin(f())));
        self
    }

    /// Resend unacknowledged emits up to `n` times (needs an ack timeout).
    pub fn retries(mut self, n: u32) -> Self {
        self.socket.retries = n;
        self
    }

    /// The default acknowledgement timeout.
    pub fn ack_timeout(mut self, d: Duration) -> Self {
        self.socket.ack_timeout = Some(d);
        self
    }

    /// Adds an event handler before connecting, so that no event is missed.
    pub fn on(mut self, event: &str, handler: impl Fn(Event) + Send + Sync + 'static) -> Self {
        let name = event.to_owned();
        self.handlers.push(Box::new(move |s: &Socket| {
            s.on(&name, handler);
        }));
        self
    }

    /// Adds an async event handler before connecting.
    pub fn on_async<F, Fut>(mut self, event: &str, handler: F) -> Self
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let name = event.to_owned();
        self.handlers.push(Box::new(move |s: &Socket| {
            s.on_async(&name, handler);
        }));
        self
    }

    /// Adds a handler of every server event before connecting.
    pub fn on_any(mut self, handler: impl Fn(Event) + Send + Sync + 'static) -> Self {
        self.handlers.push(Box::new(move |s: &Socket| {
            s.on_any(handler);
        }));
        self
    }

    fn config(&mut self) -> Result<(ManagerConfig, String), Error> {
        let url = self.url.clone()?;
        if let Some(e) = self.auth_error.take() {
            return Err(e);
        }
        // Plain URLs need no TLS configuration; the default one is shared process-wide.
        let tls = match (&self.tls, url.secure) {
            (_, false) => None,
            (Some(t), true) => Some(t.clone()),
            (None, true) => {
                Some(default_tls_config().map_err(|e| Error::TlsConfig(e.to_string()))?)
            }
        };
        let query = self
            .query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let key = format!(
            "{}://{}:{}{}?{query}#{:?}",
            if url.secure { "https" } else { "http" },
            url.host,
            url.port,
            self.path,
            self.engine
        );
        let config = ManagerConfig {
            endpoint: Endpoint::new(url, self.headers.clone(), tls, self.path.clone(), query),
            engine: self.engine.clone(),
            reconnection: self.reconnection,
            reconnection_attempts: self.reconnection_attempts,
            reconnection_delay: self.reconnection_delay,
            reconnection_delay_max: self.reconnection_delay_max,
            randomization_factor: self.randomization_factor,
            timeout: self.timeout,
            socket_defaults: self.socket.clone(),
        };
        Ok((config, key))
    }

    /// A manager of its own for these options (never shared through the cache); make
    /// sockets with [`Manager::socket`]. Needs a tokio runtime.
    pub fn manager(mut self) -> Result<Manager, Error> {
        let (config, key) = self.config()?;
        Ok(Manager::start(config, key))
    }

    fn socket(mut self) -> Result<Socket, Error> {
        let nsp = match &self.url {
            Ok(u) => u.namespace.clone(),
            Err(e) => return Err(e.clone()),
        };
        let (config, key) = self.config()?;
        let manager = if self.force_new {
            None
        } else {
            registry::find(&key, &normalize_nsp(&nsp)).map(|inner| Manager { inner })
        };
        let manager = match manager {
            Some(m) => m,
            // A manager of its own keeps no cache key (it is never looked up).
            None if self.force_new => Manager::start(config, String::new()),
            None => {
                let m = Manager::start(config, key.clone());
                registry::add(key, &m.inner);
                m
            }
        };
        let socket = manager.socket_with(&nsp, self.socket.clone());
        for register in self.handlers.drain(..) {
            register(&socket);
        }
        Ok(socket)
    }

    /// The socket of the URL's namespace, connecting in the background (`connecting`,
    /// then `connect` or `connect_error`). Sockets of other namespaces on the same
    /// server share its connection unless [`force_new`](Self::force_new). Needs a
    /// tokio runtime.
    pub fn build(self) -> Result<Socket, Error> {
        let socket = self.socket()?;
        socket.connect();
        Ok(socket)
    }

    /// Connects and waits for the namespace: the socket once `connect`ed; the server's
    /// refusal ([`Error::ConnectRefused`]), [`Error::ConnectFailed`] when reconnection
    /// gives up, or the transport error when reconnection is off.
    ///
    /// With reconnection on and unlimited attempts (the defaults), an unreachable server
    /// is tried until it answers: bound the wait with
    /// [`reconnection_attempts`](Self::reconnection_attempts) or `tokio::time::timeout`.
    pub async fn connect(self) -> Result<Socket, Error> {
        let socket = self.socket()?;
        match socket.connect_and_wait().await {
            Ok(()) => Ok(socket),
            Err(e) => {
                socket.disconnect();
                Err(e)
            }
        }
    }
}
