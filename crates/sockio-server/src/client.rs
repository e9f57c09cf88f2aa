//! The Socket.IO side of one Engine.IO connection: decoding, namespace connections
//! (with their async middlewares), and routing packets to namespace sockets in order.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use sockio_engine::{CloseReason, Handler, Message, ProtocolVersion as EngineVersion, Sid};
use sockio_protocol::socket::{
    Decoder, DecoderConfig, Packet, PacketData, ProtocolVersion, RawEvent, Value,
};

use crate::error::{ConnectError, DisconnectReason};
use crate::event::Args;
use crate::ids::SocketId;
use crate::namespace::Namespace;
use crate::server::Parser;
use crate::server::ServerInner;
use crate::socket::{EngineSocket, Socket};
use sockio_protocol::Utf8Bytes;

/// Per-connection state of the Socket.IO server, kept with each Engine.IO session.
/// Opaque: it only appears in the types of [`crate::SocketIo::engine`].
#[derive(Default)]
pub struct Conn {
    /// The decoder, and the packets waiting behind an async connection: one lock per
    /// received message.
    inbound: Mutex<Inbound>,
    sockets: Mutex<Vec<Socket>>,
    /// Namespaces whose connection middlewares are running.
    connecting: Mutex<Vec<String>>,
    /// Whether a namespace was ever joined (the connect timeout no longer applies).
    pub(crate) joined: AtomicBool,
}

#[derive(Default)]
struct Inbound {
    decoder: Option<Decoder>,
    /// While an async connection runs, later packets wait here to keep their order.
    pending: Option<VecDeque<Incoming>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Conn {
    fn socket(&self, nsp: &str) -> Option<Socket> {
        lock(&self.sockets)
            .iter()
            .find(|s| s.namespace_name() == nsp)
            .cloned()
    }

    pub(crate) fn remove_socket(&self, nsp: &str) {
        lock(&self.sockets).retain(|s| s.namespace_name() != nsp);
    }

    pub(crate) fn is_idle(&self) -> bool {
        lock(&self.sockets).is_empty() && lock(&self.connecting).is_empty()
    }

    /// Disconnects every namespace socket with `reason` (no packet to the client).
    fn close_sockets(&self, reason: DisconnectReason) {
        let sockets: Vec<Socket> = lock(&self.sockets).clone();
        for s in sockets {
            s.on_close(reason);
        }
    }

    /// Closes the connection for a Socket.IO-level reason: the sockets get `reason`,
    /// then the Engine.IO session closes.
    pub(crate) fn close_with(&self, esock: &EngineSocket, reason: DisconnectReason) {
        self.close_sockets(reason);
        esock.close();
    }

    /// `socket.disconnect(true)`: every namespace socket gets DISCONNECT, then the
    /// connection closes.
    pub(crate) fn disconnect_all_and_close(&self, esock: &EngineSocket) {
        let sockets: Vec<Socket> = lock(&self.sockets).clone();
        for s in sockets {
            s.disconnect(false);
        }
        esock.close();
    }
}

/// A decoded packet: a plain event with its arguments still JSON text, or any packet.
enum Incoming {
    Event(RawEvent),
    Packet(Packet),
}

/// Whether a packet was handled, or started an async connection that will resume the
/// connection's packets when done.
enum Flow {
    Done,
    Async,
}

/// The Engine.IO handler of the Socket.IO server.
pub(crate) struct SocketIoHandler {
    pub(crate) server: Weak<ServerInner>,
    /// The server's packet format (fixed when it is built).
    pub(crate) parser: Parser,
}

fn version_of(esock: &EngineSocket) -> ProtocolVersion {
    match esock.protocol() {
        EngineVersion::V3 => ProtocolVersion::V4,
        EngineVersion::V4 => ProtocolVersion::V5,
    }
}

impl Handler<Conn> for SocketIoHandler {
    fn on_open(&self, esock: &EngineSocket) {
        let Some(server) = self.server.upgrade() else {
            esock.close();
            return;
        };
        let version = version_of(esock);
        let mut config = DecoderConfig::new(version);
        config.max_attachments = server.config.max_attachments;
        lock(&esock.data().inbound).decoder = Some(Decoder::with_config(config));
        server.connect_deadlines.watch(esock.downgrade());
        if version == ProtocolVersion::V4 {
            // socket.io-client 2.x expects to be in `/` without asking.
            self.process(esock, Incoming::Packet(Packet::connect("/", None)));
        }
    }

