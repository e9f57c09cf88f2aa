//! [`Socket`]: one client connected to one namespace.

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sockio_engine::{Handshake, ProtocolVersion as EngineVersion, TransportKind};
use sockio_protocol::engine::payload::EncodedPacket;
use sockio_protocol::socket::{
    from_value, is_reserved_event, to_value, Packet, PacketData, ProtocolVersion, Value, ValueError,
};
use sockio_protocol::Utf8Bytes;
use tokio::sync::oneshot;

use crate::client::Conn;
use crate::error::{AckError, DisconnectReason, EmitError};
use crate::event::{AckSender, Args, Event, IntoArgs};
use crate::ids::{IntoRooms, Room, SocketId};
use crate::namespace::Namespace;
use crate::operators::BroadcastOperator;
use crate::server::Parser;

pub(crate) type EngineSocket = sockio_engine::Socket<Conn>;

type EventHandler = Arc<dyn Fn(&Socket, Event) + Send + Sync>;
type AnyHandler = Arc<dyn Fn(&Socket, &str, &[Value]) + Send + Sync>;
type ReasonHandler = Arc<dyn Fn(&Socket, DisconnectReason) + Send + Sync>;
type PacketMiddleware = Arc<dyn Fn(&Socket, &mut Event) -> Result<(), String> + Send + Sync>;
type ErrorHandler = Arc<dyn Fn(&Socket, &str) + Send + Sync>;
pub(crate) type AckCallback = Box<dyn FnOnce(Result<Vec<Value>, AckError>) + Send>;

/// Identifies a listener added with [`Socket::on`], for [`Socket::off`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

struct Listener {
    id: ListenerId,
    event: Cow<'static, str>,
    once: bool,
    handler: EventHandler,
}

#[derive(Default)]
struct Listeners {
    /// Every event listener in the order added. A socket has a handful: one list
    /// scanned by name costs less to build (per connection) and to search than a map.
    events: Vec<Listener>,
    any: Vec<(ListenerId, AnyHandler)>,
    any_outgoing: Vec<(ListenerId, AnyHandler)>,
    disconnecting: Vec<ReasonHandler>,
    disconnect: Vec<ReasonHandler>,
    middlewares: Vec<PacketMiddleware>,
    error: Vec<ErrorHandler>,
}

impl Listeners {
    /// The listener of `event` when it has exactly one, lasting (not `once`).
    fn single(&self, event: &str) -> Option<EventHandler> {
        let mut found = self.events.iter().filter(|l| l.event == event);
        match (found.next(), found.next()) {
            (Some(only), None) if !only.once => Some(only.handler.clone()),
            _ => None,
        }
    }
}

pub(crate) struct SocketInner {
    pub(crate) id: SocketId,
    pub(crate) ns: Namespace,
    pub(crate) conn: EngineSocket,
    pub(crate) version: ProtocolVersion,
    pub(crate) auth: Value,
    listeners: RwLock<Listeners>,
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
        f.debug_struct("Socket")
            .field("id", &self.0.id)
            .field("nsp", &self.namespace_name())
            .finish()
    }
}

impl PartialEq for Socket {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The Engine.IO packets that carry one Socket.IO packet: the packet, then its binary
/// attachments (none, most of the time: then nothing is allocated for them).
#[derive(Debug, Clone)]
pub(crate) struct Frames {
    first: EncodedPacket,
    attachments: Vec<EncodedPacket>,
}

impl Frames {
    /// Every frame, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &EncodedPacket> {
        std::iter::once(&self.first).chain(self.attachments.iter())
    }
}

impl IntoIterator for Frames {
    type Item = EncodedPacket;
    type IntoIter =
        std::iter::Chain<std::iter::Once<EncodedPacket>, std::vec::IntoIter<EncodedPacket>>;

    fn into_iter(self) -> Self::IntoIter {
        std::iter::once(self.first).chain(self.attachments)
    }
}

/// Encodes a packet as the Engine.IO packets that carry it: with the default parser the
/// text (as a `message`, `4…`) then each attachment; with msgpack one binary message.
pub(crate) fn frames(packet: &Packet, version: ProtocolVersion, parser: Parser) -> Frames {
    if parser == Parser::MsgPack {
        return Frames {
            first: EncodedPacket::Binary(sockio_protocol::socket::encode_msgpack(packet)),
            attachments: Vec::new(),
        };
    }
    // The Engine.IO `message` type digit first, in the same buffer.
    let encoded = sockio_protocol::socket::encode_after(packet, version, "4");
    Frames {
        first: EncodedPacket::Text(Utf8Bytes::from(encoded.text)),
        attachments: encoded
            .attachments
            .into_iter()
            .map(EncodedPacket::Binary)
            .collect(),
    }
}

