//! [`Engine`]: an Engine.IO server — its configuration, its sessions and the application's
//! [`Handler`].

use std::sync::Arc;

use crate::config::EngineConfig;
use crate::error::CloseReason;
use crate::proto::FinalPacket;
use crate::session::{Handler, Shared, Socket};
use crate::sid::Sid;
use crate::stats::EngineStats;

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

/// A handle to an [`Engine`] that does not keep it alive ([`Engine::downgrade`]): for
/// what the engine's own handler keeps, which a strong handle would turn into a cycle.
pub struct WeakEngine<D = ()> {
    shared: std::sync::Weak<Shared<D>>,
}

impl<D> Clone for WeakEngine<D> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<D> WeakEngine<D> {
    /// The engine, unless every [`Engine`] handle is gone.
    pub fn upgrade(&self) -> Option<Engine<D>> {
        self.shared.upgrade().map(|shared| Engine { shared })
    }
}

impl<D: Default + Send + Sync + 'static> Engine<D> {
    /// A handle that does not keep the engine alive.
    pub fn downgrade(&self) -> WeakEngine<D> {
        WeakEngine {
            shared: Arc::downgrade(&self.shared),
        }
    }

    /// A server with `config`, handing sessions to `handler`.
    pub fn new(config: EngineConfig, handler: impl Handler<D>) -> Self {
        Self {
            shared: Arc::new(Shared::new(config, Arc::new(handler))),
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

    /// The engine's traffic counters: packets and bytes each way, refused requests by
    /// error code.
    pub fn stats(&self) -> &EngineStats {
        &self.shared.stats
    }

    /// Closes every session with `reason`.
    pub fn close_all(&self, reason: CloseReason) {
        for s in self.shared.sessions.all() {
            s.close(reason, FinalPacket::Close);
        }
    }

    /// Shuts the engine down: [`Engine::serve`] / [`Engine::serve_with`] stop accepting
    /// and return, every session closes with `reason` (clients are told), HTTP
    /// connections close once their request in flight is answered, and every task the
    /// engine runs is awaited for at most `grace`. True when they all ended in time.
    pub async fn shutdown(&self, reason: CloseReason, grace: std::time::Duration) -> bool {
        self.shared.tasks.stop();
        self.close_all(reason);
        tokio::time::timeout(grace, self.shared.tasks.idle())
            .await
            .is_ok()
    }

    /// How many tasks the engine runs now: connections it serves and sessions.
    pub fn task_count(&self) -> usize {
        self.shared.tasks.running()
    }
}
