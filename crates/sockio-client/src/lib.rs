//! # sockio-client
//!
//! A Socket.IO client: talks to socket.io 4.x servers (Engine.IO 4) and socket.io 2.x
//! servers (Engine.IO 3), over HTTP long-polling and WebSocket, with TLS through
//! rustls.
//!
//! * [`connect`] / [`ClientBuilder`]: options (path, transports, query, headers, auth,
//!   reconnection, timeouts, TLS) and the connection.
//! * [`Socket`]: one namespace — `on` / `on_async` / `once` / `on_any` / `off`,
//!   `emit`, `volatile()`, `timeout(d).emit_with_ack(..)`, acknowledgements of the
//!   server's events ([`Event::ack`]), a send buffer while disconnected, `retries`.
//! * [`Manager`]: the connection under the sockets of several namespaces, and its
//!   reconnection (`reconnecting` / `reconnect_attempt`, `reconnect`, `reconnect_error`,
//!   `reconnect_failed`, `ping`).
//! * [`engine`]: the Engine.IO client as a sans-IO state machine.
//!
//! | socket.io-client (JavaScript) | sockio-client |
//! |---|---|
//! | `io("http://host/chat", opts)` | [`ClientBuilder::new`]`("http://host/chat")…`[`.connect()`](ClientBuilder::connect) / [`.build()`](ClientBuilder::build), or [`connect`] |
//! | `path`, `transports`, `upgrade`, `query`, `extraHeaders`, `auth` (object or callback), `timeout`, `forceNew` | [`ClientBuilder::path`], [`transports`](ClientBuilder::transports), [`upgrade`](ClientBuilder::upgrade), [`query`](ClientBuilder::query), [`header`](ClientBuilder::header), [`auth`](ClientBuilder::auth) / [`auth_with`](ClientBuilder::auth_with), [`timeout`](ClientBuilder::timeout), [`force_new`](ClientBuilder::force_new) |
//! | `reconnection`, `reconnectionAttempts`, `reconnectionDelay`, `reconnectionDelayMax`, `randomizationFactor` | the [`ClientBuilder`] methods of the same names |
//! | `retries`, `ackTimeout` | [`ClientBuilder::retries`], [`ClientBuilder::ack_timeout`] |
//! | `new Manager(url)`, `manager.socket("/admin")` | [`ClientBuilder::manager`], [`Manager::socket`] |
//! | `socket.on` / `once` / `off` / `onAny` | [`Socket::on`] (and [`Socket::on_async`]), [`Socket::once`], [`Socket::off`], [`Socket::on_any`] |
//! | `socket.emit(ev, ...args)`, `socket.volatile.emit`, `socket.send` | [`Socket::emit`] (one value, or [`args!`]), [`Socket::volatile`], [`Socket::send`] |
//! | `socket.emit(ev, arg, (res) => …)`, `socket.timeout(ms).emitWithAck(ev)` | [`Socket::emit_with_ack_cb`], [`Socket::timeout`]`(d).`[`emit_with_ack`](Emitter::emit_with_ack)`(ev, args).await` |
//! | `socket.on(ev, (arg, callback) => callback(x))` | [`Event::ack`] |
//! | `socket.connect()`, `socket.disconnect()`, `socket.connected`, `socket.id` | [`Socket::connect`], [`Socket::disconnect`], [`Socket::connected`], [`Socket::id`] |
//!
//! Events of a socket: `connecting`, `connect`, `connect_error` (`{"message", "data"?}`),
//! `connect_failed` (reconnection gave up before it ever connected), `disconnect` (the
//! reason: `io server disconnect`, `io client disconnect`, `transport close`,
//! `transport error`, `ping timeout`, `parse error`), `error` (a refusal, as
//! socket.io-client 2.x called it, or garbage from the server), and every event of the
//! server (`message` for its `send`). Events of a [`Manager`]: `open`, `close`, `error`,
//! `ping`, `reconnecting` and its alias `reconnect_attempt` (the attempt number),
//! `reconnect` (the attempts it took), `reconnect_error`, `reconnect_failed`. A lost
//! connection gives `disconnect` → `reconnecting(1)` → `connecting` → `reconnect` →
//! `connect` (with `connect_error` and `reconnect_error` after each failed attempt);
//! after a disconnection asked by either side, nothing reconnects.
//!
//! Handlers run on a handler thread, never in the connection's task: a slow or even
//! blocking handler does not stall heartbeats. Each manager's events are handled in
//! order; async handlers ([`Socket::on_async`]) each run as a task of their own.
//!
//! ```
//! use std::time::Duration;
//! use sockio_client::{args, ClientBuilder, Event};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), sockio_client::Error> {
//!     # // A server to talk to: sockio's own, in this process.
//!     # let io = sockio_server::SocketIo::new();
//!     # io.on_connection(|s| {
//!     #     s.on("ping", |_, mut ev| { let _ = ev.ack("pong"); });
//!     #     let _ = s.emit("message", "welcome");
//!     # });
//!     # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     # let port = listener.local_addr().unwrap().port();
//!     # let server = io.clone();
//!     # tokio::spawn(async move { server.serve(listener).await });
//!     # let url = format!("http://127.0.0.1:{port}/");
//!     // let url = "http://localhost:3000/";
//!     let (tx, mut welcome) = tokio::sync::mpsc::unbounded_channel();
//!     let socket = ClientBuilder::new(&url)
//!         .auth(serde_json::json!({ "token": "abc" }))
//!         .on("message", move |ev: Event| {
//!             let _ = tx.send(ev.arg::<String>(0));
//!         })
//!         .connect()
//!         .await?;
//!     assert_eq!(welcome.recv().await.unwrap()?, "welcome");
//!     socket.emit("chat", args!["hello", 1])?;
//!     let reply = socket
//!         .timeout(Duration::from_secs(5))
//!         .emit_with_ack("ping", ())
//!         .await?;
//!     assert_eq!(reply[0].as_str(), Some("pong"));
//!     socket.disconnect();
//!     Ok(())
//! }
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