/// Encodes an EVENT (`event` is `Some`) or ACK with `args` for `nsp`: arguments still
/// in their JSON text are copied as they are (default parser); values are encoded as a
/// packet and left in `args` afterwards.
pub(crate) fn args_frames(
    nsp: &str,
    event: Option<&str>,
    id: Option<u64>,
    args: &mut Args,
    version: ProtocolVersion,
    parser: Parser,
) -> Frames {
    if parser == Parser::Default {
        if let Some(raw) = args.raw() {
            let text = sockio_protocol::socket::encode_raw_after("4", nsp, id, event, raw);
            return Frames {
                first: EncodedPacket::Text(Utf8Bytes::from(text)),
                attachments: Vec::new(),
            };
        }
    }
    let values = args.take_values();
    let mut packet = match event {
        Some(event) => Packet::event(nsp, event, values),
        None => Packet::ack(nsp, 0, values),
    };
    packet.id = id;
    let frames = frames(&packet, version, parser);
    if let PacketData::Event { args: values, .. } | PacketData::Ack { args: values } = packet.data {
        *args = Args::from(values);
    }
    frames
}

impl Socket {
    pub(crate) fn new(
        id: SocketId,
        ns: Namespace,
        conn: EngineSocket,
        version: ProtocolVersion,
        auth: Value,
    ) -> Self {
        Self(Arc::new(SocketInner {
            id,
            ns,
            conn,
            version,
            auth,
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

    fn listeners(&self) -> std::sync::RwLockReadGuard<'_, Listeners> {
        self.0.listeners.read().unwrap_or_else(|e| e.into_inner())
    }

    fn listeners_mut(&self) -> std::sync::RwLockWriteGuard<'_, Listeners> {
        self.0.listeners.write().unwrap_or_else(|e| e.into_inner())
    }

    fn next_listener_id(&self) -> ListenerId {
        ListenerId(self.0.next_listener.fetch_add(1, Ordering::Relaxed))
    }

    // --- identity -----------------------------------------------------------------------

    /// The socket id (a fresh 20-character id per namespace for current clients).
    pub fn id(&self) -> &SocketId {
        &self.0.id
    }

    /// The namespace.
    pub fn namespace(&self) -> &Namespace {
        &self.0.ns
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

    /// The underlying Engine.IO connection (socket.io's `socket.conn`). Closing it
    /// disconnects every namespace socket on it with `forced close`.
    pub fn conn(&self) -> &sockio_engine::Socket<Conn> {
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

    /// The server this socket belongs to.
    pub fn server(&self) -> Option<crate::SocketIo> {
        self.0.ns.server()
    }

    // --- state --------------------------------------------------------------------------

    /// The socket's data (`socket.data`): any JSON-like value, `{}` at first. It travels
    /// with the socket in `fetch_sockets` results.
    pub fn data_value(&self) -> Value {
        self.0
            .data
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The socket's data as a `T`.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, ValueError> {
        from_value(self.data_value())
    }

    /// Replaces the socket's data.
    pub fn set_data(&self, data: impl Serialize) -> Result<(), ValueError> {
        let v = to_value(&data)?;
        *self.0.data.write().unwrap_or_else(|e| e.into_inner()) = v;
        Ok(())
    }

    /// Stores a typed value local to this socket (not serialized, not shared across
    /// servers), replacing any of the same type.
    pub fn insert_extension<T: Send + Sync + 'static>(&self, value: T) {
        self.0
            .extensions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// The typed value of type `T` stored with [`Socket::insert_extension`].
    pub fn extension<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        let map = self.0.extensions.read().unwrap_or_else(|e| e.into_inner());
        map.get(&TypeId::of::<T>())
            .cloned()
            .and_then(|a| a.downcast::<T>().ok())
    }

    // --- listeners ----------------------------------------------------------------------

    /// Adds a listener for `event` (a `&'static str` or a `String`). Several listeners
    /// of one event all run, in order.
    pub fn on(
        &self,
        event: impl Into<Cow<'static, str>>,
        handler: impl Fn(&Socket, Event) + Send + Sync + 'static,
    ) -> ListenerId {
        self.add_listener(event.into(), Arc::new(handler), false)
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
        handler: EventHandler,
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

    /// Adds a packet middleware (`socket.use`): it sees every incoming event before the
    /// listeners, may change it, or refuse it with an error that goes to
    /// [`Socket::on_error`] listeners instead.
    pub fn use_(
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
        let ack = ack_id.map(|id| AckSender::new(self.clone(), id));
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
        let handlers: Vec<EventHandler> = {
            let mut l = self.listeners_mut();
            let handlers = l
                .events
                .iter()
                .filter(|h| *h.event == *event.name)
                .map(|h| h.handler.clone())
                .collect();
            l.events.retain(|h| !(h.once && *h.event == *event.name));
            handlers
        };
        let n = handlers.len();
        for (i, h) in handlers.into_iter().enumerate() {
            if i + 1 == n {
                h(self, event);
                break;
            }
            h(self, event.duplicate());
        }
    }

    pub(crate) fn handle_ack(&self, id: u64, args: Vec<Value>) {
        let cb = self
            .0
            .acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        match cb {
            Some(cb) => cb(Ok(args)),
            None => tracing::debug!(id = %self.id(), ack = id, "ack for an unknown id ignored"),
        }
    }

    pub(crate) fn register_ack(&self, id: u64, cb: AckCallback) {
        self.0
            .acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, cb);
    }

    pub(crate) fn cancel_ack(&self, id: u64) {
        self.0
            .acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
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
            .send_all(frames(packet, self.0.version, self.parser()))
            .map_err(|_| EmitError::Disconnected)
    }

    /// Sends the CONNECT that accepts this socket: `{"sid":…}` in v5, nothing in v4.
    pub(crate) fn send_connect_reply(&self) -> Result<(), EmitError> {
        let nsp = self.namespace_name();
        let id = self.id().as_str();
        let plain = |c: char| c != '"' && c != '\\' && !c.is_control();
        let frames = match (self.0.version, self.parser()) {
            // Written directly (the usual case): ids are generated, nothing to escape.
            (ProtocolVersion::V5, Parser::Default) if id.chars().all(plain) => {
                let nsp_len = if nsp == "/" { 0 } else { nsp.len() + 1 };
                let mut text = String::with_capacity(2 + nsp_len + 10 + id.len());
                text.push_str("40");
                if nsp_len > 0 {
                    text.push_str(nsp);
                    text.push(',');
                }
                text.push_str("{\"sid\":\"");
                text.push_str(id);
                text.push_str("\"}");
                Frames {
                    first: EncodedPacket::Text(Utf8Bytes::from(text)),
                    attachments: Vec::new(),
                }
            }
            (ProtocolVersion::V5, parser) => {
                let sid = Value::Object(vec![("sid".to_owned(), Value::String(id.to_owned()))]);
                frames(
                    &Packet::connect(nsp, Some(sid)),
                    ProtocolVersion::V5,
                    parser,
                )
            }
            (ProtocolVersion::V4, parser) => {
                frames(&Packet::connect(nsp, None), ProtocolVersion::V4, parser)
            }
        };
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
        let frames = args_frames(
            self.namespace_name(),
            event,
            id,
            args,
            self.0.version,
            self.parser(),
        );
        self.0
            .conn
            .send_all(frames)
            .map_err(|_| EmitError::Disconnected)
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

    /// Emits `event` with `args` to this client.
    ///
    /// `args` is one serializable value, or an [`Args`](crate::Args) list
    /// (`args![a, b]`, `args![]`).
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        self.emitter().emit(event, args)
    }

    /// `socket.send(...)`: emits the `message` event.
    pub fn send(&self, args: impl IntoArgs) -> Result<(), EmitError> {
        self.emit("message", args)
    }

    /// Emits `event` and waits for the client's acknowledgement (no time limit; see
    /// [`Socket::timeout`]).
    pub fn emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> impl Future<Output = Result<Vec<Value>, AckError>> + Send + 'static {
        self.emitter().emit_with_ack(event, args)
    }

    /// Flags the next emission volatile: dropped if the transport cannot write now.
    pub fn volatile(&self) -> SocketEmitter<'_> {
        self.emitter().volatile()
    }

    /// Sets how long [`SocketEmitter::emit_with_ack`] waits.
    pub fn timeout(&self, timeout: Duration) -> SocketEmitter<'_> {
        self.emitter().timeout(timeout)
    }

