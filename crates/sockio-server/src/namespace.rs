//! [`Namespace`]: a communication channel of the server (`/`, `/chat`, …) with its own
//! sockets, rooms, middlewares and connection listeners, and its adapter to the other
//! servers of a cluster.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use sockio_protocol::socket::{is_reserved_event, Value};
use tokio::sync::mpsc;

use crate::adapter::{
    AckReply, AckSink, Adapter, BoxFuture, BroadcastOptions, LocalApply, NamespaceHandle,
    RemoteSocketData,
};
use crate::args::{Args, IntoArgs};
use crate::config::Parser;
use crate::error::{AdapterError, BroadcastAckError, ConnectError, EmitError};
use crate::ids::{IntoRooms, Room, SocketId};
use crate::local::{AnswerFn, LocalSockets};
use crate::operators::{broadcast_shortcuts, BroadcastOperator, BroadcastTarget, RemoteSocket};
use crate::socket::{Socket, SocketHome};

pub(crate) type Middleware = Arc<
    dyn Fn(Socket) -> Pin<Box<dyn Future<Output = Result<(), ConnectError>> + Send>> + Send + Sync,
>;
pub(crate) type ConnectionHandler = Arc<dyn Fn(&Socket) + Send + Sync>;
type ServerSideHandler = Arc<dyn Fn(&[Value]) + Send + Sync>;
type ServerSideAckHandler = Arc<dyn Fn(&[Value]) -> Value + Send + Sync>;
/// Called when a dynamic namespace's child loses its last socket.
pub(crate) type OnEmpty = Arc<dyn Fn(&Namespace) + Send + Sync>;

pub(crate) struct NsInner {
    name: Arc<str>,
    /// The server (`ServerInner`), for `Namespace::server`.
    pub(crate) server: Weak<dyn Any + Send + Sync>,
    /// For a child of a dynamic namespace: the parent whose middlewares and connection
    /// listeners it shares.
    parent: Option<Namespace>,
    /// For a dynamic namespace (a parent): its children, which its broadcasts reach.
    children: Option<RwLock<Vec<Weak<NsInner>>>>,
    local: LocalSockets,
    adapter: Arc<dyn Adapter>,
    middlewares: RwLock<Vec<Middleware>>,
    on_connection: RwLock<Vec<ConnectionHandler>>,
    server_side: RwLock<HashMap<String, Vec<ServerSideHandler>>>,
    server_side_ack: RwLock<HashMap<String, ServerSideAckHandler>>,
    ack_ids: AtomicU64,
    parser: Parser,
    on_empty: Option<OnEmpty>,
    /// Counters for metrics (relaxed atomics).
    stats: Arc<NsStats>,
}

/// What a namespace counts as it goes, for metrics.
#[derive(Default)]
struct NsStats {
    /// Broadcasts started here (`emit` and `emit_with_ack` of a [`BroadcastOperator`]).
    broadcasts: AtomicU64,
    /// Acknowledgements whose wait timed out: one per `emit_with_ack` with a timeout,
    /// from a socket or a broadcast.
    ack_timeouts: AtomicU64,
}

/// A namespace. Cheap to clone; every clone is the same namespace.
///
/// ```no_run
/// # fn f(io: sockio_server::SocketIo) {
/// let chat = io.of("/chat");
/// chat.middleware(|socket| async move {
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

/// Runs a future that is usually ready at once (an adapter's `init`): polled here, and
/// if it waits, as a task when a runtime is there.
fn run_soon(what: &'static str, fut: BoxFuture<'static, Result<(), AdapterError>>) {
    let mut fut = fut;
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(e)) => tracing::error!(error = %e, "{what} failed"),
        Poll::Pending => match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    if let Err(e) = fut.await {
                        tracing::error!(error = %e, "{what} failed");
                    }
                });
            }
            Err(_) => tracing::error!("{what} needs a tokio runtime: not started"),
        },
    }
}