    fn on_message(&self, esock: &EngineSocket, message: Message) {
        let mut inbound = lock(&esock.data().inbound);
        let decoded = if self.parser == Parser::MsgPack {
            // One packet per binary message; text is not part of this format.
            match &message {
                Message::Binary(b) => {
                    sockio_protocol::socket::decode_msgpack(b).map(|p| Some(Incoming::Packet(p)))
                }
                Message::Text(_) => {
                    Err(sockio_protocol::socket::DecodeError::UnexpectedText { missing: 0 })
                }
            }
        } else {
            let Some(decoder) = inbound.decoder.as_mut() else {
                return;
            };
            match &message {
                // Plain events (most packets) keep their arguments as JSON text.
                Message::Text(t) => match decoder.decode_event_text(t) {
                    Some(event) => Ok(Some(Incoming::Event(event))),
                    None => decoder.decode_text(t).map(|p| p.map(Incoming::Packet)),
                },
                Message::Binary(b) => decoder
                    .decode_binary(b.clone())
                    .map(|p| p.map(Incoming::Packet)),
            }
        };
        match decoded {
            Ok(Some(packet)) => {
                if let Some(queue) = inbound.pending.as_mut() {
                    queue.push_back(packet);
                    return;
                }
                drop(inbound);
                self.handle(esock, packet);
            }
            Ok(None) => {}
            Err(e) => {
                drop(inbound);
                tracing::debug!(sid = %esock.sid(), error = %e, "invalid Socket.IO packet: closing the connection");
                esock.close_with(CloseReason::ForcedClose);
            }
        }
    }

    fn on_close(&self, esock: &EngineSocket, reason: CloseReason) {
        esock
            .data()
            .close_sockets(DisconnectReason::from_engine(reason));
    }
}

impl SocketIoHandler {
    /// Handles a packet now, or queues it behind a connection still running its
    /// middlewares.
    fn process(&self, esock: &EngineSocket, packet: Incoming) {
        {
            let mut inbound = lock(&esock.data().inbound);
            if let Some(queue) = inbound.pending.as_mut() {
                queue.push_back(packet);
                return;
            }
        }
        self.handle(esock, packet);
    }

    /// Handles the queued packets after an async connection completed.
    fn drain(&self, esock: &EngineSocket) {
        loop {
            let next = {
                let mut inbound = lock(&esock.data().inbound);
                match inbound.pending.as_mut().and_then(VecDeque::pop_front) {
                    Some(p) => p,
                    None => {
                        inbound.pending = None;
                        return;
                    }
                }
            };
            if let Flow::Async = self.handle(esock, next) {
                return;
            }
        }
    }

    fn handle(&self, esock: &EngineSocket, packet: Incoming) -> Flow {
        if esock.is_closed() {
            return Flow::Done;
        }
        let conn = esock.data();
        let packet = match packet {
            Incoming::Packet(packet) => packet,
            Incoming::Event(event) => {
                match conn.socket(&event.nsp) {
                    Some(socket) => {
                        socket.dispatch_event(event.event, Args::from(event.args), event.id)
                    }
                    None => not_joined(esock, &event.nsp),
                }
                return Flow::Done;
            }
        };
        let Packet { nsp, id, data } = packet;
        if let PacketData::Connect(auth) = data {
            return self.connect(esock, nsp, auth);
        }
        let Some(socket) = conn.socket(&nsp) else {
            not_joined(esock, &nsp);
            return Flow::Done;
        };
        match data {
            PacketData::Disconnect => socket.on_close(DisconnectReason::ClientNamespaceDisconnect),
            PacketData::Event { event, args } => {
                socket.dispatch_event(Utf8Bytes::from(event), Args::from(args), id)
            }
            PacketData::Ack { args } => match id {
                Some(id) => socket.handle_ack(id, args),
                None => tracing::debug!(sid = %esock.sid(), "ack without id ignored"),
            },
            PacketData::ConnectError(_) | PacketData::Connect(_) => {
                tracing::debug!(sid = %esock.sid(), "unexpected packet from client ignored");
            }
        }
        Flow::Done
    }

