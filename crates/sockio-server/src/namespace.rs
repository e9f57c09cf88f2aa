//! [`Namespace`]: a communication channel of the server (`/`, `/chat`, …) with its own
//! sockets, rooms, middlewares and connection listeners.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};

use sockio_protocol::socket::Value;

use crate::adapter::Adapter;
use crate::error::{BroadcastAckError, ConnectError, EmitError};
use crate::event::IntoArgs;
use crate::ids::{IntoRooms, Room, SocketId};
use crate::operators::BroadcastOperator;
use crate::server::ServerInner;
use crate::socket::Socket;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
pub(crate) type Middleware =
    Arc<dyn Fn(Socket) -> BoxFuture<Result<(), ConnectError>> + Send + Sync>;
pub(crate) type ConnectionHandler = Arc<dyn Fn(&Socket) + Send + Sync>;
pub(crate) type ServerSideHandler = Arc<dyn Fn(&[Value]) + Send + Sync>;
pub(crate) type ServerSideAckHandler = Arc<dyn Fn(&[Value]) -> Value + Send + Sync>;

pub(crate) struct NsInner {
    name: Arc<str>,
    server: Weak<ServerInner>,
    /// For a child of a dynamic namespace: the parent whose middlewares and connection
    /// listeners it shares.
    parent: Option<Namespace>,
    /// For a dynamic namespace (a parent): its children, which its broadcasts reach.
    children: Option<RwLock<Vec<Weak<NsInner>>>>,
    sockets: RwLock<HashMap<SocketId, Socket>>,
    adapter: Box<dyn Adapter>,
    middlewares: RwLock<Vec<Middleware>>,
    on_connection: RwLock<Vec<ConnectionHandler>>,
    server_side: RwLock<HashMap<String, Vec<ServerSideHandler>>>,
    server_side_ack: RwLock<HashMap<String, ServerSideAckHandler>>,
    ack_ids: AtomicU64,
    parser: crate::server::Parser,
}

/// A namespace. Cheap to clone; every clone is the same namespace.
///
/// ```no_run
/// # fn f(io: sockio_server::SocketIo) {
/// let chat = io.of("/chat");
/// chat.use_(|socket| async move {
///     match socket.auth().get("token").and_then(|t| t.as_str()) {
///         Some("secret") => Ok(()),
///         _ => Err(sockio_server::ConnectError::new("not authorized")),
///     }
/// });
/// chat.on_connection(|socket| {
///     let _ = socket.emit("welcome", socket.id().as_str());
/// });
/// # }
/// ```
#[derive(Clone)]
pub struct Namespace(pub(crate) Arc<NsInner>);

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Namespace").field(&self.0.name).finish()
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

impl Namespace {
    pub(crate) fn new(
        name: &str,
        server: Weak<ServerInner>,
        parent: Option<Namespace>,
        adapter: Box<dyn Adapter>,
    ) -> Self {
        Self::build(name, server, parent, adapter, false)
    }

    /// The parent of dynamic namespaces: it has no sockets of its own, and what it
    /// broadcasts reaches every child.
    pub(crate) fn new_parent(
        name: &str,
        server: Weak<ServerInner>,
        adapter: Box<dyn Adapter>,
    ) -> Self {
        Self::build(name, server, None, adapter, true)
    }

    /// A new child of this dynamic parent.
    pub(crate) fn new_child(&self, name: &str, adapter: Box<dyn Adapter>) -> Self {
        let child = Self::build(
            name,
            self.0.server.clone(),
            Some(self.clone()),
            adapter,
            false,
        );
        if let Some(children) = &self.0.children {
            let mut list = write(children);
            list.retain(|c| c.strong_count() > 0);
            list.push(Arc::downgrade(&child.0));
        }
        child
    }

    /// The namespaces an operation on this one acts on: itself, or a parent's children.
    pub(crate) fn targets(&self) -> Vec<Namespace> {
        match &self.0.children {
            Some(children) => read(children)
                .iter()
                .filter_map(Weak::upgrade)
                .map(Namespace)
                .collect(),
            None => vec![self.clone()],
        }
    }

    fn build(
        name: &str,
        server: Weak<ServerInner>,
        parent: Option<Namespace>,
        adapter: Box<dyn Adapter>,
        is_parent: bool,
    ) -> Self {
        let parser = server
            .upgrade()
            .map(|s| s.config.parser)
            .unwrap_or_default();
        Self(Arc::new(NsInner {
            name: Arc::from(name),
            server,
            parent,
            children: is_parent.then(RwLock::default),
            sockets: RwLock::default(),
            adapter,
            middlewares: RwLock::default(),
            on_connection: RwLock::default(),
            server_side: RwLock::default(),
            server_side_ack: RwLock::default(),
            ack_ids: AtomicU64::new(0),
            parser,
        }))
    }

    /// The packet format of the server (default or msgpack).
    pub(crate) fn parser(&self) -> crate::server::Parser {
        self.0.parser
    }

    /// The name, e.g. `/chat`.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The server.
    pub fn server(&self) -> Option<crate::SocketIo> {
        self.0.server.upgrade().map(crate::SocketIo)
    }

    /// The adapter holding this namespace's rooms.
    pub fn adapter(&self) -> &dyn Adapter {
        &*self.0.adapter
    }

    pub(crate) fn next_ack_id(&self) -> u64 {
        self.0.ack_ids.fetch_add(1, Ordering::Relaxed)
    }

    /// Adds a connection middleware (`namespace.use`): it runs before the socket is
    /// connected, in the order added, and may refuse the connection — the client gets
    /// `connect_error` with the error's message and data.
    pub fn use_<F, Fut>(&self, middleware: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        write(&self.0.middlewares).push(Arc::new(move |s| Box::pin(middleware(s))));
    }

