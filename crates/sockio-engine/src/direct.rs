//! [`Engine::serve_with`]: a connection whose first request opens a WebSocket on the
//! engine's path is answered on its own task — request head read with `httparse`, the
//! `101` written, the session run — with no HTTP server in between. Any other
//! connection goes to hyper, the bytes already read replayed first.
//!
//! A WebSocket connection then costs one task and no HTTP connection state, where going
//! through hyper costs a connection task, its buffers and timers, and the upgrade
//! hand-over before the session task starts.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::future::{Either as Branch, FutureExt as _};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt as _, Empty, Full};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::engine::Engine;
use crate::handshake::RemoteAddr;
use crate::request::{is_websocket_upgrade, CompactHead};
use crate::ws_io::WsIo;
use crate::BoxError;

/// How long a client may take to send its first request head (as hyper is set up).
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest first request head read here; a larger one goes to hyper, which refuses it.
const MAX_HEAD: usize = crate::MAX_REQUEST_HEAD;
/// The most headers read here; more go to hyper.
const MAX_HEADERS: usize = 64;

/// What the first request of a connection is.
// Short-lived (it is matched at once): boxing the request would cost an allocation.
#[allow(clippy::large_enum_variant)]
enum First {
    /// A WebSocket upgrade of the engine's path, with what the client sent after it.
    WebSocket {
        request: Request<Empty<Bytes>>,
        unread: Bytes,
    },
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

    /// Serves this engine on `listener`, its WebSocket connections directly (see the
    /// module docs) and every other request with `service` — typically
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
        S: tower_service::Service<
                Request<hyper::body::Incoming>,
                Response = Response<ResBody>,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        ResBody: http_body::Body + Send + 'static,
        ResBody::Data: Send,
        ResBody::Error: Into<BoxError>,
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
    S: tower_service::Service<
            Request<hyper::body::Incoming>,
            Response = Response<ResBody>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    ResBody: http_body::Body + Send + 'static,
    ResBody::Data: Send,
    ResBody::Error: Into<BoxError>,
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
            Branch::Left(Branch::Right(Box::pin(crate::serve_connection(
                io, addr, service, stop,
            ))))
        }
        First::Gone => Branch::Right(std::future::ready(())),
    })
}

/// Reads the first request head of a connection and sorts it.
async fn read_first<D: Default + Send + Sync + 'static>(
    mut stream: TcpStream,
    addr: SocketAddr,
    engine: Engine<D>,
) -> (First, TcpStream) {
    let mut buf = BytesMut::with_capacity(1024);
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
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return None,
        // Malformed, or too many headers: hyper answers.
        Err(_) => return Some(First::Http(Bytes::new())),
    };
    let (Some("GET"), Some(path)) = (parsed.method, parsed.path) else {
        return Some(First::Http(Bytes::new()));
    };
    if !engine.matches(path.split('?').next().unwrap_or(path)) {
        return Some(First::Http(Bytes::new()));
    }
    // The head, copied to a buffer of its own that the session's handshake may keep.
    let head = Bytes::copy_from_slice(&buf[..len]);
    let Some(request) = request_of(buf, &head, &parsed, addr) else {
        return Some(First::Http(Bytes::new()));
    };
    if !is_websocket_upgrade(request.headers()) {
        return Some(First::Http(Bytes::new()));
    }
    Some(First::WebSocket {
        request,
        unread: Bytes::copy_from_slice(&buf[len..]),
    })
}

/// The head `parsed` from `buf` as a request whose header values and target share
/// `head`, the copy of that head.
fn request_of(
    buf: &[u8],
    head: &Bytes,
    parsed: &httparse::Request<'_, '_>,
    addr: SocketAddr,
) -> Option<Request<Empty<Bytes>>> {
    let base = buf.as_ptr() as usize;
    let slice = |part: &[u8]| {
        let start = (part.as_ptr() as usize).checked_sub(base)?;
        head.get(start..start + part.len())?;
        Some(head.slice(start..start + part.len()))
    };
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    for h in parsed.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).ok()?;
        let value = HeaderValue::from_maybe_shared(slice(h.value)?).ok()?;
        headers.append(name, value);
    }
    let uri = Uri::from_maybe_shared(slice(parsed.path?.as_bytes())?).ok()?;
    let mut request = Request::new(Empty::new());
    *request.method_mut() = Method::GET;
    *request.uri_mut() = uri;
    *request.version_mut() = match parsed.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    *request.headers_mut() = headers;
    request.extensions_mut().insert(RemoteAddr(addr));
    request.extensions_mut().insert(CompactHead(head.clone()));
    Some(request)
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
    let (parts, body) = response.into_parts();
    // A `Full` body is there at once.
    let body = match body.collect().now_or_never() {
        Some(Ok(collected)) => collected.to_bytes(),
        Some(Err(never)) => match never {},
        None => Bytes::new(),
    };
    let mut out = Vec::with_capacity(160 + body.len());
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(parts.status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(
        parts
            .status
            .canonical_reason()
            .unwrap_or_default()
            .as_bytes(),
    );
    out.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if parts.status != StatusCode::SWITCHING_PROTOCOLS
            && (name == http::header::CONNECTION || name == http::header::CONTENT_LENGTH)
        {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if parts.status != StatusCode::SWITCHING_PROTOCOLS {
        out.extend_from_slice(b"connection: close\r\ncontent-length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_written_as_http_1_1() {
        let mut res = Response::new(Full::new(Bytes::from_static(b"{\"code\":3}")));
        *res.status_mut() = StatusCode::BAD_REQUEST;
        res.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        res.headers_mut().insert(
            http::header::CONNECTION,
            HeaderValue::from_static("keep-alive"),
        );
        assert_eq!(
            String::from_utf8(response_bytes(res)).unwrap(),
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
             connection: close\r\ncontent-length: 10\r\n\r\n{\"code\":3}"
        );

        let mut res = Response::new(Full::new(Bytes::new()));
        *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        res.headers_mut()
            .insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
        res.headers_mut().insert(
            http::header::CONNECTION,
            HeaderValue::from_static("Upgrade"),
        );
        assert_eq!(
            String::from_utf8(response_bytes(res)).unwrap(),
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n"
        );
    }

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

    #[test]
    fn request_values_share_the_head() {
        let buf: &[u8] =
            b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: a\r\nX-Custom: v\r\n\r\n";
        let head = Bytes::copy_from_slice(buf);
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut parsed = httparse::Request::new(&mut headers);
        parsed.parse(buf).unwrap();
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let req = request_of(buf, &head, &parsed, addr).unwrap();
        assert_eq!(req.uri().query(), Some("EIO=4&transport=websocket"));
        assert_eq!(req.headers()["x-custom"], "v");
        assert_eq!(req.headers()["host"], "a");
        assert_eq!(req.extensions().get::<RemoteAddr>().unwrap().0, addr);
    }
}
