//! [`SocketIo`]: the server — configuration, namespaces, and the HTTP service.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use sockio_engine::cors::Cors;
use sockio_engine::{
    CloseReason, Engine, EngineConfig, EngineConfigBuilder, EngineLayer, EngineService,
};

use crate::adapter::{Adapter, LocalAdapter};
use crate::client::{Conn, SocketIoHandler};
use crate::connect_timeout::ConnectDeadlines;
use crate::error::{ConnectError, DisconnectReason, EmitError};
use crate::event::IntoArgs;
use crate::ids::IntoRooms;
use crate::namespace::Namespace;
use crate::operators::BroadcastOperator;
use crate::socket::Socket;

type Matcher = Arc<dyn Fn(&str) -> bool + Send + Sync>;
type AdapterFactory = Arc<dyn Fn(&str) -> Box<dyn Adapter> + Send + Sync>;

/// The packet format of a server (socket.io's `parser` option). Both sides must use the
/// same one; it is not negotiated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Parser {
    /// socket.io-parser: JSON text plus binary attachments (the default).
    #[default]
    Default,
    /// socket.io-msgpack-parser: each packet one msgpack-encoded binary message.
    MsgPack,
}

/// Settings of the Socket.IO layer (the Engine.IO ones are in [`EngineConfig`]).
#[derive(Clone)]
pub struct SocketIoConfig {
    /// The Engine.IO settings (path `/socket.io/` by default).
    pub engine: EngineConfig,
    /// How long a connection may stay without joining a namespace (default 45 s).
    pub connect_timeout: Duration,
    /// Most binary attachments a packet may announce (default 10).
    pub max_attachments: usize,
    /// Remove a dynamic namespace's child when its last socket leaves (default false).
    pub cleanup_empty_child_namespaces: bool,
    /// The packet format (default: socket.io-parser).
    pub parser: Parser,
}

impl std::fmt::Debug for SocketIoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketIoConfig")
            .field("engine", &self.engine)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_attachments", &self.max_attachments)
            .finish_non_exhaustive()
    }
}

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
    max_attachments: usize,
    cleanup_empty_child_namespaces: bool,
    parser: Parser,
    adapter: AdapterFactory,
}

