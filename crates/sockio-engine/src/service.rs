//! The HTTP face of the engine: request routing and verification, as a tower
//! [`Service`](tower_service::Service) and [`Layer`](tower_layer::Layer).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::future::{Either as Branch, FutureExt as _};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body::Body;
use http_body_util::{Either, Full};
use sockio_protocol::engine::payload::EncodedPacket;
use sockio_protocol::engine::{OpenPayload, ProtocolVersion};
use sockio_protocol::Utf8Bytes;

use crate::engine::{Engine, Shared};
use crate::error::{BadRequestContext, RequestError};
use crate::handshake::{Handshake, RemoteAddr};
use crate::polling;
use crate::session::{PollingFormat, Session, Socket, TransportKind, Upgrade};
use crate::websocket;
use crate::ws_io::WsIo;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The query parameters Engine.IO reads.
#[derive(Debug, Default)]
struct EngineQuery {
    eio: Option<String>,
    transport: Option<String>,
    sid: Option<String>,
    b64: bool,
    j: Option<String>,
}

impl EngineQuery {
    fn parse(query: Option<&str>) -> Self {
        let mut q = Self::default();
        // Names are compared where they lie; only the values kept are copied.
        for (k, v) in sockio_protocol::urlencoded::pairs_borrowed(query.unwrap_or("")) {
            match &*k {
                "EIO" if q.eio.is_none() => q.eio = Some(v.into_owned()),
                "transport" if q.transport.is_none() => q.transport = Some(v.into_owned()),
                "sid" if q.sid.is_none() => q.sid = Some(v.into_owned()),
                "b64" => q.b64 = true,
                "j" if q.j.is_none() => q.j = Some(v.into_owned()),
                _ => {}
            }
        }
        q
    }
}

pub(crate) fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    let upgrade = headers
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let connection = headers.get_all(header::CONNECTION).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        })
    });
    upgrade && connection
}

/// A request without its body, for the application's hooks.
fn bare_request<B>(req: &Request<B>) -> Request<()> {
    let mut r = Request::new(());
    *r.method_mut() = req.method().clone();
    *r.uri_mut() = req.uri().clone();
    *r.version_mut() = req.version();
    *r.headers_mut() = req.headers().clone();
    r
}

fn error_response(err: &RequestError, websocket: bool) -> Response<Full<Bytes>> {
    if websocket {
        // Refused upgrades: a plain 400 with the message, and the connection closed.
        let mut res = Response::new(Full::new(Bytes::from(err.message().to_owned())));
        *res.status_mut() = StatusCode::BAD_REQUEST;
        let h = res.headers_mut();
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        return res;
    }
    let mut res = Response::new(Full::new(Bytes::from(err.json_body())));
    *res.status_mut() = err.status();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn not_found() -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = StatusCode::NOT_FOUND;
    res
}

/// Whether an `Origin` header value holds only valid header characters (as Node checks).
fn valid_origin(headers: &HeaderMap) -> bool {
    headers.get(header::ORIGIN).is_none_or(|o| {
        o.as_bytes()
            .iter()
            .all(|&b| b == b'\t' || (0x20..=0x7e).contains(&b) || b >= 0x80)
    })
}

impl<D: Default + Send + Sync + 'static> Engine<D> {
    /// Whether `path` belongs to this engine.
    pub fn matches(&self, path: &str) -> bool {
        path.starts_with(self.shared.config.path.as_str())
    }

    /// Answers one Engine.IO request (whose path [`Engine::matches`]).
    ///
    /// A WebSocket upgrade is answered with `101 Switching Protocols`, and the session
    /// then runs on the connection hyper hands over (served with upgrades enabled).
    pub async fn handle<B>(&self, mut req: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let ws = is_websocket_upgrade(req.headers());
        let on_upgrade = ws.then(|| hyper::upgrade::on(&mut req));
        let (res, after) = self.respond(req, ws).await;
        if let (Some(after), Some(on_upgrade)) = (after, on_upgrade) {
            tokio::spawn(on_upgrade.then(|upgraded| match upgraded {
                Ok(upgraded) => Branch::Left(after.run(WsIo::new(upgraded))),
                Err(e) => {
                    tracing::debug!(error = %e, "websocket upgrade failed");
                    after.abandon();
                    Branch::Right(std::future::ready(()))
                }
            }));
        }
        res
    }

    /// The answer to one Engine.IO request, and for an accepted WebSocket upgrade what
    /// runs on the connection once the answer is written.
    ///
    /// `ws` says whether the request asks for a WebSocket upgrade (the callers know).
    pub(crate) async fn respond<B>(
        &self,
        req: Request<B>,
        ws: bool,
    ) -> (Response<Full<Bytes>>, Option<AfterUpgrade<D>>)
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let shared = self.shared.clone();
        let cors_req_headers = shared.config.cors.as_ref().map(|_| req.headers().clone());
        let preflight = req.method() == Method::OPTIONS && shared.config.cors.is_some();
        let (mut res, after) = if preflight {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::NO_CONTENT;
            (r, None)
        } else {
            route(&shared, req, ws).await
        };
        if let (Some(cors), Some(h)) = (&shared.config.cors, cors_req_headers) {
            cors.apply(&h, res.headers_mut(), preflight);
        }
        (res, after)
    }

    /// This engine as a tower service answering its own path and 404 to anything else.
    pub fn service(&self) -> EngineService<D> {
        EngineService {
            engine: self.clone(),
        }
    }

    /// A tower layer that answers this engine's path and passes other requests on.
    pub fn layer(&self) -> EngineLayer<D> {
        EngineLayer {
            engine: self.clone(),
        }
    }
}

