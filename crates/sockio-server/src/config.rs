//! The settings of a Socket.IO server: [`SocketIoConfig`] and the packet format
//! ([`Parser`]).

use std::time::Duration;

use sockio_engine::EngineConfig;

/// The packet format of a server (socket.io's `parser` option). Both sides must use the
/// same one; it is not negotiated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Parser {
    /// socket.io-parser: JSON text plus binary attachments (the default).
    #[default]
    Default,
    /// socket.io-msgpack-parser: each packet one msgpack-encoded binary message
    /// (feature `msgpack`, on by default).
    #[cfg(feature = "msgpack")]
    MsgPack,
}

impl Parser {
    /// Whether this is the msgpack format.
    pub(crate) fn is_msgpack(self) -> bool {
        match self {
            Parser::Default => false,
            #[cfg(feature = "msgpack")]
            Parser::MsgPack => true,
        }
    }
}

/// Settings of the Socket.IO layer (the Engine.IO ones are in [`EngineConfig`]). Built
/// with [`SocketIo::builder`](crate::SocketIo::builder); read with
/// [`SocketIo::config`](crate::SocketIo::config).
#[derive(Clone)]
#[non_exhaustive]
pub struct SocketIoConfig {
    /// The Engine.IO settings (path `/socket.io/` by default).
    pub engine: EngineConfig,
    /// How long a connection may stay without joining a namespace (default 45 s).
    pub connect_timeout: Duration,
    /// What one client may ask of the server.
    pub limits: Limits,
    /// How long [`SocketIo::close`](crate::SocketIo::close) waits for connections and
    /// sessions to end (default 2 s).
    pub close_grace: Duration,
    /// Remove a dynamic namespace's child when its last socket leaves (default false).
    pub cleanup_empty_child_namespaces: bool,
    /// The packet format (default: socket.io-parser).
    pub parser: Parser,
}

impl std::fmt::Debug for SocketIoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketIoConfig")
            .field("engine", &self.engine)
            .field("connect_timeout", &self.connect_timeout)
            .field("limits", &self.limits)
            .field("close_grace", &self.close_grace)
            .field("parser", &self.parser)
            .finish_non_exhaustive()
    }
}

/// What one client may ask of the server; past a limit it gets the protocol's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Most binary attachments a packet may announce (socket.io's `maxAttachments`,
    /// default 10); more closes the connection as an invalid packet.
    pub max_attachments: usize,
    /// Deepest JSON nesting of a packet (default 128); deeper closes the connection as an
    /// invalid packet.
    pub max_depth: usize,
    /// Longest event name, in bytes (default 1024); longer closes the connection as an
    /// invalid packet.
    pub max_event_name_len: usize,
    /// Most namespaces one connection may join at once (default 100); a CONNECT past it
    /// gets CONNECT_ERROR.
    pub max_namespaces_per_connection: usize,
    /// Most acknowledgements the server may wait for from one socket at once (default
    /// 1024); an emit with acknowledgement past it fails at once
    /// ([`AckError::TooManyPending`](crate::AckError::TooManyPending)). Acknowledgements
    /// that time out or whose socket disconnects are freed.
    pub max_pending_acks: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_attachments: sockio_protocol::socket::DEFAULT_MAX_ATTACHMENTS,
            max_depth: sockio_protocol::socket::DEFAULT_MAX_DEPTH,
            max_event_name_len: 1024,
            max_namespaces_per_connection: 100,
            max_pending_acks: 1024,
        }
    }
}
