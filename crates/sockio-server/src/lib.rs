//! # sockio-server
//!
//! The Socket.IO server: what a socket.io user writes on Node — namespaces, connection
//! middlewares, events with several listeners (sync or async), acknowledgements both
//! ways, rooms, broadcasts with or without the sender, volatile and local emits, listing
//! sockets and rooms — wire-compatible with socket.io-client 4.x (protocol v5) and 2.x
//! (protocol v4 over Engine.IO 3).
//!
//! It sits on `sockio-engine` (the transport) and `sockio-protocol` (the codecs). Each
//! namespace keeps this server's sockets and rooms in memory; its [`Adapter`] carries
//! every operation to the other servers of a cluster ([`LocalAdapter`], the default, is
//! a single server).
//!
//! | socket.io (Node) | sockio |
//! |---|---|
//! | `io.on("connection", fn)` | [`SocketIo::on_connection`] |
//! | `io.use(fn)` / `nsp.use(fn)` | [`SocketIo::middleware`] / [`Namespace::middleware`] |
//! | `io.of("/chat")`, `io.of(/^\/dyn-\w+$/)` | [`SocketIo::of`], [`SocketIo::of_regex`], [`SocketIo::of_dynamic`] |
//! | `socket.on(ev, fn)`, `async` listeners, `once`, `off`, `onAny`, `onAnyOutgoing`, `use` | [`Socket::on`], [`Socket::on_async`], [`Socket::once`], [`Socket::off`], [`Socket::on_any`], [`Socket::on_any_outgoing`], [`Socket::packet_middleware`] |
//! | `socket.emit(ev, ...args)` | [`Socket::emit`] with one value or [`args!`] |
//! | `socket.timeout(ms).emitWithAck(ev)` | [`Socket::timeout`] + [`SocketEmitter::emit_with_ack`] |
//! | `io.emit`, `socket.broadcast.emit`, `socket.to(room).emit`, `io.to(room).emit`, `except` | [`SocketIo::emit`], [`Socket::broadcast`], [`Socket::to`], [`SocketIo::to`], [`BroadcastOperator::except`] |
//! | `socket.join`, `leave`, `socket.rooms` | [`Socket::join`], [`Socket::leave`], [`Socket::rooms`] |
//! | `io.fetchSockets()`, `socketsJoin`, `disconnectSockets` | [`BroadcastOperator::fetch_sockets`] ([`RemoteSocket`]), [`BroadcastOperator::sockets_join`], [`BroadcastOperator::disconnect_sockets`] |
//! | `io.serverSideEmit`, `serverSideEmitWithAck`, `io.on(serverSideEvent)` | [`Namespace::server_side_emit`], [`Namespace::server_side_emit_with_ack`], [`Namespace::on_server_side`] |
//! | `socket.disconnect()`, `socket.disconnect(true)` | [`Socket::disconnect`], [`Socket::disconnect_and_close`] |
//! | `socket.on("disconnecting" / "disconnect")` | [`Socket::on_disconnecting`], [`Socket::on_disconnect`] |
//! | `io.close()` | [`SocketIo::close`] |
//!
//! The files, top down: `server` (the [`SocketIo`] handle and its builder) →
//! `client` (the Engine.IO handler: decoding, namespace connections) → `namespaces` →
//! `namespace` → `local` (this server's sockets and delivery) → `socket` (+ `emitter`)
//! → `operators`, `adapter`, `listeners`, `rooms`, `event`, `conn`, `wire`, `args`,
//! `config`, `ids`, `error`.

pub mod adapter;
mod args;
mod client;
mod config;
mod conn;
mod connect_timeout;
mod emitter;
mod error;
mod event;
mod handshake;
mod ids;
mod listeners;
mod local;
mod namespace;
mod namespaces;
mod operators;
pub mod rooms;
mod server;
mod socket;
mod wire;

pub use adapter::{Adapter, BroadcastOptions, LocalAdapter};
pub use args::{Args, BuiltArgs, IntoArgs};
pub use bytes::Bytes;
pub use config::{Limits, Parser, SocketIoConfig};
pub use conn::Conn;
pub use emitter::SocketEmitter;
pub use error::{
    AckError, AdapterError, BroadcastAckError, ConnectError, DisconnectReason, EmitError,
    NamespacePatternError,
};
pub use event::{AckSender, Event};
pub use ids::{IntoRooms, Room, SocketId};
pub use listeners::ListenerId;
pub use namespace::Namespace;
pub use operators::{BroadcastOperator, RemoteSocket};
pub use server::{SocketIo, SocketIoBuilder};
pub use socket::Socket;
pub use sockio_protocol::socket::{from_value, to_value, Value};
pub use sockio_protocol::Utf8Bytes;