/// How a namespace is made: what it shares with its server.
pub(crate) struct NamespaceParts {
    pub(crate) server: Weak<dyn Any + Send + Sync>,
    pub(crate) parser: Parser,
    pub(crate) adapter: Arc<dyn Adapter>,
    pub(crate) on_empty: Option<OnEmpty>,
}

impl Namespace {
    /// A namespace, its adapter initialised.
    pub(crate) fn new(name: &str, parts: NamespaceParts) -> Self {
        Self::build(name, parts, None, false)
    }

    /// The parent of dynamic namespaces: it has no sockets of its own, and what it
    /// broadcasts reaches every child.
    pub(crate) fn new_parent(name: &str, parts: NamespaceParts) -> Self {
        Self::build(name, parts, None, true)
    }

    /// A new child of this dynamic parent.
    pub(crate) fn new_child(&self, name: &str, parts: NamespaceParts) -> Self {
        let child = Self::build(name, parts, Some(self.clone()), false);
        if let Some(children) = &self.0.children {
            let mut list = write(children);
            list.retain(|c| c.strong_count() > 0);
            list.push(Arc::downgrade(&child.0));
        }
        child
    }

    fn build(
        name: &str,
        parts: NamespaceParts,
        parent: Option<Namespace>,
        is_parent: bool,
    ) -> Self {
        let ns = Self(Arc::new(NsInner {
            name: Arc::from(name),
            server: parts.server,
            parent,
            children: is_parent.then(RwLock::default),
            local: LocalSockets::new(Arc::from(name), parts.parser),
            adapter: parts.adapter,
            middlewares: RwLock::default(),
            on_connection: RwLock::default(),
            server_side: RwLock::default(),
            server_side_ack: RwLock::default(),
            ack_ids: AtomicU64::new(0),
            parser: parts.parser,
            on_empty: parts.on_empty,
            stats: Arc::default(),
        }));
        if !is_parent {
            let weak: Weak<NsInner> = Arc::downgrade(&ns.0);
            let weak: Weak<dyn LocalApply> = weak;
            run_soon(
                "adapter init",
                ns.0.adapter.init(NamespaceHandle::new(weak)),
            );
        }
        ns
    }

    /// The packet format of the server (default or msgpack).
    pub(crate) fn parser(&self) -> Parser {
        self.0.parser
    }

    /// The name, e.g. `/chat`.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Adds a connection middleware (socket.io's `namespace.use`): it runs before the
    /// socket is connected, in the order added, and may refuse the connection — the
    /// client gets `connect_error` with the error's message and data.
    pub fn middleware<F, Fut>(&self, middleware: F)
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
    /// [`Namespace::server_side_emit`]: `handler` gets its arguments.
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

    /// Answers a server-side event sent with [`Namespace::server_side_emit_with_ack`] by
    /// another server: `handler` gets the arguments and returns the answer.
    pub fn on_server_side_with_ack(
        &self,
        event: impl Into<String>,
        handler: impl Fn(&[Value]) -> Value + Send + Sync + 'static,
    ) {
        write(&self.0.server_side_ack).insert(event.into(), Arc::new(handler));
    }

    fn server_side_args(event: &str, args: impl IntoArgs) -> Result<Vec<Value>, EmitError> {
        if matches!(event, "connect" | "connection" | "new_namespace") || is_reserved_event(event) {
            return Err(EmitError::ReservedEvent(event.to_owned()));
        }
        let mut all = vec![Value::from(event)];
        all.extend(args.into_args()?.into_values());
        Ok(all)
    }

