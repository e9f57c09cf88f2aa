//! The engine's own HTTP/1.1 loop for the long-polling requests of a connection
//! ([`Engine::serve_with`](crate::Engine::serve_with)): each request head read with
//! `httparse` from one buffer that grows on demand, its `Content-Length` body read after
//! it, the request answered by the same router as every other (`Engine::respond`), and
//! the answer written with one `write`, head and body; then the next request of the
//! keep-alive connection (pipelined ones included).
//!
//! What this loop does not serve — another path (anything but the engine's path itself,
//! which the application's service may answer, as it does `/socket.io/socket.io.js`), a
//! body without `Content-Length` or not there with its head, an `Expect`, another method
//! or upgrade, a head past [`MAX_HEAD`], a body past the engine's `max_payload` — hands
//! the connection over to hyper from that request on, with the bytes read so far (hyper
//! then answers as it always did: 404, 431, 413 …).
//! A WebSocket upgrade of the engine's path goes back to `direct`, which runs it.
//!
//! Like hyper's connections, an idle connection is closed after [`HEAD_TIMEOUT`] without
//! a request, when the engine shuts down, and when the session it polled for has moved
//! to WebSocket ([`ConnectionCloser`]); a request in flight is answered first.

use std::net::SocketAddr;
use std::time::Duration;

use std::sync::Arc;

use bytes::{Buf as _, Bytes, BytesMut};
use futures_util::future::{Either as Branch, FutureExt as _};
use http::header;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{Empty, Full};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::engine::Engine;
use crate::polling::{self, Answer};
use crate::request::{user_agent_is_ie, CompactHead, EngineQuery};
use crate::router;
use crate::session::Session;
use crate::wire::{
    request_of, write_answer, write_header, write_response, After, Spans, MAX_HEADERS,
};
use crate::ConnectionCloser;

/// How long a connection may take to send a request head, or stay idle between two
/// requests (hyper's `header_read_timeout` on the engine's other connections).
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request head read here; a larger one goes to hyper, which refuses it
/// (`431`).
pub(crate) const MAX_HEAD: usize = crate::MAX_REQUEST_HEAD;
/// A read is given at least this much room in the buffer.
const MIN_READ: usize = 512;
/// The read buffer of a new connection.
pub(crate) const FIRST_BUFFER: usize = 1024;
/// The most room made for a body that is not all read with its head.
const MAX_EAGER_BODY: usize = 64 * 1024;
/// A response buffer grown past this is not kept for the next response.
const KEEP_WRITE_BUFFER: usize = 16 * 1024;

/// What the request head at the start of a buffer asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A request of the engine's path served here: the head's length, the body's, and
    /// what follows the answer.
    Lean {
        head_len: usize,
        body_len: usize,
        after: After,
    },
    /// A WebSocket upgrade of the engine's path (a GET), its head `head_len` bytes.
    WebSocket { head_len: usize },
    /// Anything else, for hyper.
    Hyper,
}

/// What follows this loop on its connection.
// Short-lived (it is matched at once): boxing the request would cost an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Next {
    /// A WebSocket upgrade of the engine's path, and the bytes read after its head.
    WebSocket {
        request: Request<Empty<Bytes>>,
        unread: Bytes,
    },
    /// A request this loop does not serve: the connection goes to hyper, these bytes
    /// (that request's, and any after it) replayed first.
    Hyper(Bytes),
    /// The connection is over.
    Done,
}

/// Sorts the request head at the start of `buf`: `None` while it is incomplete.
pub(crate) fn sort<D: Default + Send + Sync + 'static>(
    buf: &[u8],
    engine: &Engine<D>,
) -> Option<Kind> {
    sort_into(buf, engine, None)
}

