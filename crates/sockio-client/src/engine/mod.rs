//! The Engine.IO client: a sans-IO state machine ([`EngineClient`]) and the types it
//! shares with the tokio driver that runs it.
//!
//! The state machine knows the protocol (handshake, heartbeats in both directions,
//! upgrade probe, payload framing for revisions 4 and 3) and nothing about sockets or
//! clocks, so it is tested without a runtime. The driver (private to this crate) performs
//! its [`Action`]s with hyper (polling) and its own WebSocket handshake and frames, and
//! feeds back what happened as [`Input`]s.

mod proto;
#[cfg(test)]
mod tests;

pub use proto::{Action, EngineClient, EngineEvent, EngineOptions, Input, WsFrame};
pub use sockio_protocol::engine::{Message, ProtocolVersion, TransportKind};

use std::time::Duration;

/// The server's handshake (the `open` packet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// Session id.
    pub sid: String,
    /// Transports the server offers to upgrade to.
    pub upgrades: Vec<String>,
    /// How often the server pings (v4) or expects our pings (v3).
    pub ping_interval: Duration,
    /// How long a heartbeat answer may take.
    pub ping_timeout: Duration,
    /// The largest payload the server accepts (v4 servers say; v3 servers don't).
    pub max_payload: Option<u64>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct HandshakeJson {
    sid: String,
    #[serde(default)]
    upgrades: Vec<String>,
    ping_interval: u64,
    ping_timeout: u64,
    #[serde(default)]
    max_payload: Option<u64>,
}

impl Handshake {
    /// Parses the JSON of an `open` packet.
    ///
    /// ```
    /// use sockio_client::engine::Handshake;
    /// let h = Handshake::parse(r#"{"sid":"x","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000}"#).unwrap();
    /// assert_eq!(h.sid, "x");
    /// assert_eq!(h.max_payload, None);
    /// assert!(Handshake::parse("{}").is_err());
    /// ```
    pub fn parse(json: &str) -> Result<Handshake, String> {
        let h: HandshakeJson =
            serde_json::from_str(json).map_err(|e| format!("invalid handshake: {e}"))?;
        if h.sid.is_empty() {
            return Err("invalid handshake: empty sid".into());
        }
        Ok(Handshake {
            sid: h.sid,
            upgrades: h.upgrades,
            ping_interval: Duration::from_millis(h.ping_interval),
            ping_timeout: Duration::from_millis(h.ping_timeout),
            max_payload: h.max_payload,
        })
    }
}

/// Why a transport failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The server answered with an HTTP status other than 200 (101 for WebSocket).
    #[error("HTTP status {status}: {body}")]
    Http {
        /// The status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The TCP connection could not be made.
    #[error("connection failed: {0}")]
    Connect(String),
    /// Reading or writing failed, or the connection closed mid-request.
    #[error("I/O error: {0}")]
    Io(String),
    /// The TLS handshake failed.
    #[error("TLS error: {0}")]
    Tls(String),
    /// The WebSocket handshake or a frame failed.
    #[error("WebSocket error: {0}")]
    WebSocket(String),
    /// The server took too long to answer.
    #[error("timed out")]
    Timeout,
}

/// Why an Engine.IO session ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloseReason {
    /// The server closed the session (a close packet, or the WebSocket closed).
    #[error("transport close")]
    TransportClose,
    /// The transport failed.
    #[error("transport error: {0}")]
    TransportError(TransportError),
    /// No heartbeat in time.
    #[error("ping timeout")]
    PingTimeout,
    /// The server sent something that is not Engine.IO.
    #[error("parse error: {0}")]
    ParseError(String),
    /// The handshake was not a valid `open` packet.
    #[error("invalid handshake: {0}")]
    Handshake(String),
    /// The client closed it.
    #[error("forced close")]
    ForcedClose,
}

impl CloseReason {
    /// The socket.io-client `disconnect` reason for this close.
    pub fn disconnect_reason(&self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError(_) => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError(_) | CloseReason::Handshake(_) => "parse error",
            CloseReason::ForcedClose => "io client disconnect",
        }
    }
}