    /// Sends a server-side event to the **other** servers of the cluster (none with the
    /// in-memory adapter: then it reaches nobody, as in socket.io).
    pub fn server_side_emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        let args = Self::server_side_args(event, args)?;
        self.0.adapter.server_side_emit(args)?;
        Ok(())
    }

    /// Sends a server-side event to the other servers and collects one answer from each
    /// within `timeout` (none with the in-memory adapter: an empty list at once).
    pub fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
        timeout: Duration,
    ) -> impl Future<Output = Result<Vec<Value>, BroadcastAckError>> + Send + 'static {
        let sent = Self::server_side_args(event, args)
            .map(|args| self.0.adapter.server_side_emit_with_ack(args, timeout));
        async move {
            match sent {
                Ok(answers) => answers.await,
                Err(e) => Err(BroadcastAckError::Emit(e)),
            }
        }
    }

    /// How many servers serve this namespace (1 with the in-memory adapter).
    pub fn server_count(
        &self,
    ) -> impl Future<Output = Result<usize, AdapterError>> + Send + 'static {
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

    /// The home a new socket of this namespace gets.
    pub(crate) fn home(&self) -> Arc<dyn SocketHome> {
        self.0.clone()
    }

    /// A socket that completed its connection.
    pub(crate) fn add_socket(&self, socket: &Socket) {
        let created = self.0.local.add(socket);
        self.0.rooms_created(created);
    }

    /// The socket `id` of this namespace on this server.
    pub fn socket(&self, id: &str) -> Option<Socket> {
        self.0.local.get(id)
    }

    /// Every socket of this namespace on this server.
    pub fn sockets(&self) -> Vec<Socket> {
        self.0.local.all()
    }

    /// The sockets of this server in any of `rooms` (a socket id names that socket; no
    /// room means every socket), each once — without waiting, unlike [`BroadcastOperator::fetch_sockets`], which
    /// asks every server.
    pub fn sockets_in(&self, rooms: impl IntoRooms) -> Vec<Socket> {
        self.0
            .local
            .select(&BroadcastOptions::new(rooms.into_rooms(), Vec::new()))
    }

    /// How many sockets this namespace has on this server.
    pub fn len(&self) -> usize {
        self.0.local.len()
    }

    /// Whether no socket is connected on this server.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many broadcasts were started from this namespace on this server (each
    /// `emit` or `emit_with_ack` to a selection of sockets: `io.emit`, `socket.to(room)`,
    /// `socket.broadcast`, `io.to(id)`, …) since it was created.
    pub fn broadcast_count(&self) -> u64 {
        self.0.stats.broadcasts.load(Ordering::Relaxed)
    }

    /// How many acknowledgement waits of this namespace timed out (`emit_with_ack` with
    /// a timeout, to one socket or a broadcast) since it was created.
    pub fn ack_timeout_count(&self) -> u64 {
        self.0.stats.ack_timeouts.load(Ordering::Relaxed)
    }

    /// How many acknowledgements this server's sockets of this namespace wait for now
    /// (a broadcast with acknowledgement counts once per socket asked).
    pub fn pending_acks(&self) -> usize {
        self.0.local.all().iter().map(Socket::pending_acks).sum()
    }

    /// Every room of this server with at least one socket (socket id rooms included).
    pub fn rooms(&self) -> Vec<Room> {
        self.0.local.rooms()
    }

    /// Every room of every server (socket id rooms included), each once.
    pub fn all_rooms(
        &self,
    ) -> impl Future<Output = Result<Vec<Room>, AdapterError>> + Send + 'static {
        let mut rooms = self.rooms();
        let remote = self.0.adapter.all_rooms();
        async move {
            for r in remote.await? {
                if !rooms.contains(&r) {
                    rooms.push(r);
                }
            }
            Ok(rooms)
        }
    }

    /// Stops the adapter (the server is closing).
    pub(crate) fn close_adapter(&self) -> BoxFuture<'static, ()> {
        self.0.adapter.close()
    }

    // --- broadcasting -------------------------------------------------------------------

    /// An operator targeting every socket of the namespace.
    pub fn all(&self) -> BroadcastOperator {
        let target: Arc<dyn BroadcastTarget> = self.0.clone();
        BroadcastOperator::new(target)
    }

    fn operator(&self) -> BroadcastOperator {
        self.all()
    }

    broadcast_shortcuts!("in this namespace.", flags);

    /// Emits to every socket of the namespace.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        self.all().emit(event, args)
    }

    /// `namespace.send(...)`: emits `message` to everyone.
    pub fn send(&self, args: impl IntoArgs) -> Result<(), EmitError> {
        self.emit("message", args)
    }

    /// Every socket of the namespace, on every server (see
    /// [`BroadcastOperator::fetch_sockets`]).
    pub fn fetch_sockets(
        &self,
    ) -> impl Future<Output = Result<Vec<RemoteSocket>, AdapterError>> + Send + 'static {
        self.all().fetch_sockets()
    }

    /// Makes every socket of the namespace join `rooms`.
    pub fn sockets_join(&self, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        self.all().sockets_join(rooms)
    }

    /// Makes every socket of the namespace leave `rooms`.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        self.all().sockets_leave(rooms)
    }

    /// Disconnects every socket of the namespace (see [`Socket::disconnect`]).
    pub fn disconnect_sockets(&self) -> Result<(), AdapterError> {
        self.all().disconnect_sockets()
    }
}