/// [`sort`], and for a request served here ([`Kind::Lean`]), where its parts lie in
/// `spans`, from which it is built without parsing its head again.
fn sort_into<D: Default + Send + Sync + 'static>(
    buf: &[u8],
    engine: &Engine<D>,
    spans: Option<&mut Spans>,
) -> Option<Kind> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let head_len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) if len <= MAX_HEAD => len,
        Ok(httparse::Status::Partial) => return None,
        // Malformed, too many headers, or too long (read in one go): hyper answers.
        _ => return Some(Kind::Hyper),
    };
    let (Some(method), Some(path), Some(version)) = (parsed.method, parsed.path, parsed.version)
    else {
        return Some(Kind::Hyper);
    };
    let path = path.find('?').map_or(path, |at| &path[..at]);
    if !matches!(method, "GET" | "POST" | "OPTIONS") || !engine.matches(path) {
        return Some(Kind::Hyper);
    }
    let mut body_len = None;
    let (mut close, mut keep_alive, mut upgrade) = (false, false, false);
    let mut websocket = false;
    for h in parsed.headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            let digits = h.value.trim_ascii();
            let len = std::str::from_utf8(digits)
                .ok()
                .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|d| d.parse::<usize>().ok());
            match (len, body_len) {
                (Some(len), None) => body_len = Some(len),
                // Unreadable, or given twice.
                _ => return Some(Kind::Hyper),
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding")
            || name.eq_ignore_ascii_case(b"expect")
        {
            return Some(Kind::Hyper);
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            websocket = h.value.trim_ascii().eq_ignore_ascii_case(b"websocket");
            if !websocket {
                return Some(Kind::Hyper);
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                upgrade |= token.eq_ignore_ascii_case(b"upgrade");
            }
        }
    }
    if websocket {
        // An upgrade is answered by `direct`; anything like one but not quite, by hyper.
        return Some(if upgrade && method == "GET" {
            Kind::WebSocket { head_len }
        } else {
            Kind::Hyper
        });
    }
    let body_len = body_len.unwrap_or(0);
    // Only the engine's own path: the application's service may answer others below it
    // (`/socket.io/socket.io.js`, the client bundle).
    if path != engine.shared.config.path || body_len > engine.shared.config.max_payload {
        return Some(Kind::Hyper);
    }
    let after = match version {
        1 if !close => After::KeepAlive,
        0 if keep_alive && !close => After::KeepAlive10,
        _ => After::Close,
    };
    if let Some(spans) = spans {
        if spans.record(buf, &parsed).is_none() {
            return Some(Kind::Hyper);
        }
    }
    Some(Kind::Lean {
        head_len,
        body_len,
        after,
    })
}

/// The WebSocket upgrade request whose head is the first `head_len` bytes of `buf`: its
/// parts share a copy of that head, which its session may keep ([`CompactHead`]).
pub(crate) fn websocket_request(
    buf: &[u8],
    head_len: usize,
    addr: SocketAddr,
) -> Option<Request<Empty<Bytes>>> {
    let head = Bytes::copy_from_slice(buf.get(..head_len)?);
    let mut request = parse(&head, addr, Empty::new())?;
    request.extensions_mut().insert(CompactHead(head));
    Some(request)
}

/// The request whose head is all of `head`, its parts sharing `head`.
fn parse<B>(head: &Bytes, addr: SocketAddr, body: B) -> Option<Request<B>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(_)) => request_of(head, head, &parsed, addr, body),
        _ => None,
    }
}

