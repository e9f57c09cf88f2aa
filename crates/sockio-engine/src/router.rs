//! Routing an Engine.IO request: verified against the protocol's rules, then to the
//! handshake, a polling request or a WebSocket upgrade of its session.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::{Either as Branch, FutureExt as _};
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::Full;
use sockio_protocol::engine::ProtocolVersion;

use crate::engine::Engine;
use crate::error::{BadRequestContext, RequestError};
use crate::open::polling_handshake;
use crate::polling;
use crate::proto::{self, TransportKind};
use crate::request::{
    bare_request, handshake_from, is_websocket_upgrade, user_agent_is_ie, valid_origin, EngineQuery,
};
use crate::response::error_response;
use crate::session::{Session, Shared};
use crate::upgrade::{websocket_handshake, websocket_upgrade, AfterUpgrade};
use crate::ws_io::WsIo;
use crate::BoxError;

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
            self.shared
                .tasks
                .spawn(on_upgrade.then(|upgraded| match upgraded {
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
            shared.stats.refused(err.code());
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
                session.polling_connection(req.extensions().get());
                let coding = shared.config.http_compression.and_then(|_| {
                    polling::coding_for(header_bytes(req.headers(), header::ACCEPT_ENCODING))
                });
                let ie = user_agent_is_ie(header_bytes(req.headers(), header::USER_AGENT));
                let hooked = shared.config.headers.as_ref().map(|_| bare_request(&req));
                // A poll may wait long: the request goes first. Its head shares hyper's
                // read buffer, which hyper then reuses for the connection's next request
                // instead of allocating a new one each time.
                drop(req);
                let mut res = polling::poll(session, coding, ie).await.into_response();
                if let (Some(hook), Some(bare)) = (&shared.config.headers, &hooked) {
                    hook(res.headers_mut(), bare);
                }
                return (res, None);
            }
            Method::POST => {
                session.polling_connection(req.extensions().get());
                let binary = polling::is_binary(header_bytes(req.headers(), header::CONTENT_TYPE));
                let ie = user_agent_is_ie(header_bytes(req.headers(), header::USER_AGENT));
                let answer = polling::post(session, binary, ie, req.into_body()).await;
                return (answer.into_response(), None);
            }
            _ => {
                let mut r = Response::new(Full::new(Bytes::new()));
                *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                r
            }
        },
    };
    if user_agent_is_ie(header_bytes(req.headers(), header::USER_AGENT))
        && res.status() == StatusCode::OK
    {
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

enum Target<D> {
    Handshake(ProtocolVersion, TransportKind),
    Session(Arc<Session<D>>),
}

fn verify<D, B>(
    shared: &Arc<Shared<D>>,
    req: &Request<B>,
    q: &EngineQuery<'_>,
    ws: bool,
) -> Result<Target<D>, RequestError>
where
    D: Default + Send + Sync + 'static,
{
    let config = &shared.config;
    let (version, transport) = protocol_of(shared, q, header_bytes(req.headers(), header::ORIGIN))?;
    if let Some(sid) = q.sid.as_deref() {
        return session_of(shared, sid, version, transport, ws).map(Target::Session);
    }
    proto::check_handshake(req.method() == Method::GET, transport, ws)?;
    if let Some(allow) = &config.allow_request {
        allow(&bare_request(req)).map_err(RequestError::Forbidden)?;
    }
    proto::check_version(version, config.allow_eio3)?;
    if shared.sessions.len() >= config.max_sessions {
        tracing::warn!(
            sessions = shared.sessions.len(),
            "max_sessions reached: handshake refused"
        );
        return Err(RequestError::ServerFull);
    }
    Ok(Target::Handshake(version, transport))
}

/// The protocol version and transport a request asks for, once its query and its
/// `Origin` (`origin`) pass the protocol's checks.
pub(crate) fn protocol_of<D: Default + Send + Sync + 'static>(
    shared: &Shared<D>,
    q: &EngineQuery<'_>,
    origin: Option<&[u8]>,
) -> Result<(ProtocolVersion, TransportKind), RequestError> {
    let (version, transport) = proto::target(
        q.eio.as_deref(),
        q.transport.as_deref(),
        &shared.config.transports,
    )?;
    if !valid_origin(origin) {
        return Err(RequestError::BadRequest(BadRequestContext::InvalidOrigin));
    }
    Ok((version, transport))
}

/// The session `sid` names, when a request of `version` on `transport` (`ws`: a
/// WebSocket upgrade) may address it.
pub(crate) fn session_of<D: Default + Send + Sync + 'static>(
    shared: &Shared<D>,
    sid: &str,
    version: ProtocolVersion,
    transport: TransportKind,
    ws: bool,
) -> Result<Arc<Session<D>>, RequestError> {
    let session = crate::sid::Sid::parse(sid)
        .and_then(|sid| shared.sessions.get(&sid))
        .ok_or(RequestError::UnknownSid)?;
    // A session already on WebSocket, or being probed, gets an extra WebSocket
    // accepted then closed (`websocket_upgrade`), as engine.io does.
    session
        .lock()
        .proto
        .check_request(version, transport, ws, shared.config.allow_upgrades)?;
    Ok(session)
}

/// The bytes of the first `name` header of `headers`.
fn header_bytes(headers: &http::HeaderMap, name: header::HeaderName) -> Option<&[u8]> {
    headers.get(name).map(HeaderValue::as_bytes)
}
