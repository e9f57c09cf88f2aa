//! [`Socket`]: one client connected to one namespace — its identity, state, listeners,
//! pending acknowledgements, rooms and disconnection. Emitting from a socket is in
//! [`emitter`](crate::emitter).

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Waker};

use serde::de::DeserializeOwned;
use serde::Serialize;
use sockio_engine::{Handshake, ProtocolVersion as EngineVersion, TransportKind};
use sockio_protocol::socket::{from_value, to_value, Packet, ProtocolVersion, Value, ValueError};
use sockio_protocol::Utf8Bytes;

use crate::adapter::{HandshakeData, RemoteSocketData};
use crate::args::Args;
use crate::config::Parser;
use crate::conn::{ConnSocket, EngineSocket};
use crate::error::{AckError, DisconnectReason, EmitError};
use crate::event::{AckChannel, AckSender, Event};
use crate::ids::{IntoRooms, Room, SocketId};
use crate::listeners::{EventHandler, Listener, ListenerId, Listeners};
use crate::operators::{broadcast_shortcuts, BroadcastOperator, BroadcastTarget};
use crate::wire::{self, Frames};

pub(crate) type AckCallback = Box<dyn FnOnce(Result<Vec<Value>, AckError>) + Send>;

/// What a socket needs from its namespace. Implemented by the namespace.
pub(crate) trait SocketHome: BroadcastTarget + Any + Send + Sync {
    fn name(&self) -> &str;
    fn parser(&self) -> Parser;
    /// Adds `socket` to `rooms` of this server.
    fn join(&self, socket: &Socket, rooms: &[Room]);
    /// Removes socket `id` from `rooms` of this server.
    fn leave(&self, id: &SocketId, rooms: &[Room]);
    /// The rooms of socket `id` on this server.
    fn rooms_of(&self, id: &SocketId) -> Vec<Room>;
    /// Forgets a socket that disconnected (or was refused): its rooms, its entry.
    fn forget(&self, socket: &Socket);
    /// A new acknowledgement id, unique in the namespace.
    fn next_ack_id(&self) -> u64;
    /// Counts an acknowledgement wait that timed out.
    fn ack_timed_out(&self);
}

pub(crate) struct SocketInner {
    id: SocketId,
    ns: Arc<dyn SocketHome>,
    conn: EngineSocket,
    version: ProtocolVersion,
    auth: Value,
    max_pending_acks: usize,
    listeners: RwLock<Listeners<Socket>>,
    next_listener: AtomicU64,
    acks: Mutex<HashMap<u64, AckCallback>>,
    connected: AtomicBool,
    /// Whether any `on_any_outgoing` listener exists (checked once per broadcast recipient).
    has_any_outgoing: AtomicBool,
    /// Set once the disconnection started (or the connection was refused).
    closing: AtomicBool,
    data: RwLock<Value>,
    extensions: RwLock<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl std::fmt::Debug for SocketInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.id)
            .field("nsp", &self.ns.name())
            .finish()
    }
}

