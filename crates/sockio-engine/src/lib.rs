//! # sockio-engine
//!
//! An Engine.IO server: the transport layer under Socket.IO. It opens sessions, moves
//! packets over HTTP long-polling and WebSocket, upgrades polling sessions to WebSocket,
//! and keeps them alive with heartbeats — protocol revision 4 (current clients) and 3
//! (socket.io-client 2.x), byte for byte as Node's `engine.io` 6 does.
//!
//! The wire codecs live in `sockio-protocol`; this crate adds sessions, timers and HTTP.
//! The protocol of a session is a pure state machine (the private `proto` module: inputs
//! and the time in, actions out), driven by thin tokio tasks.
//! An [`Engine`] is a tower service ([`Engine::service`], [`Engine::layer`]) that mounts
//! in axum or any hyper 1 server, or runs on its own with [`serve`].
//!
//! ```no_run
//! use sockio_engine::{Engine, EngineConfig, Handler, Message, Socket};
//!
//! struct Echo;
//! impl Handler<()> for Echo {
//!     fn on_message(&self, socket: &Socket<()>, message: Message) {
//!         let _ = socket.send(message);
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let engine = Engine::new(EngineConfig::default(), Echo);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! sockio_engine::serve(listener, engine.service()).await
//! # }
//! ```

// Modules from the top (what the application calls) down to the bottom (what has no
// dependency in this crate): serving connections, routing requests, the transports'
// tasks, sessions, the pure protocol state machine, and the plumbing under them.
pub mod config;
pub mod cors;
mod direct;
mod engine;
pub mod error;
mod handshake;
mod heartbeats;
#[cfg(feature = "layer")]
mod layer;
mod lean;
mod open;
mod polling;
mod proto;
mod registry;
mod request;
mod response;
mod router;
mod session;
mod session_task;
pub mod sid;
mod signal;
mod stats;
mod tasks;
mod tower;
mod upgrade;
mod wire;
mod ws_io;
mod ws_stream;
mod ws_write;

use std::convert::Infallible;
use std::time::Duration;

use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

pub use config::{Cookie, EngineConfig, EngineConfigBuilder, Transports};
#[doc(hidden)]
pub use direct::fuzz_first_request;
pub use engine::{Engine, WeakEngine};
pub use error::{CloseReason, RequestError, SendError};
pub use handshake::{Handshake, RemoteAddr};
#[cfg(feature = "layer")]
pub use layer::{EngineLayer, EngineMiddleware};
pub use session::{Handler, Socket, TransportKind, WeakSocket};
pub use sid::Sid;
pub use sockio_protocol::engine::{Message, ProtocolVersion};
pub use sockio_protocol::Utf8Bytes;
pub use stats::EngineStats;
pub use tower::EngineService;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A tower service the engine's HTTP/1.1 server answers requests with: what [`serve`]
/// and [`Engine::serve_with`] take ([`Engine::service`], an axum `Router` with an
/// [`EngineLayer`], …). Implemented for every such service.
pub trait HttpService<B>:
    tower_service::Service<
        Request<Incoming>,
        Response = Response<B>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S, B> HttpService<B> for S
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
}

/// A response body the engine's HTTP/1.1 server can write. Implemented for every such
/// body.
pub trait HttpBody: Body<Data: Send, Error: Into<BoxError>> + Send + 'static {}

impl<B> HttpBody for B
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
}

/// Serves `service` (for example [`Engine::service`], or an axum router with an
/// [`EngineLayer`]) on `listener`, one task per connection, with HTTP/1.1 upgrades for
/// WebSocket. Each request carries the peer's [`RemoteAddr`]. Runs until the task is
/// dropped; accept errors (e.g. too many open files) are logged and retried.
pub async fn serve<S, ResBody>(listener: TcpListener, service: S) -> std::io::Result<()>
where
    S: HttpService<ResBody>,
    ResBody: HttpBody,
{
    loop {
        let (stream, addr) = accept(&listener).await;
        tokio::spawn(serve_connection(stream, addr, service.clone(), None));
    }
}

/// The next connection (`TCP_NODELAY` set). Accept errors (e.g. too many open files) are
/// logged and retried after a short pause.
async fn accept(listener: &TcpListener) -> (tokio::net::TcpStream, std::net::SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((stream, addr)) => {
                let _ = stream.set_nodelay(true);
                return (stream, addr);
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Closes the HTTP connection a request came on once the requests in flight on it are
/// answered (in the extensions of every request served by [`serve_connection`]). A
/// polling session keeps those of its requests, and raises them when it moves to
/// WebSocket: the client never polls again, and an idle keep-alive connection would
/// hold hyper's buffers until its header-read timeout.
#[derive(Clone, Default)]
pub(crate) struct ConnectionCloser(pub(crate) std::sync::Arc<signal::Signal>);

/// Serves one HTTP/1.1 connection with `service` (upgrades enabled).
/// The largest request head read (Node's default `maxHeaderSize`, 16 KiB).
pub(crate) const MAX_REQUEST_HEAD: usize = 16 * 1024;

async fn serve_connection<I, S, ResBody>(
    io: I,
    addr: std::net::SocketAddr,
    service: S,
    stop: Option<std::sync::Arc<tasks::Tasks>>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: HttpService<ResBody>,
    ResBody: HttpBody,
{
    let closer = ConnectionCloser::default();
    let close_signal = closer.0.clone();
    let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(RemoteAddr(addr));
        req.extensions_mut().insert(closer.clone());
        let mut service = service.clone();
        tower_service::Service::call(&mut service, req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        // A request head past this is answered 431 (Node's `maxHeaderSize`), instead of
        // being read up to hyper's default of about 400 KB.
        .max_buf_size(MAX_REQUEST_HEAD)
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades();
    tokio::pin!(conn);
    let stopped = async {
        match stop {
            Some(tasks) => tasks.stopped().await,
            None => std::future::pending().await,
        }
    };
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        // When the engine shuts down, or when the polling session this connection served
        // has moved to WebSocket, requests in flight finish and the connection closes
        // instead of waiting, idle, for a next request.
        () = stopped => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
        () = close_signal.wait() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(peer = %addr, error = %e, "connection ended with an error");
    }
}
