//! Opening sessions: the `open` packet, the polling handshake, and a session's start.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response};
use http_body_util::Full;
use sockio_protocol::engine::payload::EncodedPacket;
use sockio_protocol::engine::ProtocolVersion;
use sockio_protocol::Utf8Bytes;

use crate::polling;
use crate::proto::{self, TransportKind};
use crate::request::{bare_request, handshake_of, polling_format, EngineQuery};
use crate::session::{Session, Shared, Socket};
use crate::session_task;

/// The `open` packet of `session`, opened on `transport`.
pub(crate) fn open_packet<D>(
    shared: &Shared<D>,
    session: &Session<D>,
    transport: TransportKind,
) -> EncodedPacket {
    let open = proto::open_payload(session.sid.to_string(), transport, &shared.config);
    EncodedPacket::Text(Utf8Bytes::from(open.to_packet_text()))
}

/// Registers a new session, queues what follows `open`, and tells the application.
pub(crate) fn start_session<D: Default + Send + Sync + 'static>(
    shared: &Arc<Shared<D>>,
    session: &Arc<Session<D>>,
) {
    shared.sessions.insert(session.sid, session.clone());
    if let Some(initial) = &shared.config.initial_packet {
        let _ = Socket(session.clone()).send_text(initial.as_str());
    }
    tracing::debug!(sid = %session.sid, protocol = ?session.protocol, "session opened");
    shared.handler.on_open(&Socket(session.clone()));
}

/// The answer to a polling handshake: a new session, its task started.
pub(crate) fn polling_handshake<D, B>(
    shared: &Arc<Shared<D>>,
    req: &Request<B>,
    version: ProtocolVersion,
    q: &EngineQuery<'_>,
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
    shared.tasks.spawn(session_task::run_polling(session));
    res
}