    fn connect(&self, esock: &EngineSocket, nsp: String, auth: Option<Value>) -> Flow {
        let conn = esock.data();
        let version = version_of(esock);
        if conn.socket(&nsp).is_some() || lock(&conn.connecting).contains(&nsp) {
            tracing::debug!(sid = %esock.sid(), nsp, "second CONNECT to a namespace: closing");
            conn.close_with(esock, DisconnectReason::ForcedServerClose);
            return Flow::Done;
        }
        let Some(server) = self.server.upgrade() else {
            return Flow::Done;
        };
        let Some(ns) = server.namespace_for_connection(&nsp) else {
            tracing::debug!(sid = %esock.sid(), nsp, "CONNECT to an unknown namespace");
            let err = Packet::connect_error_message(nsp.as_str(), "Invalid namespace", None);
            let _ = esock.send_all(crate::socket::frames(&err, version, server.config.parser));
            return Flow::Done;
        };
        let auth = match auth {
            Some(v @ Value::Object(_)) => v,
            _ => Value::Object(Vec::new()),
        };
        let id = match version {
            ProtocolVersion::V5 => SocketId::from(Sid::generate().as_str()),
            ProtocolVersion::V4 if nsp == "/" => SocketId::from(esock.sid().as_str()),
            ProtocolVersion::V4 => SocketId::from(format!("{nsp}#{}", esock.sid())),
        };
        let socket = Socket::new(id, ns.clone(), esock.clone(), version, auth);
        let middlewares = ns.middlewares();
        if middlewares.is_empty() {
            finish_connect(&ns, socket);
            return Flow::Done;
        }
        lock(&conn.connecting).push(nsp.clone());
        {
            let mut inbound = lock(&conn.inbound);
            if inbound.pending.is_none() {
                inbound.pending = Some(VecDeque::new());
            }
        }
        let handler = SocketIoHandler {
            server: self.server.clone(),
            parser: self.parser,
        };
        let esock = esock.clone();
        tokio::spawn(async move {
            let mut outcome = Ok(());
            for mw in middlewares {
                if let Err(e) = mw(socket.clone()).await {
                    outcome = Err(e);
                    break;
                }
            }
            let conn = esock.data();
            lock(&conn.connecting).retain(|n| n != &nsp);
            match outcome {
                Ok(()) if !esock.is_closed() => finish_connect(&ns, socket),
                Ok(()) => socket.discard(),
                Err(e) => {
                    socket.discard();
                    if !esock.is_closed() {
                        refuse(&esock, &nsp, e, version, ns.parser());
                    }
                }
            }
            handler.drain(&esock);
        });
        Flow::Async
    }
}

/// A packet for a namespace the connection did not join: the connection closes.
fn not_joined(esock: &EngineSocket, nsp: &str) {
    tracing::debug!(sid = %esock.sid(), nsp, "packet for a namespace not joined: closing");
    esock
        .data()
        .close_with(esock, DisconnectReason::ForcedServerClose);
}

fn refuse(
    esock: &EngineSocket,
    nsp: &str,
    err: ConnectError,
    version: ProtocolVersion,
    parser: Parser,
) {
    tracing::debug!(sid = %esock.sid(), nsp, error = %err, "connection refused by a middleware");
    let packet = match version {
        ProtocolVersion::V5 => Packet::connect_error_message(nsp, err.message.as_str(), err.data),
        ProtocolVersion::V4 => {
            Packet::connect_error(nsp, err.data.unwrap_or(Value::String(err.message)))
        }
    };
    let _ = esock.send_all(crate::socket::frames(&packet, version, parser));
}

fn finish_connect(ns: &Namespace, socket: Socket) {
    socket.mark_connected();
    ns.add_socket(&socket);
    let conn = socket.0.conn.data();
    lock(&conn.sockets).push(socket.clone());
    conn.joined.store(true, Ordering::Release);
    let _ = socket.send_connect_reply();
    tracing::debug!(id = %socket.id(), nsp = ns.name(), "socket connected");
    for h in ns.connection_handlers() {
        h(&socket);
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").finish_non_exhaustive()
    }
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Conn>();
    is::<Arc<ServerInner>>();
}