/// Serves the requests of a connection from the one at the start of `buf` on, until the
/// connection ends or a request for hyper or a WebSocket upgrade comes (see the module
/// docs).
pub(crate) async fn serve<D: Default + Send + Sync + 'static>(
    engine: &Engine<D>,
    stream: &mut TcpStream,
    addr: SocketAddr,
    mut buf: BytesMut,
) -> Next {
    let closer = ConnectionCloser::default();
    let tasks = engine.shared.tasks.clone();
    let mut out = Vec::new();
    // The CORS headers of the answer to a request answered without an `http::Request`.
    let mut cors = Vec::new();
    // The session this connection last polled for, told about it (see `Session::
    // polling_connection`): the next requests for it need not tell it again.
    let mut known = KnownSid::default();
    // One timer for the connection's life, moved on only when it goes off: setting a
    // timer for each request would cost a timer-wheel entry each time.
    let idle = tokio::time::sleep(HEAD_TIMEOUT);
    tokio::pin!(idle);
    // The engine's shutdown, waited for across requests: a wait made afresh for each
    // request would join and leave the shutdown's list of waiters (a lock each time).
    let stopped = tasks.stopped();
    tokio::pin!(stopped);
    loop {
        // The next request's head: an idle connection waits for it until the timeout,
        // the engine's shutdown, or its session's upgrade.
        let deadline = Instant::now() + HEAD_TIMEOUT;
        // The request is taken (sorted, its body read, built) by a plain function: the
        // spans of its head are not kept in this task's state.
        let (request, after) = loop {
            let mut connection = Connection {
                stream: &*stream,
                addr,
                known: &mut known,
                closer: &closer,
                cors: &mut cors,
            };
            match take(&mut buf, engine, &mut connection) {
                Taken::Incomplete => {}
                Taken::Request(request, after) => break (Branch::Left(*request), after),
                Taken::Polling(polling, after) => break (Branch::Right(polling), after),
                Taken::Other(next) => return *next,
            }
            if buf.len() >= MAX_HEAD {
                return Next::Hyper(buf.freeze());
            }
            if buf.capacity() - buf.len() < MIN_READ {
                buf.reserve(FIRST_BUFFER.max(buf.len()));
            }
            let empty = buf.is_empty();
            let read = tokio::select! {
                biased;
                read = stream.read_buf(&mut buf) => read,
                () = &mut idle => {
                    if Instant::now() >= deadline {
                        // Too slow.
                        return Next::Done;
                    }
                    idle.as_mut().reset(deadline);
                    continue;
                }
                () = &mut stopped, if empty => return Next::Done,
                () = closer.0.wait(), if empty => return Next::Done,
            };
            match read {
                Ok(n) if n > 0 => {}
                // Closed, or failed.
                _ => return Next::Done,
            }
        };
        let responding = match request {
            // The general path's future is large (a whole `Request`, the router's state):
            // boxed, the common case does not move it around.
            Branch::Left(request) => {
                Branch::Left(Box::pin(engine.respond(request, false)).map(Branch::Left))
            }
            Branch::Right(polling) => Branch::Right(polling.answer().map(Branch::Right)),
        };
        tokio::pin!(responding);
        // While the answer waits (a poll), the connection is read: a client that leaves
        // drops its request (a poll's session then closes, as engine.io does), and
        // pipelined requests are kept for later.
        let answered = loop {
            tokio::select! {
                biased;
                answered = &mut responding => break answered,
                read = stream.read_buf(&mut buf), if buf.len() < MAX_HEAD => match read {
                    Ok(n) if n > 0 => {}
                    _ => return Next::Done,
                },
            }
        };
        out.clear();
        let after = match answered {
            Branch::Left((response, upgrade)) => {
                if let Some(upgrade) = upgrade {
                    // Only WebSocket requests upgrade; none comes here.
                    upgrade.abandon();
                }
                if response.status() != StatusCode::OK {
                    // Only a polling request of a session is answered `200` with a sid
                    // (and then told the session of this connection): a preflight or a
                    // refusal carrying one told it nothing, the next request must.
                    known.forget();
                }
                let after = if tasks.is_stopping() || asks_to_close(&response) {
                    After::Close
                } else {
                    after
                };
                write_response(&mut out, response, after);
                after
            }
            Branch::Right(answer) => {
                let after = if tasks.is_stopping() {
                    After::Close
                } else {
                    after
                };
                let headers = answer.headers();
                write_answer(&mut out, answer.status, headers, &cors, &answer.body, after);
                after
            }
        };
        if stream.write_all(&out).await.is_err() {
            return Next::Done;
        }
        if after == After::Close {
            let _ = stream.shutdown().await;
            return Next::Done;
        }
        if out.capacity() > KEEP_WRITE_BUFFER {
            out = Vec::new();
        }
    }
}