async fn route<D, B>(
    shared: &Arc<Shared<D>>,
    req: Request<B>,
    ws: bool,
) -> (Response<Full<Bytes>>, Option<AfterUpgrade<D>>)
where
    D: Default + Send + Sync + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let q = EngineQuery::parse(req.uri().query());
    let result = verify(shared, &req, &q, ws);
    let target = match result {
        Ok(t) => t,
        Err(err) => {
            tracing::debug!(
                method = %req.method(),
                uri = %req.uri(),
                code = err.code(),
                error = %err,
                "engine.io request refused"
            );
            return (error_response(&err, ws), None);
        }
    };
    let mut after = None;
    let mut res = match target {
        Target::Handshake(version, TransportKind::Polling) => {
            polling_handshake(shared, &req, version, &q)
        }
        Target::Handshake(version, TransportKind::WebSocket) => {
            let (res, open) = websocket_handshake(shared, &req, version, &q);
            after = open;
            res
        }
        Target::Session(session) if ws => {
            let ws_base64 = session.protocol == ProtocolVersion::V3 && q.b64;
            let (res, probe) = websocket_upgrade(shared, &req, session, ws_base64);
            after = probe;
            res
        }
        Target::Session(session) => match *req.method() {
            Method::GET => {
                let accept_encoding = req.headers().get(header::ACCEPT_ENCODING).cloned();
                polling::poll(session, accept_encoding).await
            }
            Method::POST => {
                let content_type = req.headers().get(header::CONTENT_TYPE).cloned();
                let ie = user_agent_is_ie(req.headers());
                let mut r = polling::post(session, content_type, req.into_body()).await;
                if ie {
                    r.headers_mut()
                        .insert("x-xss-protection", HeaderValue::from_static("0"));
                }
                return (r, None);
            }
            _ => {
                let mut r = Response::new(Full::new(Bytes::new()));
                *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                r
            }
        },
    };
    if user_agent_is_ie(req.headers()) && res.status() == StatusCode::OK {
        res.headers_mut()
            .insert("x-xss-protection", HeaderValue::from_static("0"));
    }
    if let Some(hook) = &shared.config.headers {
        hook(res.headers_mut(), &bare_request(&req));
    }
    if let Some(AfterUpgrade::Open { handshake, .. }) = &mut after {
        *handshake = handshake_from(req);
    }
    (res, after)
}

fn user_agent_is_ie(headers: &HeaderMap) -> bool {
    headers.get(header::USER_AGENT).is_some_and(|ua| {
        let ua = ua.as_bytes();
        ua.windows(5).any(|w| w == b";MSIE") || ua.windows(8).any(|w| w == b"Trident/")
    })
}

enum Target<D> {
    Handshake(ProtocolVersion, TransportKind),
    Session(Arc<Session<D>>),
}

