//! [`Signal`]: a wake-up flag for one waiting task at a time.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use futures_util::task::AtomicWaker;

/// Tells the one task that drains a session's queue (a pending polling GET, or the
/// WebSocket task) that there is something to look at. Raising it is an atomic store and
/// a wake-up — no lock — which matters on the broadcast path, where it happens once per
/// recipient. Raises while nobody waits are remembered until the next wait.
#[derive(Default)]
pub(crate) struct Signal {
    raised: AtomicBool,
    waker: AtomicWaker,
}

impl Signal {
    /// Wakes the waiting task, or the next one to wait.
    pub(crate) fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Drops the registered waiter: the waiting task is about to look at the state itself,
    /// so raises made while it works (by itself, say) need not wake it again.
    pub(crate) fn unregister(&self) {
        drop(self.waker.take());
    }

    /// Forgets a raise that came before the caller looked at the state it announces.
    pub(crate) fn clear(&self) {
        self.raised.store(false, Ordering::Release);
    }

    /// Waits until the signal is raised (at once if it was raised since the last wait).
    pub(crate) async fn wait(&self) {
        poll_fn(|cx| {
            if self.raised.swap(false, Ordering::AcqRel) {
                return Poll::Ready(());
            }
            self.waker.register(cx.waker());
            if self.raised.swap(false, Ordering::AcqRel) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    // Paused clock: the timeouts below cost no real time.
    #[tokio::test(start_paused = true)]
    async fn a_raise_before_the_wait_is_kept() {
        let s = Signal::default();
        s.raise();
        tokio::time::timeout(Duration::from_millis(100), s.wait())
            .await
            .expect("remembered");
    }

    #[tokio::test(start_paused = true)]
    async fn a_raise_wakes_the_waiter() {
        let s = Arc::new(Signal::default());
        let waiter = tokio::spawn({
            let s = s.clone();
            async move { s.wait().await }
        });
        tokio::task::yield_now().await;
        s.raise();
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woken")
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn clear_forgets_an_old_raise() {
        let s = Signal::default();
        s.raise();
        s.clear();
        assert!(tokio::time::timeout(Duration::from_millis(20), s.wait())
            .await
            .is_err());
    }
}
