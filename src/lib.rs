//! # sockio
//!
//! Socket.IO for Rust, wire-compatible with the whole Socket.IO ecosystem: the official
//! JavaScript clients (socket.io-client 4.x and 2.x) talk to it as to a Node server.
//!
//! The types of everyday use are here at the top:
//!
//! ```no_run
//! use sockio::{args, SocketIo};
//!
//! # async fn run() -> std::io::Result<()> {
//! let io = SocketIo::new();
//! io.on_connection(|socket| {
//!     socket.join("lobby");
//!     socket.on("chat", |socket, mut event| {
//!         let _ = socket.to("lobby").emit("chat", event.take_args());
//!         let _ = event.ack(args!["delivered"]);
//!     });
//! });
//! io.serve(tokio::net::TcpListener::bind("127.0.0.1:3000").await?).await
//! # }
//! ```
//!
//! The layers are crates of their own, re-exported as modules:
//!
//! * [`protocol`] (`sockio-protocol`): sans-IO codecs of Engine.IO and Socket.IO packets.
//! * [`engine`] (`sockio-engine`): the Engine.IO server — long-polling, WebSocket, upgrade,
//!   heartbeats — as a tower service over hyper 1.
//! * [`server`] (`sockio-server`): the Socket.IO server — namespaces, middlewares, events,
//!   acknowledgements, rooms, broadcasts, and the [`Adapter`](server::Adapter) to the other
//!   servers of a cluster.
//!
//! Features: `msgpack` (on by default) adds [`Parser::MsgPack`] for clients using
//! socket.io-msgpack-parser.

/// The Socket.IO client (feature `client`).
#[cfg(feature = "client")]
pub use sockio_client as client;
pub use sockio_engine as engine;
pub use sockio_protocol as protocol;
pub use sockio_server as server;

pub use sockio_server::{
    args, AckError, AckSender, Args, BroadcastAckError, BroadcastOperator, Bytes, ConnectError,
    DisconnectReason, EmitError, Event, IntoArgs, Namespace, Parser, RemoteSocket, Room, Socket,
    SocketId, SocketIo, SocketIoBuilder, Value,
};

// The README's examples are compiled as doctests, so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
