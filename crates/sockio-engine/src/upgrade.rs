//! WebSocket requests: the `101` answer, and what then runs on the connection — a new
//! session opened on WebSocket, or the upgrade probe of a polling session.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::{Either as Branch, FutureExt as _};
use http::{Request, Response};
use http_body_util::Full;
use sockio_protocol::engine::ProtocolVersion;

use crate::error::{BadRequestContext, RequestError};
use crate::handshake::Handshake;
use crate::open::{open_packet, start_session};
use crate::proto::{PollingFormat, ProbeStep, TransportKind, UpgradeRequest};
use crate::request::{bare_request, polling_format, EngineQuery};
use crate::response::{error_response, switching_protocols};
use crate::session::{Session, Shared};
use crate::session_task;
use crate::ws_io::WsIo;
use crate::ws_stream::{self, WsStream};

/// The answer to a WebSocket handshake (a session opened on WebSocket), and the
/// session to open once it is written.
pub(crate) fn websocket_handshake<D, B>(
    shared: &Arc<Shared<D>>,
    req: &Request<B>,
    version: ProtocolVersion,
    q: &EngineQuery<'_>,
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
        handshake: Handshake::from_head(
            bytes::Bytes::new(),
            http::Uri::default(),
            None,
            std::time::SystemTime::UNIX_EPOCH,
        ),
        ws_base64: version == ProtocolVersion::V3 && q.b64,
    };
    (res, Some(open))
}

/// The answer to a WebSocket request of a polling session: its upgrade probe.
pub(crate) fn websocket_upgrade<D, B>(
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
    let max_payload = shared.config.max_payload;
    let request = session
        .lock()
        .proto
        .probe_begin(shared.config.allow_upgrades, ws_base64);
    let after = match request {
        UpgradeRequest::Probe => AfterUpgrade::Probe {
            session,
            max_payload,
        },
        UpgradeRequest::AcceptAndClose => {
            tracing::debug!(sid = %session.sid, "websocket for a session upgraded or upgrading: closed");
            AfterUpgrade::Close { max_payload }
        }
        UpgradeRequest::Refuse => {
            let refused = RequestError::BadRequest(BadRequestContext::UpgradeRefused);
            shared.stats.refused(refused.code());
            return (error_response(&refused, true), None);
        }
    };
    (res, Some(after))
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
        max_payload: usize,
    },
    /// A WebSocket for a session that is on WebSocket already or being probed: closed
    /// at once, nothing sent.
    Close { max_payload: usize },
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
                    let ws = ws_stream::accept(io, shared.config.max_payload).await;
                    let session = Session::new(
                        shared.clone(),
                        version,
                        TransportKind::WebSocket,
                        format,
                        handshake,
                        D::default(),
                    );
                    session.lock().proto.set_ws_base64(ws_base64);
                    let open = open_packet(&shared, &session, TransportKind::WebSocket);
                    let _ = session.enqueue_open(open);
                    start_session(&shared, &session);
                    (session, ws)
                };
                Branch::Left(open.then(|(session, ws)| session_task::run_websocket(session, ws)))
            }
            // Rare (a polling session upgrading) and large: boxed, so that it does not
            // size every WebSocket task.
            rare => Branch::Right(Box::pin(rare.run_rare(io))),
        }
    }

    /// The probe of a polling session, or an extra WebSocket closed at once.
    async fn run_rare(self, io: WsIo) {
        match self {
            AfterUpgrade::Probe {
                session,
                max_payload,
            } => {
                let ws = ws_stream::accept(io, max_payload).await;
                probe(session, ws).await;
            }
            AfterUpgrade::Close { max_payload } => {
                let mut ws = ws_stream::accept(io, max_payload).await;
                ws_stream::close_gracefully(&mut ws).await;
            }
            AfterUpgrade::Open { .. } => {}
        }
    }

    /// The upgrade did not happen.
    pub(crate) fn abandon(self) {
        if let AfterUpgrade::Probe { session, .. } = self {
            session.lock().proto.probe_abandoned();
        }
    }
}

/// How a probe ended.
enum ProbeEnd {
    /// `upgrade` arrived: the WebSocket goes to the session's task.
    Upgraded,
    /// The session closed meanwhile.
    Refused,
    /// The probe failed; `true` when the client sent a message over `max_payload`.
    Failed(bool),
}

/// Drives an upgrade probe: `2probe` → `3probe`, polling released with `noop`, then `5`
/// hands the WebSocket to the session task. Anything else, or the upgrade timeout, closes
/// the probe and leaves the session on polling. The decisions are the state machine's
/// ([`crate::proto::SessionState::handle_probe_packet`]); this moves the frames.
async fn probe<D: Send + Sync + 'static>(session: Arc<Session<D>>, mut ws: WsStream) {
    let version = session.protocol;
    let timeout = session.shared.config.upgrade_timeout;
    let steps = async {
        loop {
            let packet = match ws_stream::next_packet(&mut ws, version).await {
                Ok(p) => p,
                Err(too_big) => return ProbeEnd::Failed(too_big),
            };
            let step = session.lock().proto.handle_probe_packet(&packet);
            match step {
                ProbeStep::SendPong => {
                    if ws.send_text(ws_stream::PROBE_PONG).await.is_err() {
                        return ProbeEnd::Failed(false);
                    }
                    // The pending GET is answered with `noop`.
                    session.out_notify.raise();
                }
                ProbeStep::Upgraded => return ProbeEnd::Upgraded,
                ProbeStep::Refused => return ProbeEnd::Refused,
                ProbeStep::Failed => return ProbeEnd::Failed(false),
            }
        }
    };
    let end = tokio::time::timeout(timeout, steps)
        .await
        .unwrap_or(ProbeEnd::Failed(false));
    match end {
        ProbeEnd::Upgraded => {
            let refused = {
                let mut st = session.lock();
                if st.proto.is_closed() {
                    Some(ws)
                } else {
                    st.handoff = Some(Box::new(ws));
                    None
                }
            };
            if let Some(mut ws) = refused {
                ws_stream::close_gracefully(&mut ws).await;
                return;
            }
            tracing::debug!(sid = %session.sid, "upgraded to websocket");
            session.task_notify.raise();
            session.out_notify.raise();
            session.close_polling_connections();
        }
        ProbeEnd::Refused => ws_stream::close_gracefully(&mut ws).await,
        ProbeEnd::Failed(too_big) => {
            tracing::debug!(sid = %session.sid, "upgrade probe failed");
            session.lock().proto.probe_failed();
            session.out_notify.raise();
            if too_big {
                ws_stream::close_too_big(&mut ws).await;
            } else {
                ws_stream::close_gracefully(&mut ws).await;
            }
        }
    }
}
