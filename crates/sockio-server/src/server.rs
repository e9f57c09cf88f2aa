//! [`SocketIo`]: the server — configuration, namespaces, server-wide state, and the
//! HTTP service.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use sockio_engine::cors::Cors;
use sockio_engine::{
    CloseReason, Engine, EngineConfig, EngineConfigBuilder, EngineService, TransportKind,
};

use crate::adapter::{Adapter, AdapterFactory, LocalAdapter};
use crate::args::IntoArgs;
use crate::client::SocketIoHandler;
use crate::config::{Limits, Parser, SocketIoConfig};
use crate::conn::Conn;
use crate::connect_timeout::ConnectDeadlines;
use crate::error::{
    AdapterError, ConnectError, DisconnectReason, EmitError, NamespacePatternError,
};
use crate::ids::IntoRooms;
use crate::namespace::Namespace;
use crate::namespaces::Namespaces;
use crate::operators::{broadcast_shortcuts, BroadcastOperator, RemoteSocket};
use crate::socket::Socket;

/// Builds a [`SocketIo`] server: every option of socket.io's `new Server(opts)`.
///
/// ```
/// use std::time::Duration;
/// use sockio_server::SocketIo;
///
/// let io = SocketIo::builder()
///     .ping_interval(Duration::from_secs(10))
///     .connect_timeout(Duration::from_secs(5))
///     .allow_eio3(true)
///     .build();
/// assert_eq!(io.config().engine.path, "/socket.io/");
/// ```
pub struct SocketIoBuilder {
    engine: EngineConfigBuilder,
    connect_timeout: Duration,
    limits: Limits,
    close_grace: Duration,
    cleanup_empty_child_namespaces: bool,
    parser: Parser,
    adapter: AdapterFactory,
}

impl SocketIoBuilder {
    fn new() -> Self {
        Self {
            engine: EngineConfig::builder().path("/socket.io/"),
            connect_timeout: Duration::from_secs(45),
            limits: Limits::default(),
            close_grace: Duration::from_secs(2),
            cleanup_empty_child_namespaces: false,
            parser: Parser::Default,
            adapter: Arc::new(|_| Arc::new(LocalAdapter)),
        }
    }