/// What [`take`] needs of the connection besides its buffer.
struct Connection<'a> {
    stream: &'a TcpStream,
    addr: SocketAddr,
    known: &'a mut KnownSid,
    closer: &'a ConnectionCloser,
    /// Where the CORS headers of an answer to a [`Polling`] request are written.
    cors: &'a mut Vec<u8>,
}

/// A polling request of a session, taken from its head without an `http::Request`: a
/// GET or a POST of the engine's path whose target and session are plainly valid, on an
/// engine without a `headers` hook (that hook is given the request). Anything else —
/// a handshake, a refusal, a preflight — is built into a request and goes through
/// `Engine::respond`, which answers it the same way it answers hyper's requests.
struct Polling<D: Send + Sync + 'static> {
    session: Arc<Session<D>>,
    /// A POST's body (a GET's is ignored).
    post: Option<Bytes>,
    /// What the request's headers say: a binary POST, the accepted content coding, and
    /// an Internet Explorer client.
    binary: bool,
    coding: Option<&'static str>,
    ie: bool,
}

impl<D: Send + Sync + 'static> Polling<D> {
    /// The answer, as `Engine::respond` answers the same request (without its CORS
    /// headers, written by [`take`]).
    async fn answer(self) -> Answer {
        match self.post {
            None => polling::poll(self.session, self.coding, self.ie).await,
            Some(body) => polling::post(self.session, self.binary, self.ie, Full::new(body)).await,
        }
    }
}

/// The [`Polling`] request whose head is `head` (its parts at `spans`), when it is one;
/// the session is then told of the connection, and the answer's CORS headers are written
/// to `connection.cors`.
fn polling_request<D: Default + Send + Sync + 'static>(
    engine: &Engine<D>,
    spans: &Spans,
    head: &[u8],
    connection: &mut Connection<'_>,
) -> Option<Polling<D>> {
    let shared = &engine.shared;
    if shared.config.headers.is_some() {
        return None;
    }
    let is_post = match *spans.method() {
        Method::GET => false,
        Method::POST => true,
        _ => return None,
    };
    // The target is the engine's path (`sort`), `?`, and a plain query.
    let target = spans.target(head)?;
    let query = target.get(shared.config.path.len()..)?.strip_prefix(b"?")?;
    let q = EngineQuery::parse_plain(query)?;
    let sid = q.sid.as_deref()?;
    let origin = spans.header(head, b"origin");
    let (version, transport) = router::protocol_of(shared, &q, origin).ok()?;
    let session = router::session_of(shared, sid, version, transport, false).ok()?;
    let first = connection.known.first_time_sid(sid.as_bytes());
    session.polling_connection(first.then_some(connection.closer));
    connection.cors.clear();
    if let Some(cors) = &shared.config.cors {
        cors.each_header(origin, None, false, |name, value| {
            write_header(connection.cors, name.as_str(), value);
        });
    }
    let coding = shared
        .config
        .http_compression
        .and_then(|_| polling::coding_for(spans.header(head, b"accept-encoding")));
    Some(Polling {
        session,
        post: is_post.then(Bytes::new),
        binary: is_post && polling::is_binary(spans.header(head, b"content-type")),
        coding,
        ie: user_agent_is_ie(spans.header(head, b"user-agent")),
    })
}

/// What [`take`] found at the start of a connection's buffer. A request taken the
/// general way and what follows the loop are boxed (an allocation on those paths only):
/// the common case, a session's polling request, is moved around without copying the
/// size of a whole request each time.
enum Taken<D: Send + Sync + 'static> {
    /// The request head is not all there yet.
    Incomplete,
    /// A request served here, and what follows its answer.
    Request(Box<Request<Full<Bytes>>>, After),
    /// A polling request served here without an `http::Request`, and what follows its
    /// answer.
    Polling(Polling<D>, After),
    /// What follows this loop instead.
    Other(Box<Next>),
}