/// One client connected to one namespace — socket.io's server-side `socket`.
/// Cheap to clone; every clone is the same socket.
///
/// ```no_run
/// # fn f(socket: sockio_server::Socket) {
/// use sockio_server::args;
/// socket.on("chat", |socket, mut event| {
///     let text: String = event.arg(0).unwrap_or_default();
///     let _ = socket.broadcast().emit("chat", &text);     // everyone else
///     let _ = event.ack("received");                        // answer the client's ack
/// });
/// socket.join("lobby");
/// let _ = socket.to("lobby").emit("joined", args![socket.id().as_str()]);
/// # }
/// ```
#[derive(Clone)]
pub struct Socket(pub(crate) Arc<SocketInner>);

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq for Socket {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs an async listener's future: at once, on the caller's task, until it first waits;
/// then as a task of its own.
fn run_listener(fut: impl Future<Output = ()> + Send + 'static) {
    let mut fut = Box::pin(fut);
    // A future re-registers its waker on every poll, so the task's first poll takes
    // over from this one.
    let mut cx = Context::from_waker(Waker::noop());
    if fut.as_mut().poll(&mut cx).is_pending() {
        tokio::spawn(fut);
    }
}

impl Socket {
    pub(crate) fn new(
        id: SocketId,
        ns: Arc<dyn SocketHome>,
        conn: EngineSocket,
        version: ProtocolVersion,
        auth: Value,
        max_pending_acks: usize,
    ) -> Self {
        Self(Arc::new(SocketInner {
            id,
            ns,
            conn,
            version,
            auth,
            max_pending_acks,
            listeners: RwLock::default(),
            next_listener: AtomicU64::new(0),
            acks: Mutex::default(),
            connected: AtomicBool::new(false),
            has_any_outgoing: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            data: RwLock::new(Value::Object(Vec::new())),
            extensions: RwLock::default(),
        }))
    }

    fn listeners(&self) -> std::sync::RwLockReadGuard<'_, Listeners<Socket>> {
        read(&self.0.listeners)
    }

    fn listeners_mut(&self) -> std::sync::RwLockWriteGuard<'_, Listeners<Socket>> {
        write(&self.0.listeners)
    }

    fn next_listener_id(&self) -> ListenerId {
        ListenerId(self.0.next_listener.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn home(&self) -> &Arc<dyn SocketHome> {
        &self.0.ns
    }

    // --- identity -----------------------------------------------------------------------

    /// The socket id (a fresh 20-character id per namespace for current clients).
    pub fn id(&self) -> &SocketId {
        &self.0.id
    }

    /// The namespace name, e.g. `/` or `/chat`.
    pub fn namespace_name(&self) -> &str {
        self.0.ns.name()
    }

    /// The auth payload the client sent with CONNECT (`{}` when none; for
    /// socket.io-client 2.x, the namespace query as an object of strings).
    pub fn auth(&self) -> &Value {
        &self.0.auth
    }

    /// The auth payload as a `T`.
    pub fn auth_as<T: DeserializeOwned>(&self) -> Result<T, ValueError> {
        from_value(self.0.auth.clone())
    }

    /// The HTTP request that opened the connection: headers, URL, query, address, time.
    pub fn handshake(&self) -> &Handshake {
        self.0.conn.handshake()
    }

    /// The handshake in socket.io's form, as other servers see it (`socket.handshake`
    /// on Node): headers, time, address, URL, query and auth.
    pub fn handshake_data(&self) -> HandshakeData {
        crate::handshake::describe(self.0.conn.handshake(), &self.0.auth)
    }

    /// The underlying Engine.IO connection (socket.io's `socket.conn`). Closing it
    /// disconnects every namespace socket on it with `forced close`.
    pub fn conn(&self) -> &EngineSocket {
        &self.0.conn
    }

    /// The Engine.IO session id of the underlying connection.
    pub fn conn_id(&self) -> sockio_engine::Sid {
        self.0.conn.sid()
    }

    /// The transport in use now.
    pub fn transport(&self) -> TransportKind {
        self.0.conn.transport()
    }

    /// The Socket.IO protocol revision of the client (v5 for current clients, v4 for
    /// socket.io-client 2.x).
    pub fn protocol(&self) -> ProtocolVersion {
        self.0.version
    }

    /// The packet format of this server.
    pub(crate) fn parser(&self) -> Parser {
        self.0.ns.parser()
    }

    /// The Engine.IO revision of the client.
    pub fn engine_protocol(&self) -> EngineVersion {
        self.0.conn.protocol()
    }

    /// Whether the socket is connected.
    pub fn connected(&self) -> bool {
        self.0.connected.load(Ordering::Acquire)
    }

    // --- state --------------------------------------------------------------------------

    /// The socket's data (`socket.data`): any JSON-like value, `{}` at first. It travels
    /// with the socket in `fetch_sockets` results.
    pub fn data_value(&self) -> Value {
        read(&self.0.data).clone()
    }

    /// The socket's data as a `T`.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, ValueError> {
        from_value(self.data_value())
    }

    /// Replaces the socket's data.
    pub fn set_data(&self, data: impl Serialize) -> Result<(), ValueError> {
        let v = to_value(&data)?;
        *write(&self.0.data) = v;
        Ok(())
    }

    /// Stores a typed value local to this socket (not serialized, not shared across
    /// servers), replacing any of the same type.
    pub fn insert_extension<T: Send + Sync + 'static>(&self, value: T) {
        write(&self.0.extensions).insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// The typed value of type `T` stored with [`Socket::insert_extension`].
    pub fn extension<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        read(&self.0.extensions)
            .get(&TypeId::of::<T>())
            .cloned()
            .and_then(|a| a.downcast::<T>().ok())
    }

    /// The socket as another server sees it in `fetch_sockets`.
    pub(crate) fn describe(&self) -> RemoteSocketData {
        RemoteSocketData {
            id: self.0.id.clone(),
            handshake: self.handshake_data(),
            rooms: self.rooms(),
            data: self.data_value(),
        }
    }

    // --- listeners ----------------------------------------------------------------------

    /// Adds a listener for `event` (a `&'static str` or a `String`). Several listeners
    /// of one event all run, in the order added. The listener runs on the connection's
    /// task: for work that waits (a database, a timer), use [`Socket::on_async`].
    pub fn on(
        &self,
        event: impl Into<Cow<'static, str>>,
        handler: impl Fn(&Socket, Event) + Send + Sync + 'static,
    ) -> ListenerId {
        self.add_listener(event.into(), Arc::new(handler), false)
    }

    /// Adds an async listener for `event`: `handler` gets the socket and the event and
    /// may `.await` before answering the acknowledgement (`event.ack(…)`).
    ///
    /// Ordering: like an `async` listener in socket.io, it starts at once, in the order
    /// the events arrived, and runs on the connection's task until it first waits; from
    /// there it goes on as a task of its own. The socket's next events are not held up by
    /// it, so they may be handled before it finishes. To handle a socket's events one
    /// after the other, send them from a sync listener into a channel read by one task.
    ///
    /// ```no_run
    /// # fn f(socket: sockio_server::Socket) {
    /// socket.on_async("lookup", |socket, mut event| async move {
    ///     let key: String = event.arg(0).unwrap_or_default();
    ///     tokio::time::sleep(std::time::Duration::from_millis(10)).await; // a database, say
    ///     let _ = event.ack(format!("{key} from {}", socket.id()));
    /// });
    /// # }
    /// ```
    pub fn on_async<F, Fut>(&self, event: impl Into<Cow<'static, str>>, handler: F) -> ListenerId
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: EventHandler<Socket> =
            Arc::new(move |socket: &Socket, event| run_listener(handler(socket.clone(), event)));
        self.add_listener(event.into(), handler, false)
    }

    /// Adds a listener that runs for the next `event` only.
    pub fn once(
        &self,
        event: impl Into<Cow<'static, str>>,
        handler: impl Fn(&Socket, Event) + Send + Sync + 'static,
    ) -> ListenerId {
        self.add_listener(event.into(), Arc::new(handler), true)
    }

    fn add_listener(
        &self,
        event: Cow<'static, str>,
        handler: EventHandler<Socket>,
        once: bool,
    ) -> ListenerId {
        let id = self.next_listener_id();
        self.listeners_mut().events.push(Listener {
            id,
            event,
            once,
            handler,
        });
        id
    }

    /// Removes one listener of `event`.
    pub fn off(&self, event: &str, id: ListenerId) {
        self.listeners_mut()
            .events
            .retain(|l| !(l.id == id && l.event == event));
    }

    /// Removes every listener of `event`.
    pub fn off_all(&self, event: &str) {
        self.listeners_mut().events.retain(|l| l.event != event);
    }

    /// Adds a catch-all listener for incoming events: `(socket, name, args)`.
    pub fn on_any(
        &self,
        handler: impl Fn(&Socket, &str, &[Value]) + Send + Sync + 'static,
    ) -> ListenerId {
        let id = self.next_listener_id();
        self.listeners_mut().any.push((id, Arc::new(handler)));
        id
    }

    /// Removes a catch-all listener.
    pub fn off_any(&self, id: ListenerId) {
        self.listeners_mut().any.retain(|(i, _)| *i != id);
    }

    /// Adds a catch-all listener for outgoing events (this socket's emits and the
    /// broadcasts that reach it).
    pub fn on_any_outgoing(
        &self,
        handler: impl Fn(&Socket, &str, &[Value]) + Send + Sync + 'static,
    ) -> ListenerId {
        let id = self.next_listener_id();
        self.listeners_mut()
            .any_outgoing
            .push((id, Arc::new(handler)));
        self.0.has_any_outgoing.store(true, Ordering::Release);
        id
    }

    /// Removes an outgoing catch-all listener.
    pub fn off_any_outgoing(&self, id: ListenerId) {
        let mut l = self.listeners_mut();
        l.any_outgoing.retain(|(i, _)| *i != id);
        self.0
            .has_any_outgoing
            .store(!l.any_outgoing.is_empty(), Ordering::Release);
    }

    /// Runs `handler` when the socket is about to disconnect; its rooms are still there.
    pub fn on_disconnecting(
        &self,
        handler: impl Fn(&Socket, DisconnectReason) + Send + Sync + 'static,
    ) {
        self.listeners_mut().disconnecting.push(Arc::new(handler));
    }

    /// Runs `handler` once the socket has disconnected.
    pub fn on_disconnect(
        &self,
        handler: impl Fn(&Socket, DisconnectReason) + Send + Sync + 'static,
    ) {
        self.listeners_mut().disconnect.push(Arc::new(handler));
    }

    /// Adds a packet middleware (socket.io's `socket.use`): it sees every incoming event
    /// before the listeners, may change it, or refuse it with an error that goes to
    /// [`Socket::on_error`] listeners instead.
    pub fn packet_middleware(
        &self,
        middleware: impl Fn(&Socket, &mut Event) -> Result<(), String> + Send + Sync + 'static,
    ) {
        self.listeners_mut().middlewares.push(Arc::new(middleware));
    }

    /// Runs `handler` with the errors of packet middlewares.
    pub fn on_error(&self, handler: impl Fn(&Socket, &str) + Send + Sync + 'static) {
        self.listeners_mut().error.push(Arc::new(handler));
    }

    // --- incoming -----------------------------------------------------------------------

    pub(crate) fn dispatch_event(&self, name: Utf8Bytes, args: Args, ack_id: Option<u64>) {
        let ack = ack_id.map(|id| AckSender::new(self.0.clone(), id));
        let mut event = Event::new(name, args, ack);
        // One look at the listeners: the usual case is no middleware, no catch-all and
        // one lasting listener, called without collecting the list.
        let (middlewares, any, single) = {
            let l = self.listeners();
            let single = l.single(&event.name);
            (l.middlewares.clone(), l.any.clone(), single)
        };
        for mw in &middlewares {
            if let Err(message) = mw(self, &mut event) {
                let handlers = self.listeners().error.clone();
                if handlers.is_empty() {
                    tracing::debug!(id = %self.id(), error = %message, "event refused by a packet middleware");
                }
                for h in handlers {
                    h(self, &message);
                }
                return;
            }
        }
        for (_, h) in &any {
            h(self, &event.name, event.args());
        }
        // A middleware or catch-all listener may have changed the listeners.
        let single = if middlewares.is_empty() && any.is_empty() {
            single
        } else {
            self.listeners().single(&event.name)
        };
        if let Some(handler) = single {
            handler(self, event);
            return;
        }
        let handlers = self.listeners_mut().take_for(&event.name);
        let n = handlers.len();
        for (i, h) in handlers.into_iter().enumerate() {
            if i + 1 == n {
                h(self, event);
                break;
            }
            h(self, event.duplicate());
        }
    }

    /// Waits for acknowledgement `id`; refused when as many are pending as the limit
    /// allows.
    pub(crate) fn register_ack(&self, id: u64, cb: AckCallback) -> Result<(), AckError> {
        let mut acks = lock(&self.0.acks);
        if acks.len() >= self.0.max_pending_acks {
            tracing::debug!(id = %self.id(), "too many acknowledgements pending");
            return Err(AckError::TooManyPending);
        }
        acks.insert(id, cb);
        Ok(())
    }

    pub(crate) fn cancel_ack(&self, id: u64) {
        lock(&self.0.acks).remove(&id);
    }

    /// How many acknowledgements from the client this socket waits for.
    pub(crate) fn pending_acks(&self) -> usize {
        lock(&self.0.acks).len()
    }

    /// Counts an acknowledgement wait of this socket that timed out.
    pub(crate) fn ack_timed_out(&self) {
        self.0.ns.ack_timed_out();
    }

    pub(crate) fn next_ack_id(&self) -> u64 {
        self.0.ns.next_ack_id()
    }

    pub(crate) fn notify_outgoing(&self, event: &str, args: &[Value]) {
        if !self.has_outgoing_listeners() {
            return;
        }
        let any = self.listeners().any_outgoing.clone();
        for (_, h) in any {
            h(self, event, args);
        }
    }

    pub(crate) fn has_outgoing_listeners(&self) -> bool {
        self.0.has_any_outgoing.load(Ordering::Acquire)
    }

    // --- outgoing -----------------------------------------------------------------------

    pub(crate) fn send_packet(&self, packet: &Packet) -> Result<(), EmitError> {
        self.0
            .conn
            .send_all(wire::frames(packet, self.0.version, self.parser()))
            .map_err(|_| EmitError::Disconnected)
    }

    /// Sends the CONNECT that accepts this socket: `{"sid":…}` in v5, nothing in v4.
    pub(crate) fn send_connect_reply(&self) -> Result<(), EmitError> {
        let frames = wire::connect_reply(
            self.namespace_name(),
            self.id(),
            self.0.version,
            self.parser(),
        );
        self.0
            .conn
            .send_all(frames)
            .map_err(|_| EmitError::Disconnected)
    }

    /// Sends an EVENT (`event` is `Some`) or ACK with `args` to this client.
    pub(crate) fn send_args(
        &self,
        event: Option<&str>,
        id: Option<u64>,
        args: &mut Args,
    ) -> Result<(), EmitError> {
        self.0.send_args(event, id, args)
    }

    pub(crate) fn send_frames(&self, frames: &Frames) -> Result<(), EmitError> {
        self.0
            .conn
            .send_all(frames.iter().cloned())
            .map_err(|_| EmitError::Disconnected)
    }

    pub(crate) fn is_writable(&self) -> bool {
        self.0.conn.is_writable()
    }

    // --- broadcasting from this socket --------------------------------------------------

    /// Everyone in the namespace but this socket (`socket.broadcast`).
    pub fn broadcast(&self) -> BroadcastOperator {
        let target: Arc<dyn BroadcastTarget> = self.0.ns.clone();
        BroadcastOperator::new(target).except(self.id())
    }

    fn operator(&self) -> BroadcastOperator {
        self.broadcast()
    }

    broadcast_shortcuts!("without this socket.");

    // --- rooms --------------------------------------------------------------------------

    /// Joins one or several rooms (on this server).
    pub fn join(&self, rooms: impl IntoRooms) {
        // Allowed before the connection completes (from a connection middleware); a
        // refused socket's rooms are cleaned up.
        if !self.0.closing.load(Ordering::Acquire) {
            self.0.ns.join(self, &rooms.into_rooms());
        }
    }

    /// Leaves a room (or several).
    pub fn leave(&self, rooms: impl IntoRooms) {
        self.0.ns.leave(self.id(), &rooms.into_rooms());
    }

    /// The rooms of this socket, its own id room included.
    pub fn rooms(&self) -> Vec<Room> {
        self.0.ns.rooms_of(self.id())
    }

    // --- disconnection ------------------------------------------------------------------

    /// Disconnects from the namespace: the client gets DISCONNECT (`io server
    /// disconnect`, no automatic reconnection). Its other namespaces stay connected.
    pub fn disconnect(&self) {
        if !self.connected() {
            return;
        }
        let _ = self.send_packet(&Packet::disconnect(self.namespace_name()));
        self.on_close(DisconnectReason::ServerNamespaceDisconnect);
    }

    /// Disconnects every namespace socket of this client's connection (each gets
    /// DISCONNECT), then closes the connection (socket.io's `disconnect(true)`).
    pub fn disconnect_and_close(&self) {
        self.0.conn.data().disconnect_all_and_close(&self.0.conn);
    }

    /// Runs the disconnection once: `disconnecting` listeners, rooms left, pending acks
    /// failed, `disconnect` listeners.
    pub(crate) fn on_close(&self, reason: DisconnectReason) {
        if !self.connected() || self.0.closing.swap(true, Ordering::AcqRel) {
            return;
        }
        // `disconnecting` listeners still see a connected socket with its rooms.
        let disconnecting = self.listeners().disconnecting.clone();
        for h in disconnecting {
            h(self, reason);
        }
        self.0.connected.store(false, Ordering::Release);
        self.0.ns.forget(self);
        self.0.conn.data().remove_socket(self.namespace_name());
        let acks: Vec<AckCallback> = lock(&self.0.acks).drain().map(|(_, cb)| cb).collect();
        for cb in acks {
            cb(Err(AckError::Disconnected));
        }
        tracing::debug!(id = %self.id(), nsp = self.namespace_name(), %reason, "socket disconnected");
        let disconnect = self.listeners().disconnect.clone();
        for h in disconnect {
            h(self, reason);
        }
    }

    pub(crate) fn mark_connected(&self) {
        self.0.connected.store(true, Ordering::Release);
    }

    /// The connection was refused (or its client left) before it completed: forget the
    /// rooms a middleware may have joined.
    pub(crate) fn discard(&self) {
        self.0.closing.store(true, Ordering::Release);
        self.0.ns.forget(self);
    }
}