    /// Accepted for compatibility: compression is decided by the transport.
    pub fn compress(&self, compress: bool) -> SocketEmitter<'_> {
        self.emitter().compress(compress)
    }

    fn emitter(&self) -> SocketEmitter<'_> {
        SocketEmitter {
            socket: self,
            volatile: false,
            timeout: None,
        }
    }

    // --- broadcasting from this socket --------------------------------------------------

    /// Everyone in the namespace but this socket.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.0.ns.clone()).except(self.id())
    }

    /// The sockets in `rooms`, without this one.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Same as [`Socket::to`].
    pub fn in_(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// Everyone but this socket and the sockets in `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// Broadcasts limited to this server (matters with a cluster adapter).
    pub fn local(&self) -> BroadcastOperator {
        self.broadcast().local()
    }

    // --- rooms --------------------------------------------------------------------------

    /// Joins one or several rooms.
    pub fn join(&self, rooms: impl IntoRooms) {
        // Allowed before the connection completes (from a connection middleware); a
        // refused socket's rooms are cleaned up.
        if !self.0.closing.load(Ordering::Acquire) {
            self.0.ns.adapter().add_all(self, &rooms.into_rooms());
        }
    }

    /// Leaves a room (or several).
    pub fn leave(&self, rooms: impl IntoRooms) {
        for room in rooms.into_rooms() {
            self.0.ns.adapter().del(self.id(), &room);
        }
    }

    /// The rooms of this socket, its own id room included.
    pub fn rooms(&self) -> Vec<Room> {
        self.0.ns.adapter().socket_rooms(self.id())
    }

    // --- disconnection ------------------------------------------------------------------

    /// Disconnects from the namespace: the client gets DISCONNECT (`io server
    /// disconnect`, no automatic reconnection). With `close`, the whole connection is
    /// closed too, after every namespace socket on it got its DISCONNECT.
    pub fn disconnect(&self, close: bool) {
        if close {
            self.0.conn.data().disconnect_all_and_close(&self.0.conn);
            return;
        }
        if !self.connected() {
            return;
        }
        let _ = self.send_packet(&Packet::disconnect(self.namespace_name()));
        self.on_close(DisconnectReason::ServerNamespaceDisconnect);
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
        self.0.ns.adapter().del_all(self.id());
        self.0.ns.remove_socket(self);
        self.0.conn.data().remove_socket(self.namespace_name());
        let acks: Vec<AckCallback> = self
            .0
            .acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .map(|(_, cb)| cb)
            .collect();
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
        self.0.ns.adapter().del_all(self.id());
    }
}

