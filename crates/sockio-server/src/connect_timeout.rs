//! The connect timeout: a connection that joins no namespace within `connect_timeout` is
//! closed. One task per server watches every new connection, instead of a timer task per
//! connection: all deadlines are "opened + the same timeout", so they come due in the
//! order the connections opened and a queue is all it takes.
//!
//! The queue holds session ids, looked up in the engine when they come due, not weak
//! handles of the sessions: a weak handle keeps the session's whole allocation (its
//! memory, not its resources) until the timeout, so under churn every connection closed
//! in the last `connect_timeout` (45 s by default) would still hold its ~750 bytes
//! (found by the churn test's heap check).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sockio_engine::{Sid, WeakEngine};
use tokio::time::Instant;

use crate::conn::Conn;
use crate::error::DisconnectReason;

#[derive(Default)]
struct Queue {
    due: VecDeque<(Instant, Sid)>,
    /// Whether the watching task runs (it ends when the queue is empty).
    watching: bool,
}

/// The connections still to be checked against the connect timeout.
pub(crate) struct ConnectDeadlines {
    timeout: Duration,
    queue: Mutex<Queue>,
    /// The engine whose sessions are watched (set once it is built; weak because the
    /// engine's handler holds this).
    engine: OnceLock<WeakEngine<Conn>>,
}

impl ConnectDeadlines {
    pub(crate) fn new(timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            timeout,
            queue: Mutex::default(),
            engine: OnceLock::new(),
        })
    }

    /// The engine whose sessions are watched.
    pub(crate) fn set_engine(&self, engine: WeakEngine<Conn>) {
        let _ = self.engine.set(engine);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the clock for a connection that just opened.
    pub(crate) fn watch(self: &Arc<Self>, conn: Sid) {
        let start = {
            let mut q = self.lock();
            q.due.push_back((Instant::now() + self.timeout, conn));
            !std::mem::replace(&mut q.watching, true)
        };
        if start {
            tokio::spawn(self.clone().run());
        }
    }

    async fn run(self: Arc<Self>) {
        loop {
            match self.next_due() {
                Due::Now(sid) => {
                    let engine = self.engine.get().and_then(WeakEngine::upgrade);
                    if let Some(conn) = engine.and_then(|e| e.socket(sid)) {
                        expire(&conn);
                    }
                }
                Due::At(at) => tokio::time::sleep_until(at).await,
                Due::Nothing => return,
            }
        }
    }

    /// The connection whose deadline passed, or when the next one is due. With nothing
    /// left, the watching task is marked stopped (under the same lock as `watch` checks it).
    fn next_due(&self) -> Due {
        let mut q = self.lock();
        if let Some((at, _)) = q.due.front() {
            if *at > Instant::now() {
                return Due::At(*at);
            }
        }
        match q.due.pop_front() {
            Some((_, conn)) => Due::Now(conn),
            None => {
                q.watching = false;
                // What a burst of connections grew is given back.
                q.due.shrink_to_fit();
                Due::Nothing
            }
        }
    }
}

enum Due {
    Now(Sid),
    At(Instant),
    Nothing,
}

/// Closes `conn` if it is still open and never joined a namespace (nor is joining one).
fn expire(conn: &sockio_engine::Socket<Conn>) {
    let data = conn.data();
    if !conn.is_closed() && !data.joined.load(Ordering::Acquire) && data.is_idle() {
        tracing::debug!(sid = %conn.sid(), "no namespace joined in time: closing");
        data.close_with(conn, DisconnectReason::ForcedServerClose);
    }
}
