//! What the protocol says about a request before any session state changes: which
//! revision and transport it asks for, whether it may open a session, whether it belongs
//! to an existing one, and the `open` packet that answers a handshake. Pure functions of
//! the request's query and the configuration; HTTP-only checks (the `Origin` header, the
//! application's `allow_request` hook) stay with the router.

use sockio_protocol::engine::{OpenPayload, ProtocolVersion};

use super::session::{SessionState, TransportKind, UpgradeRequest};
use crate::config::{EngineConfig, Transports};
use crate::error::{BadRequestContext, RequestError};

/// The revision (`EIO`) and transport (`transport`) a request asks for, among those
/// `transports` enables.
pub(crate) fn target(
    eio: Option<&str>,
    transport: Option<&str>,
    transports: &Transports,
) -> Result<(ProtocolVersion, TransportKind), RequestError> {
    let version = eio
        .and_then(ProtocolVersion::from_query)
        .ok_or(RequestError::UnsupportedProtocolVersion)?;
    let transport = match transport {
        Some("polling") if transports.polling => TransportKind::Polling,
        Some("websocket") if transports.websocket => TransportKind::WebSocket,
        _ => return Err(RequestError::UnknownTransport),
    };
    Ok((version, transport))
}

/// Whether a request without a session id may open one: a `GET`, and on the WebSocket
/// transport a WebSocket upgrade (`ws`).
pub(crate) fn check_handshake(
    is_get: bool,
    transport: TransportKind,
    ws: bool,
) -> Result<(), RequestError> {
    if !is_get {
        return Err(RequestError::BadHandshakeMethod);
    }
    if transport == TransportKind::WebSocket && !ws {
        return Err(RequestError::BadRequest(
            BadRequestContext::TransportHandshakeError,
        ));
    }
    Ok(())
}

/// Whether a handshake of `version` is served (v3 only with `allow_eio3`). Checked after
/// the application's `allow_request` hook, as engine.io does.
pub(crate) fn check_version(
    version: ProtocolVersion,
    allow_eio3: bool,
) -> Result<(), RequestError> {
    if version == ProtocolVersion::V3 && !allow_eio3 {
        return Err(RequestError::UnsupportedProtocolVersion);
    }
    Ok(())
}

impl SessionState {
    /// Whether a request of `version` on `transport` (`ws`: a WebSocket upgrade) belongs
    /// to this session. A WebSocket request is accepted unless
    /// [`SessionState::upgrade_request`] refuses it; what it then does is decided when it
    /// is answered ([`SessionState::probe_begin`]).
    pub(crate) fn check_request(
        &self,
        version: ProtocolVersion,
        transport: TransportKind,
        ws: bool,
        allow_upgrades: bool,
    ) -> Result<(), RequestError> {
        if self.protocol() != version {
            return Err(RequestError::BadRequest(
                BadRequestContext::ProtocolMismatch,
            ));
        }
        if ws && transport == TransportKind::WebSocket {
            if self.upgrade_request(allow_upgrades) == UpgradeRequest::Refuse {
                return Err(RequestError::BadRequest(BadRequestContext::UpgradeRefused));
            }
        } else if !self.accepts(transport) {
            return Err(RequestError::BadRequest(
                BadRequestContext::TransportMismatch,
            ));
        }
        Ok(())
    }
}