impl NsInner {
    /// Tells the adapter about rooms that got their first socket on this server.
    fn rooms_created(&self, rooms: Vec<(Room, bool)>) {
        for (room, private) in rooms {
            self.adapter.room_created(&room, private);
        }
    }

    /// Tells the adapter about rooms whose last socket on this server left.
    fn rooms_deleted(&self, rooms: Vec<(Room, bool)>) {
        for (room, private) in rooms {
            self.adapter.room_deleted(&room, private);
        }
    }

    /// Runs `f` on each namespace an operation on this one acts on: itself, or a
    /// dynamic parent's children.
    fn for_targets(&self, f: &mut dyn FnMut(&NsInner)) {
        match &self.children {
            Some(children) => {
                let list: Vec<Arc<NsInner>> =
                    read(children).iter().filter_map(Weak::upgrade).collect();
                for child in &list {
                    f(child);
                }
            }
            None => f(self),
        }
    }

    fn remote(&self, opts: &BroadcastOptions) -> bool {
        !opts.flags.local
    }
}

impl SocketHome for NsInner {
    fn name(&self) -> &str {
        &self.name
    }

    fn parser(&self) -> Parser {
        self.parser
    }

    fn join(&self, socket: &Socket, rooms: &[Room]) {
        let created = self.local.join(socket, rooms);
        self.rooms_created(created);
    }

    fn leave(&self, id: &SocketId, rooms: &[Room]) {
        let gone = self.local.leave(id, rooms);
        self.rooms_deleted(gone);
    }

    fn rooms_of(&self, id: &SocketId) -> Vec<Room> {
        self.local.rooms_of(id)
    }

    fn forget(&self, socket: &Socket) {
        let (empty, gone) = self.local.remove(socket);
        self.rooms_deleted(gone);
        if empty && self.parent.is_some() {
            if let (Some(on_empty), Some(me)) = (&self.on_empty, socket.namespace_arc()) {
                on_empty(&Namespace(me));
            }
        }
    }

    fn next_ack_id(&self) -> u64 {
        self.ack_ids.fetch_add(1, Ordering::Relaxed)
    }

    fn ack_timed_out(&self) {
        self.stats.ack_timeouts.fetch_add(1, Ordering::Relaxed);
    }
}

/// One reply of a broadcast with acknowledgements, local or remote.
enum Answer {
    Local(Option<Value>),
    Remote(AckReply),
}

impl BroadcastTarget for NsInner {
    fn emit(&self, opts: &BroadcastOptions, event: &str, mut args: Args) -> Result<(), EmitError> {
        self.stats.broadcasts.fetch_add(1, Ordering::Relaxed);
        let mut result = Ok(());
        self.for_targets(&mut |ns| {
            ns.local.deliver(opts, event, &mut args);
            if ns.remote(opts) {
                if let Err(e) = ns.adapter.broadcast(opts, event, &args) {
                    result = Err(EmitError::Adapter(e));
                }
            }
        });
        result
    }