    /// Request path (default `/socket.io/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.engine = self.engine.path(path);
        self
    }
    /// Heartbeat interval (default 25 s).
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.engine = self.engine.ping_interval(d);
        self
    }
    /// Heartbeat timeout (default 20 s).
    pub fn ping_timeout(mut self, d: Duration) -> Self {
        self.engine = self.engine.ping_timeout(d);
        self
    }
    /// Upgrade timeout (default 10 s).
    pub fn upgrade_timeout(mut self, d: Duration) -> Self {
        self.engine = self.engine.upgrade_timeout(d);
        self
    }
    /// Largest message / POST body (`maxHttpBufferSize`, default 1e6 bytes).
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.engine = self.engine.max_payload(bytes);
        self
    }
    /// The transports accepted (default both): `[TransportKind::WebSocket]` for
    /// WebSocket only.
    pub fn transports(mut self, transports: impl AsRef<[TransportKind]>) -> Self {
        self.engine = self.engine.transports(transports);
        self
    }
    /// Whether polling sessions may upgrade (default true).
    pub fn allow_upgrades(mut self, allow: bool) -> Self {
        self.engine = self.engine.allow_upgrades(allow);
        self
    }
    /// Accept socket.io-client 2.x (Engine.IO 3) (default false).
    pub fn allow_eio3(mut self, allow: bool) -> Self {
        self.engine = self.engine.allow_eio3(allow);
        self
    }
    /// CORS policy.
    pub fn cors(mut self, cors: Cors) -> Self {
        self.engine = self.engine.cors(cors);
        self
    }
    /// Outgoing bytes queued per connection before it is closed as too slow.
    pub fn max_buffered_bytes(mut self, bytes: usize) -> Self {
        self.engine = self.engine.max_buffered_bytes(bytes);
        self
    }
    /// Handshake gate (`allowRequest`): `Err(message)` refuses with 403.
    pub fn allow_request(
        mut self,
        f: impl Fn(&http::Request<()>) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.engine = self.engine.allow_request(f);
        self
    }
    /// Replaces the Engine.IO settings wholesale.
    pub fn engine_config(mut self, config: EngineConfig) -> Self {
        self.engine = EngineConfigBuilder::from(config);
        self
    }
    /// Time allowed to join a namespace after connecting (default 45 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }
    /// Most attachments per packet (default 10).
    pub fn max_attachments(mut self, n: usize) -> Self {
        self.limits.max_attachments = n;
        self
    }
    /// Deepest JSON nesting of a packet (default 128).
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.limits.max_depth = depth;
        self
    }
    /// Longest event name in bytes (default 1024).
    pub fn max_event_name_len(mut self, bytes: usize) -> Self {
        self.limits.max_event_name_len = bytes;
        self
    }
    /// Most namespaces one connection may join (default 100).
    pub fn max_namespaces_per_connection(mut self, n: usize) -> Self {
        self.limits.max_namespaces_per_connection = n;
        self
    }
    /// Most connections open at once (default 100 000); past it, handshakes get HTTP 503.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.engine = self.engine.max_sessions(n);
        self
    }
    /// How long [`SocketIo::close`] waits for connections and sessions to end (default
    /// 2 s).
    pub fn close_grace(mut self, grace: Duration) -> Self {
        self.close_grace = grace;
        self
    }
    /// Most acknowledgements awaited from one socket at once (default 1024).
    pub fn max_pending_acks(mut self, n: usize) -> Self {
        self.limits.max_pending_acks = n;
        self
    }
    /// Removes a dynamic namespace's child when its last socket leaves (socket.io's
    /// `cleanupEmptyChildNamespaces`; default: kept).
    pub fn cleanup_empty_child_namespaces(mut self) -> Self {
        self.cleanup_empty_child_namespaces = true;
        self
    }
    /// The packet format (socket.io's `parser` option): [`Parser::MsgPack`] for clients
    /// using socket.io-msgpack-parser.
    pub fn parser(mut self, parser: Parser) -> Self {
        self.parser = parser;
        self
    }
    /// The adapter each namespace gets (default: [`LocalAdapter`]).
    ///
    /// `factory` gets each namespace's name and returns its adapter, the namespace's
    /// boundary to the other servers of a cluster (see [`Adapter`]).
    pub fn adapter(
        mut self,
        factory: impl Fn(&str) -> Arc<dyn Adapter> + Send + Sync + 'static,
    ) -> Self {
        self.adapter = Arc::new(factory);
        self
    }

    /// The server. Namespace `/` exists from the start.
    pub fn build(self) -> SocketIo {
        let config = SocketIoConfig {
            engine: self.engine.build(),
            connect_timeout: self.connect_timeout,
            limits: self.limits,
            close_grace: self.close_grace,
            cleanup_empty_child_namespaces: self.cleanup_empty_child_namespaces,
            parser: self.parser,
        };
        let connect_deadlines = ConnectDeadlines::new(self.connect_timeout);
        let inner = Arc::new_cyclic(|me: &Weak<ServerInner>| {
            let server: Weak<dyn Any + Send + Sync> = me.clone();
            let namespaces = Namespaces::new(
                server,
                self.adapter,
                config.parser,
                config.cleanup_empty_child_namespaces,
            );
            let engine = Engine::new(
                config.engine.clone(),
                SocketIoHandler {
                    namespaces: Arc::downgrade(&namespaces),
                    parser: config.parser,
                    limits: config.limits,
                    connect_deadlines: connect_deadlines.clone(),
                },
            );
            connect_deadlines.set_engine(engine.downgrade());
            ServerInner {
                config,
                namespaces,
                engine,
                state: RwLock::default(),
            }
        });
        let io = SocketIo(inner);
        io.of("/");
        io
    }
}

pub(crate) struct ServerInner {
    config: SocketIoConfig,
    namespaces: Arc<Namespaces>,
    engine: Engine<Conn>,
    state: RwLock<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// The Socket.IO server — socket.io's `io`. Cheap to clone; every clone is the same server.
///
/// ```no_run
/// use sockio_server::SocketIo;
///
/// # async fn run() -> std::io::Result<()> {
/// let io = SocketIo::new();
/// io.on_connection(|socket| {
///     socket.on("chat message", |socket, mut event| {
///         // to everyone, the sender included, the arguments as they came
///         if let Some(io) = socket.server() {
///             let _ = io.emit("chat message", event.take_args());
///         }
///     });
/// });
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// io.serve(listener).await
/// # }
/// ```
#[derive(Clone)]
pub struct SocketIo(Arc<ServerInner>);

impl std::fmt::Debug for SocketIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketIo")
            .field("config", &self.0.config)
            .finish_non_exhaustive()
    }
}

impl Default for SocketIo {
    fn default() -> Self {
        Self::new()
    }
}

impl SocketIo {
    /// A server with socket.io's defaults.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder for every option.
    pub fn builder() -> SocketIoBuilder {
        SocketIoBuilder::new()
    }

    /// The configuration.
    pub fn config(&self) -> &SocketIoConfig {
        &self.0.config
    }

    /// The Engine.IO server underneath.
    pub fn engine(&self) -> &Engine<Conn> {
        &self.0.engine
    }

    /// The namespace `name` (`"/chat"` or `"chat"`), created if it does not exist.
    pub fn of(&self, name: &str) -> Namespace {
        self.0.namespaces.of(name)
    }

    /// A dynamic namespace: every name `accept` returns true for becomes, on its first
    /// connection, a namespace of its own (own sockets, rooms, broadcasts) sharing the
    /// middlewares and connection listeners set on the returned parent.
    pub fn of_dynamic(&self, accept: impl Fn(&str) -> bool + Send + Sync + 'static) -> Namespace {
        self.0.namespaces.add_dynamic(Arc::new(accept))
    }