impl SocketInner {
    fn send_args(
        &self,
        event: Option<&str>,
        id: Option<u64>,
        args: &mut Args,
    ) -> Result<(), EmitError> {
        let frames = wire::args_frames(
            self.ns.name(),
            event,
            id,
            args,
            self.version,
            self.ns.parser(),
        );
        self.conn
            .send_all(frames)
            .map_err(|_| EmitError::Disconnected)
    }
}

impl AckChannel for SocketInner {
    fn send_ack(&self, id: u64, args: &mut Args) -> Result<(), EmitError> {
        self.send_args(None, Some(id), args)
    }
}

impl ConnSocket for SocketInner {
    fn nsp(&self) -> &str {
        self.ns.name()
    }

    fn dispatch_event(self: Arc<Self>, name: Utf8Bytes, args: Args, ack_id: Option<u64>) {
        Socket(self).dispatch_event(name, args, ack_id)
    }

    fn handle_ack(&self, id: u64, args: Vec<Value>) {
        let cb = lock(&self.acks).remove(&id);
        match cb {
            Some(cb) => cb(Ok(args)),
            None => tracing::debug!(id = %self.id, ack = id, "ack for an unknown id ignored"),
        }
    }

    fn close(self: Arc<Self>, reason: DisconnectReason) {
        Socket(self).on_close(reason)
    }

    fn disconnect(self: Arc<Self>) {
        Socket(self).disconnect()
    }
}
