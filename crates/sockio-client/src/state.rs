//! The state the handles and the connection's task share: of a manager ([`Shared`],
//! kept alive by [`ManagerInner`]) and of each of its sockets ([`SocketInner`]). A
//! socket holds its manager and the manager holds its sockets weakly, so both live here.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use sockio_protocol::socket::{Packet, Value};
use tokio::sync::oneshot;

use crate::command::Cmd;
use crate::config::{ManagerConfig, SocketOptions};
use crate::error::Error;
use crate::event::Event;
use crate::handlers::{Dispatch, Dispatcher, SharedHandlers};
use crate::queue;
use crate::small_map::NspMap;

/// Locks `m`, poisoned or not (a panicking handler runs on another thread, but the
/// state stays consistent under every lock).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a manager's handles and its connection's task share.
pub(crate) struct Shared {
    pub config: ManagerConfig,
    pub cmd: queue::Sender<Cmd>,
    pub dispatch: Dispatcher,
    pub handlers: SharedHandlers,
    /// The sockets, held weakly: a socket nobody holds leaves its namespace.
    pub sockets: Mutex<NspMap<Weak<SocketInner>>>,
    pub closed: AtomicBool,
    pub cache_key: String,
}

impl Shared {
    /// A manager event to its handlers.
    pub(crate) fn emit_local(&self, name: &str, args: Vec<Value>) {
        self.dispatch.send(Dispatch {
            handlers: self.handlers.clone(),
            event: Event::new(name, args, None),
            with_any: false,
        });
    }

    /// Whether a socket of namespace `nsp` (normalized) is held somewhere.
    pub(crate) fn has_socket(&self, nsp: &str) -> bool {
        lock(&self.sockets)
            .get(nsp)
            .is_some_and(|w| w.strong_count() > 0)
    }
}

/// The handles' side of a manager: when the last handle (a
/// [`Manager`](crate::Manager) or a [`Socket`](crate::Socket)) goes, the connection
/// closes.
pub(crate) struct ManagerInner {
    shared: Arc<Shared>,
}

impl ManagerInner {
    pub(crate) fn new(shared: Arc<Shared>) -> ManagerInner {
        ManagerInner { shared }
    }
}

impl std::ops::Deref for ManagerInner {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

impl Drop for ManagerInner {
    fn drop(&mut self) {
        let _ = self.shared.cmd.send(Cmd::Close);
    }
}

/// An acknowledgement's outcome: the server's arguments, or why none came.
pub(crate) type AckResult = Result<Vec<Value>, Error>;

/// Where a socket stands; changed under one short lock.
#[derive(Default)]
pub(crate) struct SocketState {
    pub connected: bool,
    pub active: bool,
    pub ever_connected: bool,
    pub id: Option<String>,
    pub buffer: VecDeque<Packet>,
    pub next_ack: u64,
    pub acks: HashMap<u64, oneshot::Sender<AckResult>>,
    pub waiters: Vec<oneshot::Sender<Result<(), Error>>>,
}

/// One socket, behind all its [`Socket`](crate::Socket) handles.
pub(crate) struct SocketInner {
    pub nsp: String,
    /// Its manager, kept alive by the socket.
    pub manager: Arc<ManagerInner>,
    pub handlers: SharedHandlers,
    pub state: Mutex<SocketState>,
    pub opts: SocketOptions,
    /// Emits with retries go one at a time, in order.
    pub reliable: tokio::sync::Mutex<()>,
}

impl Drop for SocketInner {
    fn drop(&mut self) {
        let _ = self.manager.cmd.send(Cmd::Dropped {
            nsp: self.nsp.clone(),
        });
    }
}