    fn emit_with_ack(
        &self,
        opts: &BroadcastOptions,
        event: &str,
        mut args: Args,
    ) -> BoxFuture<'static, Result<Vec<Value>, BroadcastAckError>> {
        self.stats.broadcasts.fetch_add(1, Ordering::Relaxed);
        let stats = self.stats.clone();
        let (tx, mut rx) = mpsc::unbounded_channel::<Answer>();
        let mut asked: Vec<(Socket, u64)> = Vec::new();
        // Sockets selected but not asked (too many acknowledgements pending): they count
        // as not answering.
        let mut refused = 0;
        let mut server_counts = Vec::new();
        let mut failed = None;
        self.for_targets(&mut |ns| {
            let id = ns.next_ack_id();
            let local_tx = tx.clone();
            let answer: AnswerFn = Arc::new(move |a| {
                let _ = local_tx.send(Answer::Local(a));
            });
            let (sockets, not_asked) = ns
                .local
                .deliver_with_ack(opts, event, &mut args, id, &answer);
            refused += not_asked;
            asked.extend(sockets.into_iter().map(|s| (s, id)));
            if ns.remote(opts) {
                let (sink, mut replies) = AckSink::channel();
                let remote_tx = tx.clone();
                tokio::spawn(async move {
                    while let Some(r) = replies.recv().await {
                        if remote_tx.send(Answer::Remote(r)).is_err() {
                            break;
                        }
                    }
                });
                match ns.adapter.broadcast_with_ack(opts, event, &args, sink) {
                    Ok(()) => server_counts.push(ns.adapter.server_count()),
                    Err(e) => failed = Some(e),
                }
            }
        });
        drop(tx);
        let timeout = opts.flags.timeout.map(Duration::from_millis);
        Box::pin(async move {
            if let Some(e) = failed {
                for (s, id) in &asked {
                    s.cancel_ack(*id);
                }
                return Err(BroadcastAckError::Emit(EmitError::Adapter(e)));
            }
            let mut expected_counts = 0;
            for count in server_counts {
                expected_counts += count.await.unwrap_or(1).saturating_sub(1);
            }
            let mut expected = asked.len() + refused;
            let mut counts = 0;
            let mut answered = 0;
            let mut missing = refused;
            let mut responses = Vec::with_capacity(expected);
            let collect = async {
                while counts < expected_counts || answered + missing < expected {
                    match rx.recv().await {
                        Some(Answer::Local(Some(v))) | Some(Answer::Remote(AckReply::Ack(v))) => {
                            answered += 1;
                            responses.push(v);
                        }
                        Some(Answer::Local(None)) => missing += 1,
                        Some(Answer::Remote(AckReply::ClientCount(n))) => {
                            counts += 1;
                            expected += n;
                        }
                        None => break,
                    }
                }
            };
            let in_time = match timeout {
                Some(t) => tokio::time::timeout(t, collect).await.is_ok(),
                None => {
                    collect.await;
                    true
                }
            };
            if !in_time {
                stats.ack_timeouts.fetch_add(1, Ordering::Relaxed);
                for (s, id) in &asked {
                    s.cancel_ack(*id);
                }
                return Err(BroadcastAckError::Timeout { responses });
            }
            let missing = missing + expected.saturating_sub(answered + missing);
            if missing > 0 || counts < expected_counts {
                return Err(BroadcastAckError::Incomplete { missing, responses });
            }
            Ok(responses)
        })
    }

    fn fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<RemoteSocketData>, AdapterError>> {
        let mut found = Vec::new();
        let mut remote = Vec::new();
        self.for_targets(&mut |ns| {
            found.extend(ns.local.select(opts).iter().map(Socket::describe));
            if ns.remote(opts) {
                remote.push(ns.adapter.fetch_sockets(opts));
            }
        });
        Box::pin(async move {
            for r in remote {
                found.extend(r.await?);
            }
            Ok(found)
        })
    }

    fn sockets_join(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        let mut result = Ok(());
        self.for_targets(&mut |ns| {
            ns.add_sockets_here(opts, rooms);
            if ns.remote(opts) {
                if let Err(e) = ns.adapter.add_sockets(opts, rooms) {
                    result = Err(e);
                }
            }
        });
        result
    }

    fn sockets_leave(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        let mut result = Ok(());
        self.for_targets(&mut |ns| {
            ns.del_sockets_here(opts, rooms);
            if ns.remote(opts) {
                if let Err(e) = ns.adapter.del_sockets(opts, rooms) {
                    result = Err(e);
                }
            }
        });
        result
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) -> Result<(), AdapterError> {
        let mut result = Ok(());
        self.for_targets(&mut |ns| {
            ns.disconnect_sockets_here(opts, close);
            if ns.remote(opts) {
                if let Err(e) = ns.adapter.disconnect_sockets(opts, close) {
                    result = Err(e);
                }
            }
        });
        result
    }
}

