//! [`Engine::serve_with`]: a connection whose first request opens a WebSocket on the
//! engine's path is answered on its own task — request head read with `httparse`, the
//! `101` written, the session run — with no HTTP server in between. A connection whose
//! first request is another request of the engine's path (long-polling) is served by the
//! engine's own HTTP/1.1 loop (`lean`), on its own task too, until a request that loop
//! does not serve. Any other connection goes to hyper, the bytes already read replayed
//! first.
//!
//! A WebSocket connection then costs one task and no HTTP connection state, where going
//! through hyper costs a connection task, its buffers and timers, and the upgrade
//! hand-over before the session task starts; a polling request costs a head parse and
//! one write, without hyper's general HTTP/1 dispatch.

use std::future::Future;
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use futures_util::future::{Either as Branch, FutureExt as _};
use http::{Request, Response, StatusCode};
use http_body_util::{Empty, Full};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::engine::Engine;
use crate::lean::{self, Kind, Next, FIRST_BUFFER, HEAD_TIMEOUT, MAX_HEAD};
use crate::wire::{write_response, After};
use crate::ws_io::WsIo;

/// What the first request of a connection is.
// Short-lived (it is matched at once): boxing the request would cost an allocation.
#[allow(clippy::large_enum_variant)]
enum First {
    /// A WebSocket upgrade of the engine's path, with what the client sent after it.
    WebSocket {
        request: Request<Empty<Bytes>>,
        unread: Bytes,
    },
    /// Another request of the engine's path: for `lean`, with the bytes read so far.
    Lean(BytesMut),
    /// Anything else: for hyper, with the bytes read so far.
    Http(Bytes),
    /// The client left (or sent nothing in time).
    Gone,
}

impl<D: Default + Send + Sync + 'static> Engine<D> {
    /// Serves this engine alone on `listener`: [`Engine::serve_with`] its own
    /// [`service`](Engine::service) (404 for other paths).
    pub async fn serve(&self, listener: TcpListener) -> std::io::Result<()> {
        self.serve_with(listener, self.service()).await
    }

    /// Serves this engine on `listener`, its WebSocket connections and the long-polling
    /// requests of its path directly (see the module docs) and every other request with
    /// `service` — typically
    /// [`Engine::service`], or a router this engine is [layered](Engine::layer) on —
    /// through hyper, with upgrades. Like [`crate::serve`], each request carries the
    /// peer's [`RemoteAddr`]; runs until [`Engine::shutdown`] (or until the task is
    /// dropped).
    pub async fn serve_with<S, ResBody>(
        &self,
        listener: TcpListener,
        service: S,
    ) -> std::io::Result<()>
    where
        S: crate::HttpService<ResBody>,
        ResBody: crate::HttpBody,
    {
        let tasks = self.shared.tasks.clone();
        loop {
            let (stream, addr) = tokio::select! {
                accepted = crate::accept(&listener) => accepted,
                () = tasks.stopped() => return Ok(()),
            };
            tasks.spawn(connection_task(self.clone(), service.clone(), stream, addr));
        }
    }
}

/// The task of one accepted connection: its first request read, then the WebSocket
/// session or hyper. Reading the first request and what follows are chained, so that a
/// WebSocket task holds only the session's state afterwards; hyper's connection, much
/// larger, is boxed for the same reason.
fn connection_task<D, S, ResBody>(
    engine: Engine<D>,
    service: S,
    stream: TcpStream,
    addr: SocketAddr,
) -> impl Future<Output = ()> + Send + 'static
where
    D: Default + Send + Sync + 'static,
    S: crate::HttpService<ResBody>,
    ResBody: crate::HttpBody,
{
    read_first(stream, addr, engine.clone()).then(move |(first, stream)| match first {
        First::WebSocket { request, unread } => {
            Branch::Left(Branch::Left(upgrade(engine, stream, request, unread)))
        }
        First::Http(read) => {
            let io = WsIo::Tcp {
                stream,
                unread: read,
            };
            let stop = Some(engine.shared.tasks.clone());
            Branch::Left(Branch::Right(Branch::Left(Box::pin(
                crate::serve_connection(io, addr, service, stop),
            ))))
        }
        First::Lean(buf) => Branch::Left(Branch::Right(Branch::Right(Box::pin(lean_connection(
            engine, service, stream, addr, buf,
        ))))),
        First::Gone => Branch::Right(std::future::ready(())),
    })
}

/// A connection served by `lean`, then by what comes after it: a WebSocket session, or
/// hyper. The loop's state is dropped before either starts.
fn lean_connection<D, S, ResBody>(
    engine: Engine<D>,
    service: S,
    stream: TcpStream,
    addr: SocketAddr,
    buf: BytesMut,
) -> impl Future<Output = ()> + Send + 'static
where
    D: Default + Send + Sync + 'static,
    S: crate::HttpService<ResBody>,
    ResBody: crate::HttpBody,
{
    let serving = Box::pin(async move {
        let mut stream = stream;
        let next = lean::serve(&engine, &mut stream, addr, buf).await;
        (engine, stream, next)
    });
    serving.then(move |(engine, stream, next)| match next {
        Next::WebSocket { request, unread } => {
            Branch::Left(upgrade(engine, stream, request, unread))
        }
        Next::Hyper(read) => {
            let io = WsIo::Tcp {
                stream,
                unread: read,
            };
            let stop = Some(engine.shared.tasks.clone());
            Branch::Right(Branch::Left(Box::pin(crate::serve_connection(
                io, addr, service, stop,
            ))))
        }
        Next::Done => Branch::Right(Branch::Right(std::future::ready(()))),
    })
}

