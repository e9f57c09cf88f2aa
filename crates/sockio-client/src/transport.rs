//! The I/O side of the transports: URLs, TCP/TLS streams, HTTP requests (hyper 1) and
//! the WebSocket handshake (its frames: `ws.rs`), each over our own stream.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::engine::TransportError;
use crate::error::Error;
use crate::ws::{ClientWs, MAX_PAYLOAD};

/// A parsed server URL: `http[s]://host[:port][/namespace][?query]` (`ws`/`wss` too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    /// `https` / `wss`.
    pub secure: bool,
    /// The host name or address (IPv6 without brackets).
    pub host: String,
    /// The port (80 / 443 by default).
    pub port: u16,
    /// The path: the namespace, `/` when empty.
    pub namespace: String,
    /// The query string, without `?` (empty when none).
    pub query: String,
}

impl ServerUrl {
    /// Parses a URL.
    ///
    /// ```
    /// use sockio_client::ServerUrl;
    /// let u = ServerUrl::parse("https://example.com/chat?x=1").unwrap();
    /// assert_eq!((u.secure, u.host.as_str(), u.port), (true, "example.com", 443));
    /// assert_eq!((u.namespace.as_str(), u.query.as_str()), ("/chat", "x=1"));
    /// let u = ServerUrl::parse("ws://[::1]:3000").unwrap();
    /// assert_eq!((u.host.as_str(), u.port, u.namespace.as_str()), ("::1", 3000, "/"));
    /// assert!(ServerUrl::parse("ftp://x").is_err());
    /// ```
    pub fn parse(url: &str) -> Result<ServerUrl, Error> {
        let bad = |why: &str| Error::InvalidUrl(format!("{url}: {why}"));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let secure = match scheme.to_ascii_lowercase().as_str() {
            "http" | "ws" => false,
            "https" | "wss" => true,
            _ => return Err(bad("the scheme must be http, https, ws or wss")),
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let (authority, path_query) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let authority = authority.rsplit('@').next().unwrap_or_default();
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| bad("invalid port"))?,
            None if secure => 443,
            None => 80,
        };
        let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
        let namespace = if path.is_empty() { "/" } else { path };
        Ok(ServerUrl {
            secure,
            host: host.to_owned(),
            port,
            namespace: namespace.to_owned(),
            query: query.to_owned(),
        })
    }

    fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.secure { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Parses `url` as [`ClientBuilder::new`](crate::ClientBuilder::new) does and, when it
/// parses, builds the polling request the client would send to it (with its `Host`) and
/// the TLS server name. For the fuzz targets in `fuzz/`; not
/// part of the API.
#[doc(hidden)]
pub fn fuzz_url(url: &str) -> Option<ServerUrl> {
    let parsed = ServerUrl::parse(url).ok()?;
    let path = format!("/socket.io/?EIO=4&transport=polling&{}", parsed.query);
    let _ = Request::builder()
        .uri(path.as_str())
        .header(http::header::HOST, parsed.authority())
        .body(());
    let _ = rustls::pki_types::ServerName::try_from(parsed.host.clone());
    Some(parsed)
}

/// The default TLS configuration: Mozilla's roots (webpki-roots), the ring provider.
/// Built once per process and shared by every client that uses it: a configuration
/// holds the roots (~8 KiB) and a session cache sized for 256 sessions (~15 KiB)
/// allocated up front.
pub(crate) fn default_tls_config() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    static DEFAULT: OnceLock<Result<Arc<rustls::ClientConfig>, rustls::Error>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            tls_config_with_roots(roots)
        })
        .clone()
}

/// A TLS configuration trusting exactly `roots` (custom or private CAs), with the ring
/// provider; pass it to [`ClientBuilder::tls_config`](crate::ClientBuilder::tls_config).
///
/// ```
/// let roots = rustls::RootCertStore::empty(); // add your CA with roots.add(der)
/// let config = sockio_client::tls_config_with_roots(roots).unwrap();
/// assert!(config.alpn_protocols.is_empty());
/// ```
pub fn tls_config_with_roots(
    roots: rustls::RootCertStore,
) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    // ring rather than aws-lc-rs: no C toolchain (cmake) to build; rustls 0.23.48 marks
    // it deprecated only because it lacks post-quantum key exchange.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A TCP stream, maybe inside TLS.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Everything a request needs to reach the server, shared by a manager's sessions and
/// their requests (one allocation per manager, not a copy per session).
#[derive(Clone)]
pub(crate) struct Endpoint {
    inner: Arc<EndpointInner>,
}