impl NsInner {
    fn add_sockets_here(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for s in self.local.select(opts) {
            s.join(rooms.to_vec());
        }
    }

    fn del_sockets_here(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for s in self.local.select(opts) {
            s.leave(rooms.to_vec());
        }
    }

    fn disconnect_sockets_here(&self, opts: &BroadcastOptions, close: bool) {
        for s in self.local.select(opts) {
            if close {
                s.disconnect_and_close();
            } else {
                s.disconnect();
            }
        }
    }
}

impl LocalApply for NsInner {
    fn name(&self) -> &str {
        &self.name
    }

    fn broadcast(&self, opts: &BroadcastOptions, event: &str, mut args: Args) {
        self.local.deliver(opts, event, &mut args);
    }

    fn broadcast_with_ack(
        &self,
        opts: &BroadcastOptions,
        event: &str,
        mut args: Args,
        on_ack: Arc<dyn Fn(Value) + Send + Sync>,
    ) -> usize {
        let id = self.next_ack_id();
        let answer: AnswerFn = Arc::new(move |a| {
            if let Some(v) = a {
                on_ack(v)
            }
        });
        let (asked, _) = self
            .local
            .deliver_with_ack(opts, event, &mut args, id, &answer);
        let count = asked.len();
        // Acknowledgements that never come are forgotten after the requester's timeout.
        if let (Some(ms), Ok(rt)) = (opts.flags.timeout, tokio::runtime::Handle::try_current()) {
            rt.spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                for s in asked {
                    s.cancel_ack(id);
                }
            });
        }
        count
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.add_sockets_here(opts, rooms);
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.del_sockets_here(opts, rooms);
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        self.disconnect_sockets_here(opts, close);
    }

    fn fetch_sockets(&self, opts: &BroadcastOptions) -> Vec<RemoteSocketData> {
        self.local
            .select(opts)
            .iter()
            .map(Socket::describe)
            .collect()
    }

    fn rooms(&self) -> Vec<Room> {
        self.local.rooms()
    }

    fn server_side_event(&self, args: Vec<Value>) {
        let Some((event, rest)) = args.split_first() else {
            return;
        };
        let Some(event) = event.as_str() else {
            return;
        };
        let handlers = read(&self.server_side)
            .get(event)
            .cloned()
            .unwrap_or_default();
        for h in handlers {
            h(rest);
        }
    }

    fn server_side_event_with_ack(&self, args: Vec<Value>) -> Option<Value> {
        let (event, rest) = args.split_first()?;
        let handler = read(&self.server_side_ack).get(event.as_str()?).cloned()?;
        Some(handler(rest))
    }
}

impl Socket {
    /// The namespace of this socket.
    pub fn namespace(&self) -> Namespace {
        match self.namespace_arc() {
            Some(ns) => Namespace(ns),
            // Every socket's home is a namespace.
            None => unreachable!("a socket's home is its namespace"),
        }
    }

    fn namespace_arc(&self) -> Option<Arc<NsInner>> {
        let home: Arc<dyn Any + Send + Sync> = self.home().clone();
        home.downcast::<NsInner>().ok()
    }
}