/// Reads the first request head of a connection and sorts it.
async fn read_first<D: Default + Send + Sync + 'static>(
    mut stream: TcpStream,
    addr: SocketAddr,
    engine: Engine<D>,
) -> (First, TcpStream) {
    let mut buf = BytesMut::with_capacity(FIRST_BUFFER);
    let read = tokio::time::timeout(HEAD_TIMEOUT, async {
        loop {
            match parse_head(&buf, addr, &engine) {
                Some(first) => return first,
                None if buf.len() >= MAX_HEAD => return First::Http(Bytes::new()),
                None => {}
            }
            if buf.capacity() == buf.len() {
                buf.reserve(buf.len());
            }
            match stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return First::Gone,
                Ok(_) => {}
            }
        }
    })
    .await;
    let first = match read {
        Ok(First::Http(_)) => First::Http(buf.freeze()),
        Ok(First::Lean(_)) => First::Lean(buf),
        Ok(first) => first,
        Err(_) => First::Gone,
    };
    (first, stream)
}

/// Sorts a connection's first bytes as the direct path does, for fuzzing: `Some(true)`
/// for a WebSocket request on the engine's path (served here), `Some(false)` for
/// anything hyper answers, `None` while the head is incomplete. Not part of the API.
#[doc(hidden)]
pub fn fuzz_first_request(buf: &[u8]) -> Option<bool> {
    struct Nothing;
    impl crate::Handler<()> for Nothing {
        fn on_message(&self, _: &crate::Socket<()>, _: crate::Message) {}
    }
    let engine = Engine::new(crate::EngineConfig::default(), Nothing);
    let addr = SocketAddr::from(([127, 0, 0, 1], 1));
    parse_head(buf, addr, &engine).map(|first| matches!(first, First::WebSocket { .. }))
}

/// Sorts the request head at the start of `buf`: `None` while it is incomplete.
fn parse_head<D: Default + Send + Sync + 'static>(
    buf: &[u8],
    addr: SocketAddr,
    engine: &Engine<D>,
) -> Option<First> {
    Some(match lean::sort(buf, engine)? {
        Kind::WebSocket { head_len } => match lean::websocket_request(buf, head_len, addr) {
            Some(request) => First::WebSocket {
                request,
                unread: Bytes::copy_from_slice(&buf[head_len..]),
            },
            None => First::Http(Bytes::new()),
        },
        Kind::Lean { .. } => First::Lean(BytesMut::new()),
        Kind::Hyper => First::Http(Bytes::new()),
    })
}

/// Answers a WebSocket upgrade request and runs the session when it is accepted.
fn upgrade<D: Default + Send + Sync + 'static>(
    engine: Engine<D>,
    mut stream: TcpStream,
    request: Request<Empty<Bytes>>,
    unread: Bytes,
) -> impl Future<Output = ()> + Send + 'static {
    // An upgrade request is answered without waiting for anything (only polling
    // requests wait), so the answer is computed here rather than held in the task.
    let (response, after) = engine
        .respond(request, true)
        .now_or_never()
        .unwrap_or_else(|| {
            let mut res = Response::new(Full::new(Bytes::new()));
            *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            (res, None)
        });
    let upgrading = response.status() == StatusCode::SWITCHING_PROTOCOLS;
    let bytes = response_bytes(response);
    let answer = async move {
        let written = stream.write_all(&bytes).await.is_ok();
        match after {
            Some(after) if upgrading && written => Some((after, WsIo::Tcp { stream, unread })),
            after => {
                if let Some(after) = after {
                    after.abandon();
                }
                // Refused: the answer says `connection: close`.
                let _ = stream.shutdown().await;
                None
            }
        }
    };
    answer.then(|accepted| match accepted {
        Some((after, io)) => Branch::Left(after.run(io)),
        None => Branch::Right(std::future::ready(())),
    })
}

/// A response as HTTP/1.1 bytes. Anything but `101` closes the connection after it.
fn response_bytes(response: Response<Full<Bytes>>) -> Vec<u8> {
    let mut out = Vec::new();
    write_response(&mut out, response, After::Close);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The state a connection's task holds for its whole life (a WebSocket session
    /// served directly), and a polling session's task. Printed for the record
    /// (`cargo test --release -p sockio-engine task_sizes -- --nocapture`); in release
    /// builds, bounded so that it cannot grow unnoticed.
    #[tokio::test]
    async fn task_sizes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        let (stream, peer) = listener.accept().await.unwrap();
        struct Nothing;
        impl crate::Handler<()> for Nothing {
            fn on_message(&self, _: &crate::Socket<()>, _: crate::Message) {}
        }
        let engine = Engine::new(crate::EngineConfig::default(), Nothing);
        let task = connection_task(engine.clone(), engine.service(), stream, peer);
        let connection = std::mem::size_of_val(&task);
        // What is spawned: the task counted for shutdown (see `Tasks::spawn`).
        let guard = engine.shared.tasks.enter();
        let spawned =
            std::mem::size_of_val(&futures_util::FutureExt::map(task, move |()| drop(guard)));
        let session = crate::session::tests::polling_session(&engine);
        let polling = std::mem::size_of_val(&crate::session_task::run_polling(session));
        let state = std::mem::size_of::<crate::session::Session<()>>();
        println!(
            "connection task: {connection} bytes ({spawned} spawned), polling session task: \
             {polling} bytes, session: {state} bytes"
        );
        #[cfg(not(debug_assertions))]
        assert!(
            spawned <= 1300,
            "the connection task grew to {spawned} bytes"
        );
    }
}
