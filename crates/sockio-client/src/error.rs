//! The client's errors.

use sockio_protocol::socket::Value;

use crate::engine::{CloseReason, TransportError};

/// Everything that can go wrong with a client.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL is not `http[s]://` or `ws[s]://host[:port][/namespace]`.
    #[error("invalid URL {0}")]
    InvalidUrl(String),
    /// An extra header whose name or value HTTP does not allow.
    #[error("invalid header: {0}")]
    InvalidHeader(String),
    /// The TLS configuration could not be built.
    #[error("TLS configuration: {0}")]
    TlsConfig(String),
    /// A transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The Engine.IO session ended.
    #[error("connection closed: {0}")]
    Closed(CloseReason),
    /// The server refused the namespace connection (its `connect_error`).
    #[error("connection refused by the server: {message}")]
    ConnectRefused {
        /// The error's `message`.
        message: String,
        /// The error's `data`, when the server set one.
        data: Option<Value>,
    },
    /// Reconnection gave up before the socket ever connected (`connect_failed`).
    #[error("gave up connecting")]
    ConnectFailed,
    /// An acknowledgement (or a connection) did not come in time.
    #[error("timed out")]
    Timeout,
    /// The socket disconnected while waiting.
    #[error("the socket has been disconnected")]
    Disconnected,
    /// The client was closed.
    #[error("the client is closed")]
    ClientClosed,
    /// An argument could not be serialized.
    #[error("cannot serialize an argument: {0}")]
    Serialize(String),
    /// An argument could not be read as the type asked for.
    #[error("cannot deserialize an argument: {0}")]
    Deserialize(String),
    /// The event name is reserved by Socket.IO (`connect`, `disconnect`, ...).
    #[error("reserved event name {0:?}")]
    ReservedEvent(String),
}
