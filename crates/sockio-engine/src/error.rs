//! Errors: the refusals of the Engine.IO protocol, and why sessions close.

use std::fmt;

/// A refused Engine.IO request, with the protocol's error code.
///
/// Polling requests get HTTP 400 (403 for [`RequestError::Forbidden`]) with the JSON body
/// `{"code":N,"message":"..."}`; refused WebSocket upgrades get a plain 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Code 0: `transport` missing or not enabled.
    #[error("Transport unknown")]
    UnknownTransport,
    /// Code 1: the `sid` names no live session.
    #[error("Session ID unknown")]
    UnknownSid,
    /// Code 2: a handshake whose method is not GET.
    #[error("Bad handshake method")]
    BadHandshakeMethod,
    /// Code 3: a malformed or out-of-place request; the context says which.
    #[error("Bad request ({0})")]
    BadRequest(BadRequestContext),
    /// Code 4: the `allow_request` hook refused the handshake, with its message.
    #[error("Forbidden: {0}")]
    Forbidden(String),
    /// Code 5: the `EIO` revision is not supported.
    #[error("Unsupported protocol version")]
    UnsupportedProtocolVersion,
    /// The server holds `max_sessions` sessions already: HTTP 503, code 3 (*Bad request*,
    /// the closest of the protocol's codes) with the message `Server full`.
    #[error("Server full")]
    ServerFull,
}

/// Why a request was a code-3 *Bad request*.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BadRequestContext {
    /// The `Origin` header holds invalid characters.
    InvalidOrigin,
    /// The request's transport is not the session's.
    TransportMismatch,
    /// The request's `EIO` is not the session's.
    ProtocolMismatch,
    /// `transport=websocket` on a request that is not a WebSocket upgrade.
    TransportHandshakeError,
    /// An upgrade of a session that is already upgrading or upgraded.
    UpgradeRefused,
}

impl fmt::Display for BadRequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidOrigin => "INVALID_ORIGIN",
            Self::TransportMismatch => "TRANSPORT_MISMATCH",
            Self::ProtocolMismatch => "PROTOCOL_MISMATCH",
            Self::TransportHandshakeError => "TRANSPORT_HANDSHAKE_ERROR",
            Self::UpgradeRefused => "UPGRADE_REFUSED",
        })
    }
}

impl RequestError {
    /// The Engine.IO error code.
    pub fn code(&self) -> u8 {
        match self {
            Self::UnknownTransport => 0,
            Self::UnknownSid => 1,
            Self::BadHandshakeMethod => 2,
            Self::BadRequest(_) => 3,
            Self::Forbidden(_) => 4,
            Self::UnsupportedProtocolVersion => 5,
            Self::ServerFull => 3,
        }
    }

    /// The message of the JSON body.
    pub fn message(&self) -> &str {
        match self {
            Self::UnknownTransport => "Transport unknown",
            Self::UnknownSid => "Session ID unknown",
            Self::BadHandshakeMethod => "Bad handshake method",
            Self::BadRequest(_) => "Bad request",
            Self::Forbidden(m) if !m.is_empty() => m,
            Self::Forbidden(_) => "Forbidden",
            Self::UnsupportedProtocolVersion => "Unsupported protocol version",
            Self::ServerFull => "Server full",
        }
    }

    /// The HTTP status of a polling error response.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::Forbidden(_) => http::StatusCode::FORBIDDEN,
            Self::ServerFull => http::StatusCode::SERVICE_UNAVAILABLE,
            _ => http::StatusCode::BAD_REQUEST,
        }
    }

    /// The JSON body `{"code":N,"message":"..."}`.
    pub fn json_body(&self) -> String {
        let msg = serde_json::to_string(self.message()).unwrap_or_else(|_| "\"\"".into());
        format!("{{\"code\":{},\"message\":{}}}", self.code(), msg)
    }
}

/// Why a session closed. [`CloseReason::as_str`] gives socket.io's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client closed the connection or sent a `close` packet.
    TransportClose,
    /// The client broke the protocol: overlapping polls, aborted request, invalid content,
    /// wrong heartbeat direction, or its transport failed.
    TransportError,
    /// No heartbeat within the timeout.
    PingTimeout,
    /// A packet could not be decoded.
    ParseError,
    /// The server closed the session.
    ForcedClose,
    /// The server is shutting down.
    ServerShuttingDown,
    /// The session's outgoing queue passed `max_buffered_bytes`: the client reads too slowly.
    SlowClient,
}

impl CloseReason {
    /// The reason as socket.io names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::PingTimeout => "ping timeout",
            Self::ParseError => "parse error",
            Self::ForcedClose => "forced close",
            Self::ServerShuttingDown => "server shutting down",
            Self::SlowClient => "transport error",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why [`crate::Socket::send`] did not queue a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The session is closed.
    #[error("session closed")]
    Closed,
    /// The packet would have passed the session's outgoing byte bound; the session was
    /// closed as too slow.
    #[error("outgoing queue full: session closed as a slow client")]
    QueueFull,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bodies() {
        assert_eq!(
            RequestError::UnknownTransport.json_body(),
            r#"{"code":0,"message":"Transport unknown"}"#
        );
        assert_eq!(
            RequestError::BadRequest(BadRequestContext::TransportMismatch).json_body(),
            r#"{"code":3,"message":"Bad request"}"#
        );
        assert_eq!(
            RequestError::Forbidden("no \"way\"".into()).json_body(),
            r#"{"code":4,"message":"no \"way\""}"#
        );
        assert_eq!(
            RequestError::Forbidden(String::new()).message(),
            "Forbidden"
        );
        assert_eq!(RequestError::Forbidden(String::new()).status(), 403);
        assert_eq!(RequestError::UnsupportedProtocolVersion.status(), 400);
    }
}
