//! # sockio-server
//!
//! The Socket.IO server: what a socket.io user writes on Node — namespaces, connection
//! middlewares, events with several listeners, acknowledgements both ways, rooms,
//! broadcasts with or without the sender, volatile and local emits, listing sockets and
//! rooms — wire-compatible with socket.io-client 4.x (protocol v5) and 2.x (protocol v4
//! over Engine.IO 3).
//!
//! It sits on `sockio-engine` (the transport) and `sockio-protocol` (the codecs); rooms
//! live in an [`Adapter`] ([`LocalAdapter`] in memory), the boundary a cluster adapter
//! implements.
//!
//! | socket.io (Node) | sockio |
//! |---|---|
//! | `io.on("connection", fn)` | [`SocketIo::on_connection`] |
//! | `io.use(fn)` / `nsp.use(fn)` | [`SocketIo::use_`] / [`Namespace::use_`] |
//! | `io.of("/chat")`, `io.of(/^\/dyn-\w+$/)` | [`SocketIo::of`], [`SocketIo::of_regex`], [`SocketIo::of_dynamic`] |
//! | `socket.on(ev, fn)`, `once`, `off`, `onAny`, `onAnyOutgoing`, `use` | [`Socket::on`], [`Socket::once`], [`Socket::off`], [`Socket::on_any`], [`Socket::on_any_outgoing`], [`Socket::use_`] |
//! | `socket.emit(ev, ...args)` | [`Socket::emit`] with one value or [`args!`] |
//! | `socket.timeout(ms).emitWithAck(ev)` | [`Socket::timeout`] + [`SocketEmitter::emit_with_ack`] |
//! | `io.emit`, `socket.broadcast.emit`, `socket.to(room).emit`, `io.to(room).emit`, `except` | [`SocketIo::emit`], [`Socket::broadcast`], [`Socket::to`], [`SocketIo::to`], [`BroadcastOperator::except`] |
//! | `socket.join`, `leave`, `socket.rooms` | [`Socket::join`], [`Socket::leave`], [`Socket::rooms`] |
//! | `io.fetchSockets()`, `socketsJoin`, `disconnectSockets` | [`BroadcastOperator::fetch_sockets`], [`BroadcastOperator::sockets_join`], [`BroadcastOperator::disconnect_sockets`] |
//! | `socket.on("disconnecting" / "disconnect")` | [`Socket::on_disconnecting`], [`Socket::on_disconnect`] |
//! | `io.close()` | [`SocketIo::close`] |

pub mod adapter;
mod client;
mod connect_timeout;
mod error;
mod event;
mod ids;
mod namespace;
mod operators;
mod server;
mod socket;

pub use adapter::{Adapter, BroadcastOptions, LocalAdapter};
pub use bytes::Bytes;
pub use client::Conn;
pub use error::{AckError, BroadcastAckError, ConnectError, DisconnectReason, EmitError};
pub use event::{__to_value, AckSender, Args, Event, IntoArgs};
pub use ids::{IntoRooms, Room, SocketId};
pub use namespace::Namespace;
pub use operators::BroadcastOperator;
pub use server::{Parser, SocketIo, SocketIoBuilder, SocketIoConfig};
pub use socket::{ListenerId, Socket, SocketEmitter};
pub use sockio_protocol::socket::{from_value, to_value, Value};
pub use sockio_protocol::Utf8Bytes;