/// An emission from one socket with flags (`volatile`, `timeout`, `compress`).
pub struct SocketEmitter<'a> {
    socket: &'a Socket,
    volatile: bool,
    timeout: Option<Duration>,
}

impl SocketEmitter<'_> {
    /// Drop the packet if the transport cannot write right now.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// How long [`SocketEmitter::emit_with_ack`] waits for the acknowledgement.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Accepted for compatibility.
    pub fn compress(self, _compress: bool) -> Self {
        self
    }

    /// Checks the event name and tells the outgoing listeners.
    fn prepare(&self, event: &str, args: &Args) -> Result<(), EmitError> {
        if is_reserved_event(event) {
            return Err(EmitError::ReservedEvent(event.to_owned()));
        }
        if self.socket.has_outgoing_listeners() {
            self.socket.notify_outgoing(event, &args.values());
        }
        Ok(())
    }

    /// Emits `event` with `args`.
    pub fn emit(self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        let mut args = args.into_args()?;
        self.prepare(event, &args)?;
        if !self.socket.connected() {
            return Err(EmitError::Disconnected);
        }
        if self.volatile && !self.socket.is_writable() {
            tracing::trace!(id = %self.socket.id(), "volatile packet dropped");
            return Ok(());
        }
        self.socket.send_args(Some(event), None, &mut args)
    }

    /// Emits `event` with `args` and an acknowledgement id — sent at once, like
    /// [`SocketEmitter::emit`] — and resolves to the client's answer, or an error on
    /// timeout or disconnection.
    pub fn emit_with_ack(
        self,
        event: &str,
        args: impl IntoArgs,
    ) -> impl Future<Output = Result<Vec<Value>, AckError>> + Send + 'static {
        let socket = self.socket.clone();
        let timeout = self.timeout;
        let sent = args
            .into_args()
            .and_then(|args| self.prepare(event, &args).map(|()| args))
            .map_err(AckError::from)
            .and_then(|mut args| {
                if !socket.connected() {
                    return Err(AckError::Disconnected);
                }
                let id = socket.namespace().next_ack_id();
                let (tx, rx) = oneshot::channel();
                socket.register_ack(
                    id,
                    Box::new(move |r| {
                        let _ = tx.send(r);
                    }),
                );
                if let Err(e) = socket.send_args(Some(event), Some(id), &mut args) {
                    socket.cancel_ack(id);
                    return Err(e.into());
                }
                Ok((id, rx))
            });
        async move {
            let (id, rx) = sent?;
            let answer = match timeout {
                Some(t) => match tokio::time::timeout(t, rx).await {
                    Ok(r) => r,
                    Err(_) => {
                        socket.cancel_ack(id);
                        return Err(AckError::Timeout);
                    }
                },
                None => rx.await,
            };
            answer.unwrap_or(Err(AckError::Disconnected))
        }
    }
}
