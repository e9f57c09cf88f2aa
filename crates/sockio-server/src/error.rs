//! Errors and disconnect reasons.

use std::fmt;

use sockio_protocol::socket::Value;

/// Why a socket disconnected; [`DisconnectReason::as_str`] gives socket.io's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The server called [`crate::Socket::disconnect`].
    ServerNamespaceDisconnect,
    /// The client sent DISCONNECT for the namespace.
    ClientNamespaceDisconnect,
    /// [`crate::SocketIo::close`].
    ServerShuttingDown,
    /// [`crate::Socket::disconnect_and_close`], a protocol violation by the client (duplicate CONNECT, packet
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
            // A reason added to the engine later: the transport went away.
            _ => Self::TransportClose,
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
#[non_exhaustive]
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

/// Why a cluster operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// Not every server answered in time.
    #[error("timeout reached: only {received} responses received out of {expected}")]
    Timeout {
        /// Answers that came.
        received: usize,
        /// Answers expected.
        expected: usize,
    },
    /// The transport between servers failed (connection lost, publish refused).
    #[error("cluster transport failed: {0}")]
    Transport(String),
}

/// Why an emission failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
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
    /// The adapter could not carry the emission to the other servers (this server's
    /// sockets got it).
    #[error(transparent)]
    Adapter(#[from] AdapterError),
}

/// Why an acknowledgement did not come.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// No answer within the timeout.
    #[error("operation has timed out")]
    Timeout,
    /// The socket disconnected first.
    #[error("socket has been disconnected")]
    Disconnected,
    /// The socket already has as many acknowledgements pending as
    /// [`Limits::max_pending_acks`](crate::Limits::max_pending_acks) allows.
    #[error("too many acknowledgements pending")]
    TooManyPending,
    /// The emission itself failed.
    #[error(transparent)]
    Emit(#[from] EmitError),
}

/// Why a broadcast with acknowledgements did not complete. The answers that came are
/// kept ([`BroadcastAckError::responses`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BroadcastAckError {
    /// The emission failed before anything was sent.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// Not every socket answered in time.
    #[error("operation has timed out")]
    Timeout {
        /// The first argument of each answer that came in time.
        responses: Vec<Value>,
    },
    /// The adapter failed, or not every server answered in time.
    #[error("{error}")]
    Adapter {
        /// What failed.
        error: AdapterError,
        /// The answers that came.
        responses: Vec<Value>,
    },
    /// Some sockets disconnected before answering.
    #[error("{missing} sockets disconnected before answering")]
    Incomplete {
        /// How many answers will never come.
        missing: usize,
        /// The first argument of each answer that came.
        responses: Vec<Value>,
    },
}

impl BroadcastAckError {
    /// The answers that came (none when the emission failed).
    pub fn responses(&self) -> &[Value] {
        match self {
            Self::Emit(_) => &[],
            Self::Timeout { responses }
            | Self::Incomplete { responses, .. }
            | Self::Adapter { responses, .. } => responses,
        }
    }
}

/// A dynamic namespace pattern that is not a valid regular expression
/// ([`SocketIo::of_regex`](crate::SocketIo::of_regex)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid namespace pattern: {0}")]
pub struct NamespacePatternError(pub(crate) String);