fn verify<D, B>(
    shared: &Arc<Shared<D>>,
    req: &Request<B>,
    q: &EngineQuery,
    ws: bool,
) -> Result<Target<D>, RequestError>
where
    D: Default + Send + Sync + 'static,
{
    let config = &shared.config;
    let version = q
        .eio
        .as_deref()
        .and_then(ProtocolVersion::from_query)
        .ok_or(RequestError::UnsupportedProtocolVersion)?;
    let transport = match q.transport.as_deref() {
        Some("polling") if config.transports.polling => TransportKind::Polling,
        Some("websocket") if config.transports.websocket => TransportKind::WebSocket,
        _ => return Err(RequestError::UnknownTransport),
    };
    if !valid_origin(req.headers()) {
        return Err(RequestError::BadRequest(BadRequestContext::InvalidOrigin));
    }
    if let Some(sid) = q.sid.as_deref() {
        let session = crate::sid::Sid::parse(sid)
            .and_then(|sid| shared.sessions.get(&sid))
            .ok_or(RequestError::UnknownSid)?;
        if session.protocol != version {
            return Err(RequestError::BadRequest(
                BadRequestContext::ProtocolMismatch,
            ));
        }
        let st = session.lock();
        if ws && transport == TransportKind::WebSocket {
            let can_upgrade = st.transport == TransportKind::Polling
                && st.upgrade == Upgrade::None
                && config.allow_upgrades
                && st.closed.is_none();
            if !can_upgrade {
                return Err(RequestError::BadRequest(BadRequestContext::UpgradeRefused));
            }
        } else if transport != st.transport {
            return Err(RequestError::BadRequest(
                BadRequestContext::TransportMismatch,
            ));
        }
        drop(st);
        return Ok(Target::Session(session));
    }
    if req.method() != Method::GET {
        return Err(RequestError::BadHandshakeMethod);
    }
    if transport == TransportKind::WebSocket && !ws {
        return Err(RequestError::BadRequest(
            BadRequestContext::TransportHandshakeError,
        ));
    }
    if let Some(allow) = &config.allow_request {
        allow(&bare_request(req)).map_err(RequestError::Forbidden)?;
    }
    if version == ProtocolVersion::V3 && !config.allow_eio3 {
        return Err(RequestError::UnsupportedProtocolVersion);
    }
    Ok(Target::Handshake(version, transport))
}

fn polling_format(version: ProtocolVersion, q: &EngineQuery) -> PollingFormat {
    match version {
        ProtocolVersion::V4 => PollingFormat::V4,
        ProtocolVersion::V3 => match &q.j {
            Some(j) => PollingFormat::V3Jsonp(j.chars().filter(char::is_ascii_digit).collect()),
            None if q.b64 => PollingFormat::V3Text,
            None => PollingFormat::V3Binary,
        },
    }
}

/// Marks a request whose header values and target already share one buffer of their
/// own (see `direct`): its session keeps them as they are instead of copying them.
#[derive(Clone, Copy)]
pub(crate) struct CompactHead;

/// What a session keeps of its request: its parts when they are compact, a copy
/// otherwise ([`handshake_of`]).
fn handshake_from<B>(req: Request<B>) -> Handshake {
    if req.extensions().get::<CompactHead>().is_none() {
        return handshake_of(&req);
    }
    let remote_addr = req.extensions().get::<RemoteAddr>().map(|a| a.0);
    let (parts, _) = req.into_parts();
    Handshake {
        headers: parts.headers,
        uri: parts.uri,
        remote_addr,
        issued: SystemTime::now(),
    }
}

/// What a session keeps of its request. Headers and URI are copied into allocations of
/// their own: hyper's parsed values share its 8 KiB read buffer, which a plain clone
/// would keep alive for the whole life of the session.
fn handshake_of<B>(req: &Request<B>) -> Handshake {
    // hyper's header values and URL share its read buffer; kept as they are, they would
    // keep that whole buffer alive for the session. They are copied into one buffer of
    // their own instead (header names are already copies).
    let target = req.uri().path_and_query().map_or("", |pq| pq.as_str());
    let values_len: usize = req.headers().values().map(|v| v.len()).sum();
    let mut buf = bytes::BytesMut::with_capacity(values_len + target.len());
    for value in req.headers().values() {
        buf.extend_from_slice(value.as_bytes());
    }
    buf.extend_from_slice(target.as_bytes());
    let buf = buf.freeze();
    let mut headers = HeaderMap::with_capacity(req.headers().len());
    let mut at = 0;
    for (name, value) in req.headers() {
        let end = at + value.len();
        let copy = HeaderValue::from_maybe_shared(buf.slice(at..end))
            .map(|mut v| {
                v.set_sensitive(value.is_sensitive());
                v
            })
            .unwrap_or_else(|_| value.clone());
        headers.append(name.clone(), copy);
        at = end;
    }
    let uri = match req.uri().scheme() {
        // The usual origin-form target (`/engine.io/?EIO=4&…`).
        None => Uri::from_maybe_shared(buf.slice(at..)).ok(),
        Some(_) => req.uri().to_string().parse().ok(),
    }
    .unwrap_or_else(|| req.uri().clone());
    Handshake {
        headers,
        uri,
        remote_addr: req.extensions().get::<RemoteAddr>().map(|a| a.0),
        issued: SystemTime::now(),
    }
}

