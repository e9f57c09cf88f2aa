//! [`Engine`]: an Engine.IO server — its configuration, its sessions and the application's
//! [`Handler`].

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use sockio_protocol::engine::Message;

use crate::config::EngineConfig;
use crate::error::CloseReason;
use crate::session::{FinalPacket, Session, Socket};
use crate::sid::Sid;

/// What the application does with sessions. Callbacks run on the connection's task and
/// must not block; hand long work to a task of your own.
///
/// ```
/// use sockio_engine::{Handler, Socket, Message, CloseReason};
///
/// struct Echo;
/// impl Handler<()> for Echo {
///     fn on_message(&self, socket: &Socket<()>, message: Message) {
///         let _ = socket.send(message);
///     }
/// }
/// ```
pub trait Handler<D>: Send + Sync + 'static {
    /// A session opened. Packets sent from here follow the `open` packet.
    fn on_open(&self, socket: &Socket<D>) {
        let _ = socket;
    }
    /// A message arrived.
    fn on_message(&self, socket: &Socket<D>, message: Message);
    /// The session closed; called once.
    fn on_close(&self, socket: &Socket<D>, reason: CloseReason) {
        let _ = (socket, reason);
    }
}

const SHARDS: usize = 32;

/// Live sessions by id, split in shards so lookups of different sessions rarely contend.
pub(crate) struct Sessions<D> {
    shards: Vec<Mutex<HashMap<Sid, Arc<Session<D>>>>>,
    hasher: std::collections::hash_map::RandomState,
}

impl<D> Sessions<D> {
    fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
        }
    }

    fn shard(&self, sid: &Sid) -> std::sync::MutexGuard<'_, HashMap<Sid, Arc<Session<D>>>> {
        let i = (self.hasher.hash_one(sid) as usize) % SHARDS;
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn get(&self, sid: &Sid) -> Option<Arc<Session<D>>> {
        self.shard(sid).get(sid).cloned()
    }

    pub(crate) fn insert(&self, session: Arc<Session<D>>) {
        self.shard(&session.sid).insert(session.sid, session);
    }

    pub(crate) fn remove(&self, sid: &Sid) {
        self.shard(sid).remove(sid);
    }

    pub(crate) fn all(&self) -> Vec<Arc<Session<D>>> {
        self.shards
            .iter()
            .flat_map(|s| {
                s.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

pub(crate) struct Shared<D> {
    /// Sessions closed because their outgoing queue passed its bound.
    pub(crate) slow_client_closes: std::sync::atomic::AtomicU64,
    pub(crate) config: EngineConfig,
    pub(crate) handler: Arc<dyn Handler<D>>,
    pub(crate) sessions: Sessions<D>,
}

/// An Engine.IO server. Cheap to clone; every clone is the same server.
///
/// Turn it into a tower service with [`Engine::service`] (or wrap another service with
/// [`Engine::layer`]), or serve it on a listener with [`crate::serve`].
pub struct Engine<D = ()> {
    pub(crate) shared: Arc<Shared<D>>,
}

impl<D> Clone for Engine<D> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<D: Default + Send + Sync + 'static> Engine<D> {
    /// A server with `config`, handing sessions to `handler`.
    pub fn new(config: EngineConfig, handler: impl Handler<D>) -> Self {
        Self {
            shared: Arc::new(Shared {
                slow_client_closes: Default::default(),
                config,
                handler: Arc::new(handler),
                sessions: Sessions::new(),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// The session `sid`, if it is open.
    pub fn socket(&self, sid: Sid) -> Option<Socket<D>> {
        self.shared.sessions.get(&sid).map(Socket)
    }

    /// Every open session.
    pub fn sockets(&self) -> Vec<Socket<D>> {
        self.shared
            .sessions
            .all()
            .into_iter()
            .filter(|s| !s.is_closed())
            .map(Socket)
            .collect()
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.sockets().len()
    }

    /// How many sessions were closed as slow clients (their outgoing queue passed
    /// `max_buffered_bytes`) since the engine started.
    pub fn slow_client_closes(&self) -> u64 {
        self.shared
            .slow_client_closes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Closes every session with `reason`.
    pub fn close_all(&self, reason: CloseReason) {
        for s in self.shared.sessions.all() {
            s.close(reason, FinalPacket::Close);
        }
    }
}
