//! The connect timeout: a connection that joins no namespace within `connect_timeout` is
//! closed. One task per server watches every new connection, instead of a timer task per
//! connection: all deadlines are "opened + the same timeout", so they come due in the
//! order the connections opened and a queue is all it takes.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sockio_engine::WeakSocket;
use tokio::time::Instant;

use crate::conn::Conn;
use crate::error::DisconnectReason;

#[derive(Default)]
struct Queue {
    due: VecDeque<(Instant, WeakSocket<Conn>)>,
    /// Whether the watching task runs (it ends when the queue is empty).
    watching: bool,
}

/// The connections still to be checked against the connect timeout.
pub(crate) struct ConnectDeadlines {
    timeout: Duration,
    queue: Mutex<Queue>,
}

impl ConnectDeadlines {
    pub(crate) fn new(timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            timeout,
            queue: Mutex::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the clock for a connection that just opened.
    pub(crate) fn watch(self: &Arc<Self>, conn: WeakSocket<Conn>) {
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
                Due::Now(conn) => expire(&conn),
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
                Due::Nothing
            }
        }
    }
}

enum Due {
    Now(WeakSocket<Conn>),
    At(Instant),
    Nothing,
}

/// Closes `conn` if it is still open and never joined a namespace (nor is joining one).
fn expire(conn: &WeakSocket<Conn>) {
    let Some(conn) = conn.upgrade() else {
        return;
    };
    let data = conn.data();
    if !conn.is_closed() && !data.joined.load(Ordering::Acquire) && data.is_idle() {
        tracing::debug!(sid = %conn.sid(), "no namespace joined in time: closing");
        data.close_with(&conn, DisconnectReason::ForcedServerClose);
    }
}