/// Takes the request at the start of `buf` off it: sorted, its body read when the socket
/// already holds it (as clients send it), built from the one parse of its head.
fn take<D: Default + Send + Sync + 'static>(
    buf: &mut BytesMut,
    engine: &Engine<D>,
    connection: &mut Connection<'_>,
) -> Taken<D> {
    let mut spans = Spans::default();
    let Some(kind) = sort_into(buf, engine, Some(&mut spans)) else {
        return Taken::Incomplete;
    };
    let (head_len, body_len, after) = match kind {
        Kind::Lean {
            head_len,
            body_len,
            after,
        } => (head_len, body_len, after),
        Kind::WebSocket { head_len } => {
            return Taken::Other(Box::new(
                match websocket_request(buf, head_len, connection.addr) {
                    Some(request) => Next::WebSocket {
                        request,
                        unread: Bytes::copy_from_slice(&buf[head_len..]),
                    },
                    None => Next::Hyper(buf.split().freeze()),
                },
            ))
        }
        Kind::Hyper => return Taken::Other(Box::new(Next::Hyper(buf.split().freeze()))),
    };
    // The body, when it came with its head (as clients send it): what the socket
    // already holds is read. A body still on its way goes to hyper with its request:
    // the request starts (a POST is marked in progress) before its body has arrived,
    // as in engine.io, and a large body is not held here.
    if buf.len() < head_len + body_len {
        buf.reserve((head_len + body_len - buf.len()).min(MAX_EAGER_BODY));
        loop {
            match connection.stream.try_read_buf(buf) {
                Ok(0) => return Taken::Other(Box::new(Next::Done)),
                Ok(_) if buf.len() < head_len + body_len && buf.capacity() > buf.len() => {}
                Ok(_) => break,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => return Taken::Other(Box::new(Next::Done)),
            }
        }
        if buf.len() < head_len + body_len {
            return Taken::Other(Box::new(Next::Hyper(buf.split().freeze())));
        }
    }
    if let Some(mut polling) = polling_request(engine, &spans, &buf[..head_len], connection) {
        buf.advance(head_len);
        if polling.post.is_some() {
            polling.post = Some(buf.split_to(body_len).freeze());
        } else {
            // A GET's body (clients send none) is not read.
            buf.advance(body_len);
        }
        return Taken::Polling(polling, after);
    }
    let head = buf.split_to(head_len).freeze();
    let body = buf.split_to(body_len).freeze();
    let Some(mut request) = spans.request(&head, connection.addr, Full::new(body.clone())) else {
        // A head httparse reads but `http` does not take: hyper answers it.
        let mut all = BytesMut::with_capacity(head.len() + body.len() + buf.len());
        all.extend_from_slice(&head);
        all.extend_from_slice(&body);
        all.extend_from_slice(buf);
        return Taken::Other(Box::new(Next::Hyper(all.freeze())));
    };
    if connection.known.first_time(request.uri().query()) {
        request.extensions_mut().insert(connection.closer.clone());
    }
    Taken::Request(Box::new(request), after)
}

/// The `sid` of the last request of a connection that had one.
#[derive(Default)]
struct KnownSid {
    sid: [u8; 20],
    len: usize,
}

impl KnownSid {
    /// Whether the `sid` in `query` is not the one of the last request that had one (a
    /// request without one counts as new); remembers it.
    fn first_time(&mut self, query: Option<&str>) -> bool {
        // Split by bytes: a `str` split by a pattern costs several times as much here.
        let sid = query.and_then(|q| {
            q.as_bytes()
                .split(|&b| b == b'&')
                .find_map(|pair| pair.strip_prefix(b"sid="))
        });
        sid.is_none_or(|sid| self.first_time_sid(sid))
    }

    /// Forgets the last `sid`: the next request with one tells its session.
    fn forget(&mut self) {
        self.len = 0;
    }