// Modules from the top (what the application calls) down to the bottom (what has no
// dependency in this crate); each names only modules below it. `Socket::io` is defined
// in manager.rs, next to `Manager::socket`, so that socket.rs needs only the shared state
// under a manager, not the `Manager` handle.
//
// - client: `ClientBuilder` and `connect`, the options gathered into a manager and a socket
// - manager: the `Manager` handle: its sockets, its events, `close`; starts the connection
// - registry: the managers that new sockets may share, by their options
// - connection: the connection's task, the Socket.IO layer over the Engine.IO driver:
//   joining namespaces, decoding packets, delivering events and acks, reconnecting
// - socket: the `Socket` handle (and `Emitter`): handlers, connect, disconnect, emits,
//   acknowledgements, the send buffer, and what the connection's task tells it
// - state: what the handles and the connection's task share, of a manager and its sockets
// - config: the settings of a manager and of its sockets (`SocketOptions`, `Auth`)
// - handlers: a socket's (or manager's) handlers and the threads that run them
// - event: `Event`, and `AckSender` for the server's acknowledgement requests
// - args: `IntoArgs`, `Args` and `args!`: the arguments of an emit
// - command: `Cmd`, what the handles ask of the connection's task
// - driver: the tokio task that drives the Engine.IO state machine over a transport
// - transport: URLs, TCP and TLS streams, HTTP requests and the WebSocket handshake
// - queue: the small unbounded queue the connection's task takes its inputs from
// - error: `Error`
// - engine: the Engine.IO client as a sans-IO state machine
mod args;
mod client;
mod command;
mod config;
mod connection;
mod driver;
pub mod engine;
mod error;
mod event;
mod handlers;
mod manager;
mod queue;
mod registry;
mod small_map;
mod socket;
mod state;
mod transport;
mod ws;

pub use args::{Args, BuiltArgs, IntoArgs};
pub use bytes::Bytes;
pub use client::{connect, ClientBuilder};
pub use config::{Auth, AuthCallback, SocketOptions};
#[doc(hidden)]
pub use connection::fuzz_messages;
pub use engine::{ProtocolVersion, TransportKind};
pub use error::Error;
pub use event::{AckSender, Event};
pub use handlers::{BoxFuture, HandlerId};
pub use manager::Manager;
pub use rustls;
pub use socket::{Emitter, Socket};
pub use sockio_protocol::socket::{from_value, to_value, Value};
#[doc(hidden)]
pub use transport::fuzz_url;
pub use transport::{tls_config_with_roots, ServerUrl};
#[doc(hidden)]
pub use ws::fuzz_ws;