fn open_packet<D>(
    shared: &Shared<D>,
    session: &Session<D>,
    transport: TransportKind,
) -> EncodedPacket {
    let c = &shared.config;
    let upgrades =
        if transport == TransportKind::Polling && c.allow_upgrades && c.transports.websocket {
            vec!["websocket".to_owned()]
        } else {
            Vec::new()
        };
    let open = OpenPayload {
        sid: session.sid.to_string(),
        upgrades,
        ping_interval: c.ping_interval.as_millis() as u64,
        ping_timeout: c.ping_timeout.as_millis() as u64,
        max_payload: c.max_payload as u64,
    };
    EncodedPacket::Text(Utf8Bytes::from(open.to_packet_text()))
}

/// Registers a new session, queues what follows `open`, and tells the application.
fn start_session<D: Default + Send + Sync + 'static>(
    shared: &Arc<Shared<D>>,
    session: &Arc<Session<D>>,
) {
    shared.sessions.insert(session.clone());
    if let Some(initial) = &shared.config.initial_packet {
        let _ = Socket(session.clone()).send_text(initial.as_str());
    }
    tracing::debug!(sid = %session.sid, protocol = ?session.protocol, "session opened");
    shared.handler.on_open(&Socket(session.clone()));
}

fn polling_handshake<D, B>(
    shared: &Arc<Shared<D>>,
    req: &Request<B>,
    version: ProtocolVersion,
    q: &EngineQuery,
) -> Response<Full<Bytes>>
where
    D: Default + Send + Sync + 'static,
{
    let format = polling_format(version, q);
    let session = Session::new(
        shared.clone(),
        version,
        TransportKind::Polling,
        format.clone(),
        handshake_of(req),
        D::default(),
    );
    let open = open_packet(shared, &session, TransportKind::Polling);
    let (body, content_type) = polling::encode_body(&format, &[open]);
    let mut res = polling::payload_response(body, content_type);
    if let Some(cookie) = &shared.config.cookie {
        let mut v = format!("{}={}; Path={}", cookie.name, session.sid, cookie.path);
        if cookie.http_only {
            v.push_str("; HttpOnly");
        }
        if let Some(ss) = &cookie.same_site {
            v.push_str("; SameSite=");
            v.push_str(ss);
        }
        if let Ok(v) = HeaderValue::from_str(&v) {
            res.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    if let Some(hook) = &shared.config.initial_headers {
        hook(res.headers_mut(), &bare_request(req));
    }
    start_session(shared, &session);
    tokio::spawn(websocket::run_polling(session));
    res
}

/// The 101 answer to a WebSocket upgrade request, or the refusal of a malformed one.
fn switching_protocols<B>(req: &Request<B>) -> Result<Response<Full<Bytes>>, RequestError> {
    let key = req.headers().get(header::SEC_WEBSOCKET_KEY);
    let version_ok = req
        .headers()
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v.as_bytes() == b"13");
    let Some(key) = key.filter(|_| version_ok) else {
        return Err(RequestError::BadRequest(
            BadRequestContext::TransportHandshakeError,
        ));
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    Ok(res)
}

fn websocket_handshake<D, B>(
    shared: &Arc<Shared<D>>,
    req: &Request<B>,
    version: ProtocolVersion,
    q: &EngineQuery,
) -> (Response<Full<Bytes>>, Option<AfterUpgrade<D>>)
where
    D: Default + Send + Sync + 'static,
{
    let mut res = match switching_protocols(req) {
        Ok(r) => r,
        Err(e) => return (error_response(&e, true), None),
    };
    if let Some(hook) = &shared.config.initial_headers {
        hook(res.headers_mut(), &bare_request(req));
    }
    let open = AfterUpgrade::Open {
        shared: shared.clone(),
        version,
        format: polling_format(version, q),
        // Filled in by `route` once it is done with the request.
        handshake: Handshake {
            headers: HeaderMap::new(),
            uri: Uri::default(),
            remote_addr: None,
            issued: SystemTime::UNIX_EPOCH,
        },
        ws_base64: version == ProtocolVersion::V3 && q.b64,
    };
    (res, Some(open))
}

fn websocket_upgrade<D, B>(
    shared: &Arc<Shared<D>>,
    req: &Request<B>,
    session: Arc<Session<D>>,
    ws_base64: bool,
) -> (Response<Full<Bytes>>, Option<AfterUpgrade<D>>)
where
    D: Default + Send + Sync + 'static,
{
    let res = match switching_protocols(req) {
        Ok(r) => r,
        Err(e) => return (error_response(&e, true), None),
    };
    session.lock().upgrade = Upgrade::Probing;
    let probe = AfterUpgrade::Probe {
        session,
        ws_base64,
        max_payload: shared.config.max_payload,
    };
    (res, Some(probe))
}

/// What runs on a connection once its `101 Switching Protocols` is written: a new
/// WebSocket session, or the upgrade probe of a polling session.
// Consumed as soon as the answer is written: boxing the handshake would cost an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum AfterUpgrade<D> {
    Open {
        shared: Arc<Shared<D>>,
        version: ProtocolVersion,
        format: PollingFormat,
        handshake: Handshake,
        ws_base64: bool,
    },
    Probe {
        session: Arc<Session<D>>,
        ws_base64: bool,
        max_payload: usize,
    },
}

impl<D: Default + Send + Sync + 'static> AfterUpgrade<D> {
    /// Runs the WebSocket on `io` until the session ends.
    pub(crate) fn run(self, io: WsIo) -> impl Future<Output = ()> + Send + 'static {
        match self {
            AfterUpgrade::Open {
                shared,
                version,
                format,
                handshake,
                ws_base64,
            } => {
                // Opening and running are chained, not nested in one async block: the
                // task then holds the larger of the two futures rather than both, and
                // the WebSocket once.
                let open = async move {
                    let ws = websocket::accept(io, shared.config.max_payload).await;
                    let session = Session::new(
                        shared.clone(),
                        version,
                        TransportKind::WebSocket,
                        format,
                        handshake,
                        D::default(),
                    );
                    session.lock().ws_base64 = ws_base64;
                    let open = open_packet(&shared, &session, TransportKind::WebSocket);
                    let _ = session.enqueue(open);
                    start_session(&shared, &session);
                    (session, ws)
                };
                Branch::Left(open.then(|(session, ws)| websocket::run_websocket(session, ws)))
            }
            AfterUpgrade::Probe {
                session,
                ws_base64,
                max_payload,
            } => Branch::Right(Box::pin(async move {
                // Rare (a polling session upgrading) and large: boxed, so that it does not
                // size every WebSocket task.
                let ws = websocket::accept(io, max_payload).await;
                websocket::probe(session, ws, ws_base64).await;
            })),
        }
    }

    /// The upgrade did not happen.
    pub(crate) fn abandon(self) {
        if let AfterUpgrade::Probe { session, .. } = self {
            let mut st = session.lock();
            if st.upgrade == Upgrade::Probing {
                st.upgrade = Upgrade::None;
            }
        }
    }
}