pub(crate) struct EndpointInner {
    pub url: ServerUrl,
    pub headers: HeaderMap,
    /// The TLS configuration of an `https`/`wss` URL (`None` for plain ones).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The Engine.IO path (`/socket.io/`).
    pub path: String,
    /// The query parameters every request carries (encoded, without `?`).
    pub query: String,
    /// Idle HTTP/1.1 connections, reused by the next request.
    pool: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

impl std::ops::Deref for Endpoint {
    type Target = EndpointInner;

    fn deref(&self) -> &EndpointInner {
        &self.inner
    }
}

/// How long connecting (TCP + TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

impl Endpoint {
    pub fn new(
        url: ServerUrl,
        headers: HeaderMap,
        tls: Option<Arc<rustls::ClientConfig>>,
        path: String,
        query: String,
    ) -> Endpoint {
        Endpoint {
            inner: Arc::new(EndpointInner {
                url,
                headers,
                tls,
                path,
                query,
                pool: Mutex::default(),
            }),
        }
    }

    async fn stream(&self) -> Result<Stream, TransportError> {
        let connect = async {
            let tcp = TcpStream::connect((self.url.host.as_str(), self.url.port))
                .await
                .map_err(|e| TransportError::Connect(e.to_string()))?;
            let _ = tcp.set_nodelay(true);
            let tls = match (&self.tls, self.url.secure) {
                (Some(tls), true) => tls.clone(),
                (None, true) => return Err(TransportError::Tls("no TLS configuration".into())),
                (_, false) => return Ok(Stream::Plain(tcp)),
            };
            let name = rustls::pki_types::ServerName::try_from(self.url.host.clone())
                .map_err(|e| TransportError::Tls(e.to_string()))?;
            let tls = tokio_rustls::TlsConnector::from(tls)
                .connect(name, tcp)
                .await
                .map_err(|e| TransportError::Tls(e.to_string()))?;
            Ok(Stream::Tls(Box::new(tls)))
        };
        tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| TransportError::Timeout)?
    }

    /// An idle pooled connection, if any.
    fn pooled(&self) -> Option<SendRequest<Full<Bytes>>> {
        loop {
            let idle = self.pool.lock().ok().and_then(|mut p| p.pop())?;
            if !idle.is_closed() && idle.is_ready() {
                return Some(idle);
            }
        }
    }