    /// A dynamic namespace whose names match the regular expression `pattern`
    /// (e.g. `^/dyn-[a-z0-9-]+$`).
    pub fn of_regex(&self, pattern: &str) -> Result<Namespace, NamespacePatternError> {
        let re =
            regex_lite::Regex::new(pattern).map_err(|e| NamespacePatternError(e.to_string()))?;
        Ok(self.of_dynamic(move |name| re.is_match(name)))
    }

    /// Every namespace that exists now.
    pub fn namespaces(&self) -> Vec<Namespace> {
        self.0.namespaces.all()
    }

    /// The main namespace, `/` (socket.io's `io.sockets`).
    pub fn sockets(&self) -> Namespace {
        self.of("/")
    }

    /// A connection middleware of `/` (socket.io's `io.use`), see
    /// [`Namespace::middleware`].
    pub fn middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        self.sockets().middleware(middleware)
    }

    /// Connection listener of `/` (`io.on("connection")`).
    pub fn on_connection(&self, handler: impl Fn(&Socket) + Send + Sync + 'static) {
        self.sockets().on_connection(handler)
    }

    /// Emits to every socket of `/`.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        self.sockets().emit(event, args)
    }

    /// `io.send(...)`: the `message` event to everyone in `/`.
    pub fn send(&self, args: impl IntoArgs) -> Result<(), EmitError> {
        self.sockets().send(args)
    }

    fn operator(&self) -> BroadcastOperator {
        self.sockets().all()
    }

    broadcast_shortcuts!("in `/`.", flags);

    /// The sockets of `/`, of every server.
    pub fn fetch_sockets(
        &self,
    ) -> impl Future<Output = Result<Vec<RemoteSocket>, AdapterError>> + Send + 'static {
        self.sockets().fetch_sockets()
    }

    /// Makes every socket of `/` join `rooms`.
    pub fn sockets_join(&self, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        self.sockets().sockets_join(rooms)
    }

    /// Makes every socket of `/` leave `rooms`.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        self.sockets().sockets_leave(rooms)
    }

    /// Disconnects every socket of `/`.
    pub fn disconnect_sockets(&self) -> Result<(), AdapterError> {
        self.sockets().disconnect_sockets()
    }

    /// A server-side event to the other servers of the cluster (in `/`).
    pub fn server_side_emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        self.sockets().server_side_emit(event, args)
    }

    /// Stores server-wide state of type `T`, reachable from every handler through
    /// [`Socket::server`] and [`SocketIo::state`].
    pub fn set_state<T: Send + Sync + 'static>(&self, state: T) {
        write(&self.0.state).insert(TypeId::of::<T>(), Arc::new(state));
    }

    /// The server-wide state of type `T`.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        read(&self.0.state)
            .get(&TypeId::of::<T>())
            .cloned()
            .and_then(|a| a.downcast::<T>().ok())
    }

    /// Shuts down: every socket disconnects with `server shutting down` (the clients are
    /// told; pending acknowledgements fail), [`SocketIo::serve`] stops accepting and
    /// returns, every connection closes, the adapters stop, and every task of the server
    /// is awaited for at most [`SocketIoConfig::close_grace`]. True when they all ended
    /// in time.
    pub async fn close(&self) -> bool {
        let namespaces = self.namespaces();
        for ns in &namespaces {
            for s in ns.sockets() {
                s.on_close(DisconnectReason::ServerShuttingDown);
            }
        }
        let ended = self
            .engine()
            .shutdown(CloseReason::ServerShuttingDown, self.0.config.close_grace)
            .await;
        for ns in &namespaces {
            ns.close_adapter().await;
        }
        if !ended {
            tracing::warn!(
                tasks = self.engine().task_count(),
                "tasks still running after the close grace period"
            );
        }
        ended
    }

    /// The server as a tower service: its path, 404 elsewhere.
    pub fn service(&self) -> EngineService<Conn> {
        self.engine().service()
    }

    /// A tower layer serving this server's path in front of another service (an axum
    /// `Router`, say). Feature `layer` (on by default).
    #[cfg(feature = "layer")]
    pub fn layer(&self) -> sockio_engine::EngineLayer<Conn> {
        self.engine().layer()
    }

    /// Serves on `listener` until the task is dropped.
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        self.engine().serve(listener).await
    }
}

fn server_of(ns: &Namespace) -> Option<SocketIo> {
    let any = ns.0.server.upgrade()?;
    any.downcast::<ServerInner>().ok().map(SocketIo)
}

impl Namespace {
    /// The server.
    pub fn server(&self) -> Option<SocketIo> {
        server_of(self)
    }
}

impl Socket {
    /// The server this socket belongs to.
    pub fn server(&self) -> Option<SocketIo> {
        server_of(&self.namespace())
    }
}