impl SocketIoBuilder {
    fn new() -> Self {
        Self {
            engine: EngineConfig::builder().path("/socket.io/"),
            connect_timeout: Duration::from_secs(45),
            max_attachments: sockio_protocol::socket::DEFAULT_MAX_ATTACHMENTS,
            cleanup_empty_child_namespaces: false,
            parser: Parser::Default,
            adapter: Arc::new(|_| Box::new(LocalAdapter::default())),
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
    /// Transports accepted (default both).
    pub fn transports(mut self, polling: bool, websocket: bool) -> Self {
        self.engine = self.engine.transports(polling, websocket);
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
        self.max_attachments = n;
        self
    }
    /// Remove empty children of dynamic namespaces.
    pub fn cleanup_empty_child_namespaces(mut self, yes: bool) -> Self {
        self.cleanup_empty_child_namespaces = yes;
        self
    }
    /// The packet format (socket.io's `parser` option): [`Parser::MsgPack`] for clients
    /// using socket.io-msgpack-parser.
    pub fn parser(mut self, parser: Parser) -> Self {
        self.parser = parser;
        self
    }
    /// The adapter each namespace gets (default: [`LocalAdapter`]).
    pub fn adapter(
        mut self,
        factory: impl Fn(&str) -> Box<dyn Adapter> + Send + Sync + 'static,
    ) -> Self {
        self.adapter = Arc::new(factory);
        self
    }

    /// The server. Namespace `/` exists from the start.
    pub fn build(self) -> SocketIo {
        let config = SocketIoConfig {
            engine: self.engine.build(),
            connect_timeout: self.connect_timeout,
            max_attachments: self.max_attachments,
            cleanup_empty_child_namespaces: self.cleanup_empty_child_namespaces,
            parser: self.parser,
        };
        let inner = Arc::new(ServerInner {
            config,
            namespaces: RwLock::default(),
            dynamic: RwLock::default(),
            engine: OnceLock::new(),
            state: RwLock::default(),
            adapter: self.adapter,
            connect_deadlines: ConnectDeadlines::new(self.connect_timeout),
        });
        let engine = Engine::new(
            inner.config.engine.clone(),
            SocketIoHandler {
                server: Arc::downgrade(&inner),
                parser: inner.config.parser,
            },
        );
        let _ = inner.engine.set(engine);
        let io = SocketIo(inner);
        io.of("/");
        io
    }
}

pub(crate) struct ServerInner {
    pub(crate) config: SocketIoConfig,
    namespaces: RwLock<HashMap<String, Namespace>>,
    dynamic: RwLock<Vec<(Matcher, Namespace)>>,
    engine: OnceLock<Engine<Conn>>,
    state: RwLock<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    adapter: AdapterFactory,
    pub(crate) connect_deadlines: Arc<ConnectDeadlines>,
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

fn normalize(name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("/{name}")
    }
}

impl ServerInner {
    /// The namespace a CONNECT to `name` joins: an existing one, or a new child of the
    /// first dynamic namespace whose matcher accepts the name.
    pub(crate) fn namespace_for_connection(self: &Arc<Self>, name: &str) -> Option<Namespace> {
        if let Some(ns) = read(&self.namespaces).get(name) {
            return Some(ns.clone());
        }
        let parent = read(&self.dynamic)
            .iter()
            .find(|(m, _)| m(name))
            .map(|(_, p)| p.clone())?;
        let mut map = write(&self.namespaces);
        let ns = map
            .entry(name.to_owned())
            .or_insert_with(|| parent.new_child(name, (self.adapter)(name)))
            .clone();
        Some(ns)
    }

    pub(crate) fn remove_empty_child(&self, ns: &Namespace) {
        if !self.config.cleanup_empty_child_namespaces {
            return;
        }
        let mut map = write(&self.namespaces);
        if map
            .get(ns.name())
            .is_some_and(|n| Arc::ptr_eq(&n.0, &ns.0) && n.is_empty())
        {
            map.remove(ns.name());
        }
    }
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
pub struct SocketIo(pub(crate) Arc<ServerInner>);

impl std::fmt::Debug for SocketIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketIo")
            .field("config", &self.0.config)
            .finish()
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
        // Set in `build`, before the server is handed out.
        self.0.engine.get().expect("engine set at build time")
    }

    /// The namespace `name` (`"/chat"` or `"chat"`), created if it does not exist.
    pub fn of(&self, name: &str) -> Namespace {
        let name = normalize(name);
        if let Some(ns) = read(&self.0.namespaces).get(&name) {
            return ns.clone();
        }
        write(&self.0.namespaces)
            .entry(name.clone())
            .or_insert_with(|| {
                Namespace::new(
                    &name,
                    Arc::downgrade(&self.0),
                    None,
                    (self.0.adapter)(&name),
                )
            })
            .clone()
    }

    /// A dynamic namespace: every name `accept` returns true for becomes, on its first
    /// connection, a namespace of its own (own sockets, rooms, broadcasts) sharing the
    /// middlewares and connection listeners set on the returned parent.
    pub fn of_dynamic(&self, accept: impl Fn(&str) -> bool + Send + Sync + 'static) -> Namespace {
        let parent = Namespace::new_parent(
            "/_dynamic",
            Arc::downgrade(&self.0),
            Box::new(LocalAdapter::default()),
        );
        write(&self.0.dynamic).push((Arc::new(accept), parent.clone()));
        parent
    }

    /// A dynamic namespace whose names match the regular expression `pattern`
    /// (e.g. `^/dyn-[a-z0-9-]+$`).
    pub fn of_regex(&self, pattern: &str) -> Result<Namespace, regex_lite::Error> {
        let re = regex_lite::Regex::new(pattern)?;
        Ok(self.of_dynamic(move |name| re.is_match(name)))
    }

    /// Every namespace that exists now.
    pub fn namespaces(&self) -> Vec<Namespace> {
        read(&self.0.namespaces).values().cloned().collect()
    }

    /// The main namespace, `/` (socket.io's `io.sockets`).
    pub fn sockets(&self) -> Namespace {
        self.of("/")
    }

    /// A connection middleware of `/` (`io.use`).
    pub fn use_<F, Fut>(&self, middleware: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        self.sockets().use_(middleware)
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

    /// The sockets of `/` in `rooms` (a socket id targets one client).
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.sockets().to(rooms)
    }

    /// Same as [`SocketIo::to`].
    pub fn in_(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// Every socket of `/` but those in `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.sockets().except(rooms)
    }

    /// This server's sockets of `/` only.
    pub fn local(&self) -> BroadcastOperator {
        self.sockets().local()
    }

    /// Volatile broadcast to `/`.
    pub fn volatile(&self) -> BroadcastOperator {
        self.sockets().volatile()
    }

    /// Broadcast with acknowledgements to `/`, waiting at most `timeout`.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.sockets().timeout(timeout)
    }

    /// The sockets of `/` (of every server, with a cluster adapter).
    pub fn fetch_sockets(&self) -> impl std::future::Future<Output = Vec<Socket>> + Send + 'static {
        self.sockets().all().fetch_sockets()
    }

    /// Makes every socket of `/` join `rooms`.
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        self.sockets().all().sockets_join(rooms)
    }

    /// Makes every socket of `/` leave `rooms`.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        self.sockets().all().sockets_leave(rooms)
    }

    /// Disconnects every socket of `/`.
    pub fn disconnect_sockets(&self, close: bool) {
        self.sockets().disconnect_sockets(close)
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

    /// Shuts down: every socket disconnects with `server shutting down`, then every
    /// connection closes.
    pub async fn close(&self) {
        for ns in self.namespaces() {
            for s in ns.sockets() {
                s.on_close(DisconnectReason::ServerShuttingDown);
            }
        }
        self.engine().close_all(CloseReason::ServerShuttingDown);
        tokio::task::yield_now().await;
    }

    /// The server as a tower service: its path, 404 elsewhere.
    pub fn service(&self) -> EngineService<Conn> {
        self.engine().service()
    }

    /// A tower layer serving this server's path in front of another service (an axum
    /// `Router`, say).
    pub fn layer(&self) -> EngineLayer<Conn> {
        self.engine().layer()
    }

    /// Serves on `listener` until the task is dropped.
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        self.engine().serve(listener).await
    }
}
