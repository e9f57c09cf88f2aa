//! [`Manager`]: the handle of one connection, which makes the sockets of its namespaces
//! ([`Manager::socket`]; [`Socket::io`] leads back) and starts the connection's task.

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, Weak};

use crate::command::Cmd;
use crate::config::{ManagerConfig, SocketOptions};
use crate::connection;
use crate::event::Event;
use crate::handlers::{Dispatcher, HandlerId};
use crate::queue;
use crate::socket::Socket;
use crate::state::{lock, ManagerInner, Shared};

/// One connection to a server (`io.Manager` in socket.io-client): an Engine.IO session
/// that carries the sockets of several namespaces, and reconnects it.
///
/// Get one with [`ClientBuilder::manager`](crate::ClientBuilder::manager), or from a
/// socket with [`Socket::io`].
///
/// ```no_run
/// # async fn f() -> Result<(), sockio_client::Error> {
/// let manager = sockio_client::ClientBuilder::new("http://localhost:3000").manager()?;
/// manager.on("reconnect_attempt", |ev| println!("attempt {:?}", ev.args));
/// let chat = manager.socket("/chat");
/// let admin = manager.socket("/admin");
/// chat.connect();
/// admin.connect();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Manager {
    pub(crate) inner: Arc<ManagerInner>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("key", &self.inner.cache_key)
            .finish()
    }
}

impl Manager {
    /// A manager for `config`, its connection's task started (the connection opens when
    /// a socket connects). Needs a tokio runtime.
    pub(crate) fn start(config: ManagerConfig, cache_key: String) -> Manager {
        let (cmd, rx) = queue::queue();
        let dispatch = Dispatcher::new(tokio::runtime::Handle::current());
        let shared = Arc::new(Shared {
            config,
            cmd,
            dispatch,
            handlers: Arc::default(),
            sockets: Mutex::default(),
            closed: AtomicBool::new(false),
            cache_key,
        });
        let inner = Arc::new(ManagerInner::new(shared.clone()));
        connection::spawn(shared, rx);
        Manager { inner }
    }

    /// The socket of namespace `nsp` on this connection (created, not yet connected,
    /// the first time; the same one afterwards, while a handle to it exists). Call
    /// [`Socket::connect`]. When its last handle is dropped, it leaves the namespace;
    /// when the last handle of the manager and its sockets is dropped, the connection
    /// closes.
    pub fn socket(&self, nsp: &str) -> Socket {
        self.socket_with(nsp, self.inner.config.socket_defaults.clone())
    }

    /// [`socket`](Self::socket) with its own options (auth, retries) when it is created.
    pub fn socket_with(&self, nsp: &str, opts: SocketOptions) -> Socket {
        let nsp = normalize_nsp(nsp);
        let mut sockets = lock(&self.inner.sockets);
        if let Some(s) = sockets.get(&nsp).and_then(Weak::upgrade) {
            return Socket::from_inner(s);
        }
        let socket = Socket::new(nsp.clone(), self.inner.clone(), opts);
        sockets.insert(nsp, Arc::downgrade(&socket.inner));
        socket
    }

    /// Adds a handler of a manager event: `reconnecting` (alias `reconnect_attempt`),
    /// `reconnect`, `reconnect_error`, `reconnect_failed`, `ping`, `error`, `open`,
    /// `close`.
    pub fn on(&self, event: &str, handler: impl Fn(Event) + Send + Sync + 'static) -> HandlerId {
        lock(&self.inner.handlers).on_sync(Some(event), handler, false)
    }

    /// Adds an async handler of a manager event.
    pub fn on_async<F, Fut>(&self, event: &str, handler: F) -> HandlerId
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        lock(&self.inner.handlers).on_async(Some(event), handler, false)
    }

    /// Adds a handler of the next `event` only.
    pub fn once(&self, event: &str, handler: impl Fn(Event) + Send + Sync + 'static) -> HandlerId {
        lock(&self.inner.handlers).on_sync(Some(event), handler, true)
    }

    /// Removes one handler.
    pub fn off_handler(&self, id: HandlerId) {
        lock(&self.inner.handlers).off_id(id);
    }

    /// Removes every handler of `event`.
    pub fn off(&self, event: &str) {
        lock(&self.inner.handlers).off(event);
    }

    /// Closes the connection: every socket disconnects (`io client disconnect`) and
    /// nothing reconnects.
    pub fn close(&self) {
        let _ = self.inner.cmd.send(Cmd::Close);
    }
}

impl Socket {
    /// The manager whose connection carries this socket.
    pub fn io(&self) -> Manager {
        Manager {
            inner: self.inner.manager.clone(),
        }
    }
}

/// A namespace (or path) with its leading `/`: `""` is `/`, `admin` is `/admin`.
pub(crate) fn normalize_nsp(nsp: &str) -> String {
    if nsp.is_empty() {
        "/".to_owned()
    } else if nsp.starts_with('/') {
        nsp.to_owned()
    } else {
        format!("/{nsp}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_normalized() {
        assert_eq!(normalize_nsp(""), "/");
        assert_eq!(normalize_nsp("admin"), "/admin");
        assert_eq!(normalize_nsp("/chat"), "/chat");
    }
}
