//! Errors and disconnect reasons.

use std::fmt;

use sockio_protocol::socket::Value;

/// Why a socket disconnected; [`DisconnectReason::as_str`] gives socket.io's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The server called [`crate::Socket::disconnect`] (`false`).
    ServerNamespaceDisconnect,
    /// The client sent DISCONNECT for the namespace.
    ClientNamespaceDisconnect,
    /// [`crate::SocketIo::close`].
    ServerShuttingDown,
    /// `disconnect(true)`, a protocol violation by the client (duplicate CONNECT, packet
    /// for a namespace not joined), or the connect timeout.
    ForcedServerClose,
    /// The server closed the Engine.IO connection (also after an invalid Socket.IO packet).
    ForcedClose,
    /// No heartbeat in time.
    PingTimeout,
    /// The connection closed.
    TransportClose,
    /// The transport broke the protocol or failed.
    TransportError,
    /// An Engine.IO packet could not be decoded.
    ParseError,
}

impl DisconnectReason {
    /// The reason as socket.io names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServerNamespaceDisconnect => "server namespace disconnect",
            Self::ClientNamespaceDisconnect => "client namespace disconnect",
            Self::ServerShuttingDown => "server shutting down",
            Self::ForcedServerClose => "forced server close",
            Self::ForcedClose => "forced close",
            Self::PingTimeout => "ping timeout",
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::ParseError => "parse error",
        }
    }

    pub(crate) fn from_engine(reason: sockio_engine::CloseReason) -> Self {
        use sockio_engine::CloseReason as C;
        match reason {
            C::TransportClose => Self::TransportClose,
            C::TransportError | C::SlowClient => Self::TransportError,
            C::PingTimeout => Self::PingTimeout,
            C::ParseError => Self::ParseError,
            C::ForcedClose => Self::ForcedClose,
            C::ServerShuttingDown => Self::ServerShuttingDown,
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal from a connection middleware: the client gets `connect_error` with this
/// message and, if set, `err.data`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectError {
    /// `err.message` on the client.
    pub message: String,
    /// `err.data` on the client.
    pub data: Option<Value>,
}

impl ConnectError {
    /// A refusal with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            data: None,
        }
    }

    /// Adds `err.data` (any serializable value; unserializable values are left out).
    pub fn with_data(mut self, data: impl serde::Serialize) -> Self {
        self.data = sockio_protocol::socket::to_value(&data).ok();
        self
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConnectError {}

impl<T: Into<String>> From<T> for ConnectError {
    fn from(message: T) -> Self {
        Self::new(message)
    }
}

/// Why an emission failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    /// The event name is reserved (`connect`, `disconnect`, …).
    #[error("\"{0}\" is a reserved event name")]
    ReservedEvent(String),
    /// The arguments could not be serialized.
    #[error("arguments could not be serialized: {0}")]
    Serialize(String),
    /// The socket is disconnected.
    #[error("socket disconnected")]
    Disconnected,
}

/// Why an acknowledgement did not come.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AckError {
    /// No answer within the timeout.
    #[error("operation has timed out")]
    Timeout,
    /// The socket disconnected first.
    #[error("socket has been disconnected")]
    Disconnected,
    /// The emission itself failed.
    #[error(transparent)]
    Emit(#[from] EmitError),
}

/// A broadcast with acknowledgements that did not complete: the answers that came.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("operation has timed out")]
pub struct BroadcastAckError {
    /// The first argument of each answer that came in time.
    pub responses: Vec<Value>,
}