    /// Runs `handler` for every socket that connects (`namespace.on("connection")`).
    pub fn on_connection(&self, handler: impl Fn(&Socket) + Send + Sync + 'static) {
        write(&self.0.on_connection).push(Arc::new(handler));
    }

    /// Listens for a server-side event sent by another server of the cluster with
    /// [`Namespace::server_side_emit`].
    pub fn on_server_side(
        &self,
        event: impl Into<String>,
        handler: impl Fn(&[Value]) + Send + Sync + 'static,
    ) {
        write(&self.0.server_side)
            .entry(event.into())
            .or_default()
            .push(Arc::new(handler));
    }

    /// Sends a server-side event to the **other** servers of the cluster (none with the
    /// in-memory adapter: then it reaches nobody, as in socket.io).
    pub fn server_side_emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        if matches!(event, "connect" | "connection" | "new_namespace")
            || sockio_protocol::socket::is_reserved_event(event)
        {
            return Err(EmitError::ReservedEvent(event.to_owned()));
        }
        let _args = args.into_args()?;
        Ok(())
    }

    /// Answers a server-side event sent with [`Namespace::server_side_emit_with_ack`] by
    /// another server: `handler` gets the arguments and returns the answer.
    pub fn on_server_side_with_ack(
        &self,
        event: impl Into<String>,
        handler: impl Fn(&[Value]) -> Value + Send + Sync + 'static,
    ) {
        write(&self.0.server_side_ack).insert(event.into(), Arc::new(handler));
    }

    /// Sends a server-side event to the other servers and collects one answer from each
    /// (none with the in-memory adapter: an empty list at once).
    pub fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> impl Future<Output = Result<Vec<Value>, BroadcastAckError>> + Send + 'static {
        let sent = self.server_side_emit(event, args);
        async move {
            match sent {
                Ok(()) => Ok(Vec::new()),
                Err(_) => Err(BroadcastAckError {
                    responses: Vec::new(),
                }),
            }
        }
    }

    /// Answers a server-side event with acknowledgement received from another server.
    pub fn answer_server_side(&self, event: &str, args: &[Value]) -> Option<Value> {
        let handler = read(&self.0.server_side_ack).get(event).cloned()?;
        Some(handler(args))
    }

    /// Delivers a server-side event received from another server.
    pub fn receive_server_side(&self, event: &str, args: &[Value]) {
        let handlers = read(&self.0.server_side)
            .get(event)
            .cloned()
            .unwrap_or_default();
        for h in handlers {
            h(args);
        }
    }

    /// How many servers serve this namespace (1 with the in-memory adapter).
    pub fn server_count(&self) -> usize {
        self.0.adapter.server_count()
    }

    pub(crate) fn middlewares(&self) -> Vec<Middleware> {
        let mut all = match &self.0.parent {
            Some(p) => p.middlewares(),
            None => Vec::new(),
        };
        all.extend(read(&self.0.middlewares).iter().cloned());
        all
    }

    pub(crate) fn connection_handlers(&self) -> Vec<ConnectionHandler> {
        let mut all = match &self.0.parent {
            Some(p) => p.connection_handlers(),
            None => Vec::new(),
        };
        all.extend(read(&self.0.on_connection).iter().cloned());
        all
    }

    pub(crate) fn add_socket(&self, socket: &Socket) {
        write(&self.0.sockets).insert(socket.id().clone(), socket.clone());
        self.0.adapter.add_all(socket, &[Room::from(socket.id())]);
    }

    pub(crate) fn remove_socket(&self, socket: &Socket) {
        let empty = {
            let mut sockets = write(&self.0.sockets);
            sockets.remove(socket.id());
            sockets.is_empty()
        };
        if empty && self.0.parent.is_some() {
            if let Some(server) = self.0.server.upgrade() {
                server.remove_empty_child(self);
            }
        }
    }

    /// The socket `id` of this namespace on this server.
    pub fn socket(&self, id: &str) -> Option<Socket> {
        read(&self.0.sockets).get(id).cloned()
    }

    /// Every socket of this namespace on this server.
    pub fn sockets(&self) -> Vec<Socket> {
        read(&self.0.sockets).values().cloned().collect()
    }

    /// How many sockets this namespace has on this server.
    pub fn len(&self) -> usize {
        read(&self.0.sockets).len()
    }

    /// Whether no socket is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every room with at least one socket (socket id rooms included).
    pub fn rooms(&self) -> Vec<Room> {
        self.0.adapter.rooms()
    }

    // --- broadcasting -------------------------------------------------------------------

    /// An operator targeting every socket of the namespace.
    pub fn all(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.clone())
    }

    /// Emits to every socket of the namespace.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        self.all().emit(event, args)
    }

    /// `namespace.send(...)`: emits `message` to everyone.
    pub fn send(&self, args: impl IntoArgs) -> Result<(), EmitError> {
        self.emit("message", args)
    }

    /// The sockets in `rooms`.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.all().to(rooms)
    }

    /// Same as [`Namespace::to`].
    pub fn in_(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// Everyone but the sockets in `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.all().except(rooms)
    }

    /// This server's sockets only.
    pub fn local(&self) -> BroadcastOperator {
        self.all().local()
    }

    /// Volatile broadcast: dropped for clients whose transport cannot write now.
    pub fn volatile(&self) -> BroadcastOperator {
        self.all().volatile()
    }

    /// Broadcast with acknowledgements, waiting at most `timeout`.
    pub fn timeout(&self, timeout: std::time::Duration) -> BroadcastOperator {
        self.all().timeout(timeout)
    }

    /// Disconnects every socket of the namespace (see [`Socket::disconnect`]).
    pub fn disconnect_sockets(&self, close: bool) {
        self.all().disconnect_sockets(close)
    }
}
