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
    /// Most binary attachments a packet may announce (default 10).
    pub max_attachments: usize,
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
            .field("max_attachments", &self.max_attachments)
            .field("parser", &self.parser)
            .finish_non_exhaustive()
    }
}