/// An [`Engine`] as a tower service: its own path, 404 for any other.
pub struct EngineService<D> {
    engine: Engine<D>,
}

impl<D> Clone for EngineService<D> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
        }
    }
}

impl<D, B> tower_service::Service<Request<B>> for EngineService<D>
where
    D: Default + Send + Sync + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let engine = self.engine.clone();
        Box::pin(async move {
            if engine.matches(req.uri().path()) {
                Ok(engine.handle(req).await)
            } else {
                Ok(not_found())
            }
        })
    }
}

/// A tower layer mounting an [`Engine`] in front of another service.
pub struct EngineLayer<D> {
    engine: Engine<D>,
}

impl<D> Clone for EngineLayer<D> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
        }
    }
}

impl<D, S> tower_layer::Layer<S> for EngineLayer<D> {
    type Service = EngineMiddleware<D, S>;
    fn layer(&self, inner: S) -> Self::Service {
        EngineMiddleware {
            engine: self.engine.clone(),
            inner,
        }
    }
}

/// The service made by [`EngineLayer`]: Engine.IO requests to the engine, the rest to
/// the inner service.
pub struct EngineMiddleware<D, S> {
    engine: Engine<D>,
    inner: S,
}

impl<D, S: Clone> Clone for EngineMiddleware<D, S> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
            inner: self.inner.clone(),
        }
    }
}

impl<D, S, B, ResBody> tower_service::Service<Request<B>> for EngineMiddleware<D, S>
where
    D: Default + Send + Sync + 'static,
    S: tower_service::Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Either<Full<Bytes>, ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if self.engine.matches(req.uri().path()) {
            let engine = self.engine.clone();
            Box::pin(async move { Ok(engine.handle(req).await.map(Either::Left)) })
        } else {
            let fut = self.inner.call(req);
            Box::pin(async move { Ok(fut.await?.map(Either::Right)) })
        }
    }
}