    async fn fresh(&self) -> Result<SendRequest<Full<Bytes>>, TransportError> {
        let stream = self.stream().await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| TransportError::Io(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// Sends `req` on a new connection, which is returned with the answer.
    async fn send_fresh(
        &self,
        req: Request<Full<Bytes>>,
    ) -> Result<(SendRequest<Full<Bytes>>, http::Response<Incoming>), TransportError> {
        let mut sender = self.fresh().await?;
        let res = sender
            .send_request(req)
            .await
            .map_err(|e| TransportError::Io(e.to_string()))?;
        Ok((sender, res))
    }

    /// One HTTP request; the body of a 200 answer and whether it is
    /// `application/octet-stream`.
    pub async fn request(
        &self,
        method: http::Method,
        path_and_query: &str,
        body: Option<Bytes>,
    ) -> Result<(Bytes, bool), TransportError> {
        let mut req = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(http::header::HOST, self.url.authority());
        if let Some(h) = req.headers_mut() {
            for (k, v) in &self.headers {
                h.insert(k, v.clone());
            }
        }
        if body.is_some() {
            req = req.header(http::header::CONTENT_TYPE, "text/plain;charset=UTF-8");
        }
        let req = req
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| TransportError::Io(e.to_string()))?;
        // A pooled connection the server closed meanwhile (keep-alive timeout) gives the
        // request back unsent: then it goes on a new connection.
        let (sender, res) = match self.pooled() {
            Some(mut pooled) => match pooled.try_send_request(req).await {
                Ok(res) => (pooled, res),
                Err(mut e) => match e.take_message() {
                    // Not sent at all: safe to send again.
                    Some(req) => self.send_fresh(req).await?,
                    _ => return Err(TransportError::Io(e.into_error().to_string())),
                },
            },
            None => self.send_fresh(req).await?,
        };
        let status = res.status().as_u16();
        let binary = res
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/octet-stream"));
        let body = res
            .into_body()
            .collect()
            .await
            .map_err(|e| TransportError::Io(e.to_string()))?
            .to_bytes();
        if let Ok(mut pool) = self.pool.lock() {
            if pool.len() < 4 {
                pool.push(sender);
            }
        }
        if status != 200 {
            let text = String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned();
            return Err(TransportError::Http { status, body: text });
        }
        Ok((body, binary))
    }

    /// Opens a WebSocket at `path_and_query`.
    ///
    /// The handshake is written and read here (RFC 6455 §4.1, with the checks tungstenite
    /// makes); the response is read into a buffer dropped after the handshake, and the
    /// frames then go through [`ClientWs`], which keeps no buffer between frames:
    /// thousands of clients in one process stay lean.
    pub async fn websocket(
        &self,
        path_and_query: &str,
    ) -> Result<ClientWs<Stream>, TransportError> {
        use tokio_tungstenite::tungstenite::handshake::{client::generate_key, derive_accept_key};

        let key = generate_key();
        let mut request = Vec::with_capacity(256);
        request.extend_from_slice(b"GET ");
        request.extend_from_slice(path_and_query.as_bytes());
        request.extend_from_slice(b" HTTP/1.1\r\n");
        if !self.headers.contains_key(http::header::HOST) {
            request.extend_from_slice(b"Host: ");
            request.extend_from_slice(self.url.authority().as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"Connection: Upgrade\r\nUpgrade: websocket\r\n");
        request.extend_from_slice(b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ");
        request.extend_from_slice(key.as_bytes());
        request.extend_from_slice(b"\r\n");
        for (k, v) in &self.headers {
            if is_handshake_header(k) {
                continue;
            }
            request.extend_from_slice(k.as_str().as_bytes());
            request.extend_from_slice(b": ");
            request.extend_from_slice(v.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"\r\n");
        let mut stream = self.stream().await?;
        let handshake = async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let ws_err = |e: std::io::Error| TransportError::WebSocket(e.to_string());
            stream.write_all(&request).await.map_err(ws_err)?;
            drop(request);
            let mut buf: Vec<u8> = Vec::with_capacity(512);
            loop {
                if buf.len() == buf.capacity() {
                    if buf.len() >= MAX_RESPONSE_HEAD {
                        return Err(TransportError::WebSocket(
                            "the handshake response is too long".into(),
                        ));
                    }
                    buf.reserve(buf.len());
                }
                if stream.read_buf(&mut buf).await.map_err(ws_err)? == 0 {
                    return Err(TransportError::WebSocket(
                        "the connection closed during the handshake".into(),
                    ));
                }
                let mut headers = [httparse::EMPTY_HEADER; 32];
                let mut response = httparse::Response::new(&mut headers);
                match response.parse(&buf) {
                    Ok(httparse::Status::Partial) => continue,
                    Ok(httparse::Status::Complete(head)) => {
                        check_response(
                            &response,
                            &derive_accept_key(key.as_bytes()),
                            &buf[head..],
                        )?;
                        // What the server sent after its answer: the first frames.
                        return Ok(buf[head..].to_vec());
                    }
                    Err(e) => {
                        return Err(TransportError::WebSocket(format!(
                            "invalid handshake response: {e}"
                        )))
                    }
                }
            }
        };
        let tail = tokio::time::timeout(CONNECT_TIMEOUT, handshake)
            .await
            .map_err(|_| TransportError::Timeout)??;
        Ok(ClientWs::new(stream, &tail, MAX_PAYLOAD))
    }
}

/// The longest handshake response head read.
const MAX_RESPONSE_HEAD: usize = 64 * 1024;

/// Headers of the handshake that the extra headers do not repeat.
fn is_handshake_header(name: &http::HeaderName) -> bool {
    let n = name.as_str();
    n == "connection" || n == "upgrade" || n == "sec-websocket-version" || n == "sec-websocket-key"
}

/// Checks the server's answer to the WebSocket handshake: `101`, `Upgrade: websocket`,
/// `Connection: Upgrade`, the right `Sec-WebSocket-Accept`, no subprotocol (none asked).
fn check_response(
    response: &httparse::Response<'_, '_>,
    accept: &str,
    body: &[u8],
) -> Result<(), TransportError> {
    let status = response.code.unwrap_or(0);
    if status != 101 {
        return Err(TransportError::Http {
            status,
            body: String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
        });
    }
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    let fail = |why: &str| Err(TransportError::WebSocket(why.to_owned()));
    if !header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case(b"websocket")) {
        return fail("no \"Upgrade: websocket\" in the handshake response");
    }
    let upgrade_token = |v: &[u8]| {
        v.split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
    };
    if !header("connection").is_some_and(upgrade_token) {
        return fail("no \"Connection: Upgrade\" in the handshake response");
    }
    if header("sec-websocket-accept") != Some(accept.as_bytes()) {
        return fail("wrong Sec-WebSocket-Accept in the handshake response");
    }
    if header("sec-websocket-protocol").is_some() {
        return fail("the server chose a subprotocol none was asked for");
    }
    Ok(())
}
