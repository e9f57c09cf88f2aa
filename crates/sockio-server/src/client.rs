//! The Engine.IO handler of the Socket.IO server: decodes each connection's messages,
//! connects it to namespaces (running their async middlewares) and routes its packets to
//! its namespace sockets, in order.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use sockio_engine::{CloseReason, Handler, Message, ProtocolVersion as EngineVersion, Sid};
use sockio_protocol::socket::{Decoder, DecoderConfig, Packet, PacketData, ProtocolVersion, Value};
use sockio_protocol::Utf8Bytes;

use crate::args::Args;
use crate::config::{Limits, Parser};
use crate::conn::{lock, Conn, ConnSocket, EngineSocket, Incoming};
use crate::connect_timeout::ConnectDeadlines;
use crate::error::{ConnectError, DisconnectReason};
use crate::ids::SocketId;
use crate::namespace::Namespace;
use crate::namespaces::Namespaces;
use crate::socket::Socket;
use crate::wire;

/// Whether a packet was handled, or started an async connection that will resume the
/// connection's packets when done.
enum Flow {
    Done,
    Async,
}

/// The Engine.IO handler of the Socket.IO server.
#[derive(Clone)]
pub(crate) struct SocketIoHandler {
    pub(crate) namespaces: Weak<Namespaces>,
    /// The server's packet format (fixed when it is built).
    pub(crate) parser: Parser,
    pub(crate) limits: Limits,
    pub(crate) connect_deadlines: Arc<ConnectDeadlines>,
}

fn version_of(esock: &EngineSocket) -> ProtocolVersion {
    match esock.protocol() {
        EngineVersion::V3 => ProtocolVersion::V4,
        EngineVersion::V4 => ProtocolVersion::V5,
    }
}

impl Handler<Conn> for SocketIoHandler {
    fn on_open(&self, esock: &EngineSocket) {
        if self.namespaces.strong_count() == 0 {
            esock.close();
            return;
        }
        let version = version_of(esock);
        let mut config = DecoderConfig::new(version);
        config.max_attachments = self.limits.max_attachments;
        config.max_depth = self.limits.max_depth;
        lock(&esock.data().inbound).decoder = Some(Decoder::with_config(config));
        self.connect_deadlines.watch(esock.sid());
        if version == ProtocolVersion::V4 {
            // socket.io-client 2.x expects to be in `/` without asking.
            self.process(esock, Incoming::Packet(Packet::connect("/", None)));
        }
    }

    fn on_message(&self, esock: &EngineSocket, message: Message) {
        let mut inbound = lock(&esock.data().inbound);
        let decoded = match self.parser {
            #[cfg(feature = "msgpack")]
            Parser::MsgPack => match &message {
                // One packet per binary message; text is not part of this format.
                Message::Binary(b) => {
                    sockio_protocol::socket::decode_msgpack(b).map(|p| Some(Incoming::Packet(p)))
                }
                Message::Text(_) => {
                    Err(sockio_protocol::socket::DecodeError::UnexpectedText { missing: 0 })
                }
            },
            Parser::Default => {
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
            }
        };
        match decoded {
            Ok(Some(packet)) if event_name_len(&packet) > self.limits.max_event_name_len => {
                drop(inbound);
                tracing::debug!(sid = %esock.sid(), "event name over max_event_name_len: closing the connection");
                esock.close_with(CloseReason::ForcedClose);
            }
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
            PacketData::Disconnect => socket.close(DisconnectReason::ClientNamespaceDisconnect),
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
        if conn.socket(&nsp).is_some() || conn.is_connecting(&nsp) {
            tracing::debug!(sid = %esock.sid(), nsp, "second CONNECT to a namespace: closing");
            conn.close_with(esock, DisconnectReason::ForcedServerClose);
            return Flow::Done;
        }
        if conn.namespace_count() >= self.limits.max_namespaces_per_connection {
            let err = ConnectError::new("Too many namespaces on this connection");
            refuse(esock, &nsp, err, version, self.parser);
            return Flow::Done;
        }
        let Some(namespaces) = self.namespaces.upgrade() else {
            return Flow::Done;
        };
        let Some(ns) = namespaces.for_connection(&nsp) else {
            tracing::debug!(sid = %esock.sid(), nsp, "CONNECT to an unknown namespace");
            let err = Packet::connect_error_message(nsp.as_str(), "Invalid namespace", None);
            let _ = esock.send_all(wire::frames(&err, version, self.parser));
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
        let socket = Socket::new(
            id,
            ns.home(),
            esock.clone(),
            version,
            auth,
            self.limits.max_pending_acks,
        );
        let middlewares = ns.middlewares();
        if middlewares.is_empty() {
            finish_connect(&ns, socket);
            return Flow::Done;
        }
        conn.start_connecting(&nsp);
        {
            let mut inbound = lock(&conn.inbound);
            if inbound.pending.is_none() {
                inbound.pending = Some(VecDeque::new());
            }
        }
        let handler = self.clone();
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
            conn.end_connecting(&nsp);
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

/// The length of the event name of an EVENT packet (0 for other packets).
fn event_name_len(packet: &Incoming) -> usize {
    match packet {
        Incoming::Event(e) => e.event.len(),
        Incoming::Packet(Packet {
            data: PacketData::Event { event, .. },
            ..
        }) => event.len(),
        Incoming::Packet(_) => 0,
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
    let _ = esock.send_all(wire::frames(&packet, version, parser));
}

fn finish_connect(ns: &Namespace, socket: Socket) {
    socket.mark_connected();
    ns.add_socket(&socket);
    let conn = socket.conn().data();
    let entry: Arc<dyn ConnSocket> = socket.0.clone();
    conn.add_socket(entry);
    conn.joined.store(true, Ordering::Release);
    let _ = socket.send_connect_reply();
    tracing::debug!(id = %socket.id(), nsp = ns.name(), "socket connected");
    for h in ns.connection_handlers() {
        h(&socket);
    }
}