    /// Whether `sid` is not the `sid` of the last request that had one; remembers it.
    fn first_time_sid(&mut self, sid: &[u8]) -> bool {
        if sid.len() > self.sid.len() {
            return true;
        }
        let new = sid != &self.sid[..self.len];
        self.sid[..sid.len()].copy_from_slice(sid);
        self.len = sid.len();
        new
    }
}

/// Whether a response says `connection: close`.
fn asks_to_close<B>(response: &Response<B>) -> bool {
    response
        .headers()
        .get_all(header::CONNECTION)
        .iter()
        .any(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine<()> {
        struct Nothing;
        impl crate::Handler<()> for Nothing {
            fn on_message(&self, _: &crate::Socket<()>, _: crate::Message) {}
        }
        let config = crate::EngineConfig::builder().max_payload(100).build();
        Engine::new(config, Nothing)
    }

    fn kind(head: &str) -> Option<Kind> {
        sort(head.as_bytes(), &engine())
    }

    #[test]
    fn polling_requests_are_served_here() {
        let get = "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(
            kind(get),
            Some(Kind::Lean {
                head_len: get.len(),
                body_len: 0,
                after: After::KeepAlive
            })
        );
        assert_eq!(kind(&get[..get.len() - 1]), None);
        let post = "POST /engine.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\n\
                    Content-Length: 12\r\nConnection: close\r\n\r\n";
        assert_eq!(
            kind(post),
            Some(Kind::Lean {
                head_len: post.len(),
                body_len: 12,
                after: After::Close
            })
        );
        let old = "GET /engine.io/?EIO=4 HTTP/1.0\r\n\r\n";
        assert!(matches!(
            kind(old),
            Some(Kind::Lean {
                after: After::Close,
                ..
            })
        ));
        let old = "GET /engine.io/?EIO=4 HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
        assert!(matches!(
            kind(old),
            Some(Kind::Lean {
                after: After::KeepAlive10,
                ..
            })
        ));
    }

    #[test]
    fn lean_requests_are_built_from_the_one_parse() {
        let get = "GET /engine.io/?EIO=4&transport=polling&sid=abc HTTP/1.0\r\n\
                   Host: a\r\nConnection: keep-alive\r\nX-Two: 1\r\nx-two: 2\r\n\r\n";
        let mut spans = Spans::default();
        let kind = sort_into(get.as_bytes(), &engine(), Some(&mut spans)).unwrap();
        assert!(matches!(kind, Kind::Lean { .. }));
        let head = Bytes::from_static(get.as_bytes());
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let built = spans.request(&head, addr, ()).unwrap();
        let parsed = parse(&head, addr, ()).unwrap();
        assert_eq!(built.method(), parsed.method());
        assert_eq!(built.uri(), parsed.uri());
        assert_eq!(built.version(), http::Version::HTTP_10);
        assert_eq!(built.headers(), parsed.headers());
        let two: Vec<_> = built.headers().get_all("x-two").iter().collect();
        assert_eq!(two, ["1", "2"]);
        assert_eq!(built.uri().query(), Some("EIO=4&transport=polling&sid=abc"));
    }

    #[test]
    fn a_session_is_told_of_the_connection_once() {
        let mut known = KnownSid::default();
        assert!(known.first_time(None));
        assert!(known.first_time(Some("EIO=4&transport=polling")));
        assert!(known.first_time(Some("EIO=4&transport=polling&sid=abc")));
        assert!(!known.first_time(Some("EIO=4&sid=abc&transport=polling")));
        assert!(known.first_time(Some("EIO=4&transport=polling&sid=abd")));
        assert!(known.first_time(Some("sid=abc")));
        assert!(known.first_time(Some("sid=")));
        assert!(!known.first_time(Some("sid=")));
        let long = format!("sid={}", "a".repeat(21));
        assert!(known.first_time(Some(&long)));
        assert!(known.first_time(Some(&long)));
    }

    #[test]
    fn upgrades_go_to_direct() {
        let ws = "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\n\
                  Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n";
        assert_eq!(kind(ws), Some(Kind::WebSocket { head_len: ws.len() }));
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let req = websocket_request(ws.as_bytes(), ws.len(), addr).unwrap();
        assert!(req.extensions().get::<CompactHead>().is_some());
    }

    #[test]
    fn everything_else_goes_to_hyper() {
        for head in [
            "GET /other HTTP/1.1\r\n\r\n",
            "GET /engine.io/engine.io.js HTTP/1.1\r\n\r\n",
            "GET /engine.io HTTP/1.1\r\n\r\n",
            "PUT /engine.io/ HTTP/1.1\r\n\r\n",
            "POST /engine.io/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST /engine.io/ HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
            "POST /engine.io/ HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
            "POST /engine.io/ HTTP/1.1\r\nContent-Length: +3\r\n\r\n",
            // Past max_payload (100 here): hyper answers 413, as before.
            "POST /engine.io/ HTTP/1.1\r\nContent-Length: 101\r\n\r\n",
            "GET /engine.io/ HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
            "POST /engine.io/ HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            "GET /engine.io/ HTTP/1.1\r\nBad Header\r\n\r\n",
        ] {
            assert_eq!(kind(head), Some(Kind::Hyper), "{head}");
        }
        let big = format!(
            "GET /engine.io/ HTTP/1.1\r\nX-Big: {}\r\n\r\n",
            "a".repeat(MAX_HEAD)
        );
        assert_eq!(kind(&big), Some(Kind::Hyper));
    }

    /// A query [`Polling`] takes is one `http::Uri` takes as it is: the same query.
    #[test]
    fn plain_queries_are_kept_by_uris_as_they_are() {
        for byte in 0..=255u8 {
            let target = [&b"/engine.io/?sid=a"[..], &[byte], b"b"].concat();
            if EngineQuery::parse_plain(&target[12..]).is_none() {
                continue;
            }
            let uri = http::Uri::from_maybe_shared(Bytes::from(target.clone()))
                .unwrap_or_else(|e| panic!("byte {byte}: {e}"));
            assert_eq!(
                uri.query().map(str::as_bytes),
                Some(&target[12..]),
                "byte {byte}"
            );
        }
    }

    /// Every head httparse reads (and `sort` serves here) is one the general path builds
    /// a request of: [`Polling`] never answers a request the general path would refuse.
    #[test]
    fn every_header_httparse_reads_makes_a_request() {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        for byte in 0..=255u8 {
            let value = [
                &b"GET /engine.io/?EIO=4 HTTP/1.1\r\nX-V: a"[..],
                &[byte],
                b"b\r\n\r\n",
            ]
            .concat();
            let name = [
                &b"GET /engine.io/?EIO=4 HTTP/1.1\r\nX-"[..],
                &[byte],
                b": v\r\n\r\n",
            ]
            .concat();
            for head in [value, name] {
                let mut spans = Spans::default();
                if let Some(Kind::Lean { .. }) = sort_into(&head, &engine(), Some(&mut spans)) {
                    let head = Bytes::from(head);
                    assert!(spans.request(&head, addr, ()).is_some(), "byte {byte}");
                }
            }
        }
    }

    #[test]
    fn headers_are_found_by_name_in_any_case() {
        let get = "GET /engine.io/?EIO=4&sid=x HTTP/1.1\r\nHost: a\r\nORIGIN: http://a\r\n\
                   origin: http://b\r\nUser-Agent: u\r\n\r\n";
        let mut spans = Spans::default();
        sort_into(get.as_bytes(), &engine(), Some(&mut spans)).unwrap();
        let head = get.as_bytes();
        assert_eq!(spans.header(head, b"origin"), Some(&b"http://a"[..]));
        assert_eq!(spans.header(head, b"user-agent"), Some(&b"u"[..]));
        assert_eq!(spans.header(head, b"content-type"), None);
        assert_eq!(spans.target(head), Some(&b"/engine.io/?EIO=4&sid=x"[..]));
        assert_eq!(spans.method(), Method::GET);
    }
}
