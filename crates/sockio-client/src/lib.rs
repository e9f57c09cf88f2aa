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
//! Handlers run in a task of their own, never in the connection's: a slow handler does
//! not stall heartbeats (async handlers each get a task).
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

mod client;
mod driver;
pub mod engine;
mod error;
mod event;
mod manager;
mod socket;
mod transport;

pub use bytes::Bytes;
pub use client::{connect, ClientBuilder};
pub use engine::{ProtocolVersion, TransportKind};
pub use error::Error;
pub use event::{AckSender, Args, BoxFuture, BuiltArgs, Event, HandlerId, IntoArgs};
pub use manager::{Auth, AuthCallback, Manager};
pub use rustls;
pub use socket::{Emitter, Socket, SocketOptions};
pub use sockio_protocol::socket::{from_value, to_value, Value};
pub use transport::{tls_config_with_roots, ServerUrl};