/// The `open` packet's payload for session `sid` opened on `transport`: the upgrades it
/// may try (WebSocket, from polling, when enabled) and the heartbeat and size limits.
pub(crate) fn open_payload(sid: String, transport: TransportKind, c: &EngineConfig) -> OpenPayload {
    let upgrades =
        if transport == TransportKind::Polling && c.allow_upgrades && c.transports.websocket {
            vec!["websocket".to_owned()]
        } else {
            Vec::new()
        };
    OpenPayload {
        sid,
        upgrades,
        ping_interval: c.ping_interval.as_millis() as u64,
        ping_timeout: c.ping_timeout.as_millis() as u64,
        max_payload: c.max_payload as u64,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use sockio_protocol::engine::Packet;

    use super::*;
    use crate::error::CloseReason;
    use crate::proto::{FinalPacket, ProbeStep};

    const BOTH: Transports = Transports {
        polling: true,
        websocket: true,
    };

    #[test]
    fn target_reads_revision_and_transport() {
        assert_eq!(
            target(Some("4"), Some("polling"), &BOTH),
            Ok((ProtocolVersion::V4, TransportKind::Polling))
        );
        assert_eq!(
            target(Some("3"), Some("websocket"), &BOTH),
            Ok((ProtocolVersion::V3, TransportKind::WebSocket))
        );
        for eio in [None, Some("5"), Some(""), Some("4 ")] {
            assert_eq!(
                target(eio, Some("polling"), &BOTH),
                Err(RequestError::UnsupportedProtocolVersion)
            );
        }
        for transport in [None, Some("flashsocket"), Some("WebSocket")] {
            assert_eq!(
                target(Some("4"), transport, &BOTH),
                Err(RequestError::UnknownTransport)
            );
        }
        let ws_only = Transports {
            polling: false,
            websocket: true,
        };
        assert_eq!(
            target(Some("4"), Some("polling"), &ws_only),
            Err(RequestError::UnknownTransport)
        );
    }

    #[test]
    fn handshakes_are_gets_and_websocket_ones_upgrades() {
        assert_eq!(check_handshake(true, TransportKind::Polling, false), Ok(()));
        assert_eq!(
            check_handshake(true, TransportKind::WebSocket, true),
            Ok(())
        );
        assert_eq!(
            check_handshake(false, TransportKind::Polling, false),
            Err(RequestError::BadHandshakeMethod)
        );
        assert_eq!(
            check_handshake(true, TransportKind::WebSocket, false),
            Err(RequestError::BadRequest(
                BadRequestContext::TransportHandshakeError
            ))
        );
        assert_eq!(check_version(ProtocolVersion::V3, true), Ok(()));
        assert_eq!(
            check_version(ProtocolVersion::V3, false),
            Err(RequestError::UnsupportedProtocolVersion)
        );
        assert_eq!(check_version(ProtocolVersion::V4, false), Ok(()));
    }

    #[test]
    fn requests_of_a_session() {
        let d = Duration::from_secs(1);
        let mut s = SessionState::new(
            ProtocolVersion::V4,
            TransportKind::Polling,
            d,
            d,
            Instant::now(),
        );
        let (v4, v3) = (ProtocolVersion::V4, ProtocolVersion::V3);
        let (polling, websocket) = (TransportKind::Polling, TransportKind::WebSocket);
        assert_eq!(s.check_request(v4, polling, false, true), Ok(()));
        assert_eq!(s.check_request(v4, websocket, true, true), Ok(()));
        let mismatch = Err(RequestError::BadRequest(
            BadRequestContext::TransportMismatch,
        ));
        assert_eq!(s.check_request(v4, websocket, false, true), mismatch);
        assert_eq!(
            s.check_request(v3, polling, false, true),
            Err(RequestError::BadRequest(
                BadRequestContext::ProtocolMismatch
            ))
        );
        let refused = Err(RequestError::BadRequest(BadRequestContext::UpgradeRefused));
        assert_eq!(s.check_request(v4, websocket, true, false), refused);
        // Upgraded: polling requests no longer belong; more WebSockets are accepted (and
        // then closed).
        assert_eq!(s.probe_begin(true, false), UpgradeRequest::Probe);
        let probe = Packet::Ping("probe".into());
        assert_eq!(s.handle_probe_packet(&probe), ProbeStep::SendPong);
        assert_eq!(s.handle_probe_packet(&Packet::Upgrade), ProbeStep::Upgraded);
        assert_eq!(s.check_request(v4, polling, false, true), mismatch);
        assert_eq!(s.check_request(v4, websocket, true, true), Ok(()));
        let _ = s.close(CloseReason::TransportClose, FinalPacket::Close);
        assert_eq!(s.check_request(v4, websocket, true, true), refused);
    }

    #[test]
    fn open_payload_offers_websocket_from_polling_only() {
        let config = EngineConfig::default();
        let open = open_payload("abc".to_owned(), TransportKind::Polling, &config);
        assert_eq!(open.upgrades, ["websocket"]);
        assert_eq!(open.ping_interval, config.ping_interval.as_millis() as u64);
        assert_eq!(open.ping_timeout, config.ping_timeout.as_millis() as u64);
        assert_eq!(open.max_payload, config.max_payload as u64);
        let open = open_payload("abc".to_owned(), TransportKind::WebSocket, &config);
        assert!(open.upgrades.is_empty());
        let no_upgrades = EngineConfig::builder().allow_upgrades(false).build();
        let open = open_payload("abc".to_owned(), TransportKind::Polling, &no_upgrades);
        assert!(open.upgrades.is_empty());
    }
}
