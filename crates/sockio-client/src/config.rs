//! The settings a [`ClientBuilder`](crate::ClientBuilder) gathers: of a manager
//! ([`ManagerConfig`]) and of its sockets ([`SocketOptions`], [`Auth`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use sockio_protocol::socket::Value;

use crate::engine::EngineOptions;
use crate::transport::Endpoint;

/// An async auth callback: run on every (re)connection of a namespace.
pub type AuthCallback = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Value> + Send>> + Send + Sync>;

/// The CONNECT payload a socket sends.
#[derive(Clone, Default)]
pub enum Auth {
    /// No payload.
    #[default]
    None,
    /// The same object every time.
    Static(Value),
    /// Computed on every (re)connection.
    Callback(AuthCallback),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Static(v) => f.debug_tuple("Static").field(v).finish(),
            Auth::Callback(_) => f.write_str("Callback(..)"),
        }
    }
}

/// Settings of a manager (see [`ClientBuilder`](crate::ClientBuilder)).
#[derive(Clone)]
pub(crate) struct ManagerConfig {
    /// The server, path and query (shared by the manager's sessions).
    pub endpoint: Endpoint,
    pub engine: EngineOptions,
    pub reconnection: bool,
    pub reconnection_attempts: u32,
    pub reconnection_delay: Duration,
    pub reconnection_delay_max: Duration,
    pub randomization_factor: f64,
    pub timeout: Duration,
    pub socket_defaults: SocketOptions,
}

/// Per-socket options: auth, at-least-once delivery.
#[derive(Debug, Clone, Default)]
pub struct SocketOptions {
    /// The CONNECT payload.
    pub auth: Auth,
    /// How many times an emit is sent again when its acknowledgement does not come
    /// within [`ack_timeout`](Self::ack_timeout) (0: no retries, emits are sent once).
    pub retries: u32,
    /// The default acknowledgement timeout (`None`: wait forever, unless the emit says).
    pub ack_timeout: Option<Duration>,
}
