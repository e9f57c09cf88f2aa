//! A small unbounded queue with one receiver: what the connection's task takes its
//! commands (and the polling requests' outcomes) from.
//!
//! tokio's unbounded channel allocates its first block of 32 slots and a ~0.5 KiB channel
//! state up front, per channel: 3.6 KiB for the commands of every manager, most of them
//! never used at once. This queue is a lock-protected `VecDeque` (nothing allocated until
//! something is queued, and freed again once the receiver has taken everything) and the
//! receiver's waker.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

struct State<T> {
    items: VecDeque<T>,
    senders: usize,
    receiver: bool,
    waker: Option<Waker>,
}

struct Inner<T> {
    state: Mutex<State<T>>,
}

impl<T> Inner<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Nothing panics under this lock; a poisoned one is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sending side; clones share the queue.
pub(crate) struct Sender<T> {
    inner: Arc<Inner<T>>,
}

/// The receiving side.
pub(crate) struct Receiver<T> {
    inner: Arc<Inner<T>>,
}

/// A new queue.
pub(crate) fn queue<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: Mutex::new(State {
            items: VecDeque::new(),
            senders: 1,
            receiver: true,
            waker: None,
        }),
    });
    (
        Sender {
            inner: inner.clone(),
        },
        Receiver { inner },
    )
}

impl<T> Sender<T> {
    /// Queues `item`; gives it back when the receiver is gone.
    pub fn send(&self, item: T) -> Result<(), T> {
        let waker = {
            let mut st = self.inner.lock();
            if !st.receiver {
                return Err(item);
            }
            st.items.push_back(item);
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sender")
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.inner.lock().senders += 1;
        Sender {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut st = self.inner.lock();
            st.senders -= 1;
            if st.senders > 0 {
                return;
            }
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// The next item; `None` once every sender is gone and the queue is empty.
    /// Cancel-safe: an item is taken only when it is returned.
    #[cfg(test)]
    pub async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// [`recv`](Self::recv) as a poll: `Pending` registers `cx`'s waker.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        {
            let mut st = self.inner.lock();
            if let Some(item) = st.items.pop_front() {
                if st.items.is_empty() {
                    // Idle queues hold no buffer.
                    st.items = VecDeque::new();
                }
                return Poll::Ready(Some(item));
            }
            if st.senders == 0 {
                return Poll::Ready(None);
            }
            match &mut st.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
            Poll::Pending
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let items = {
            let mut st = self.inner.lock();
            st.receiver = false;
            st.waker = None;
            std::mem::take(&mut st.items)
        };
        // Dropped outside the lock: an item's drop may send on this queue.
        drop(items);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_order_then_none_when_senders_are_gone() {
        let (tx, mut rx) = queue();
        let tx2 = tx.clone();
        tx.send(1).unwrap();
        tx2.send(2).unwrap();
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        drop(tx);
        tx2.send(3).unwrap();
        drop(tx2);
        assert_eq!(rx.recv().await, Some(3));
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn wakes_a_waiting_receiver() {
        let (tx, mut rx) = queue();
        let waiter = tokio::spawn(async move { rx.recv().await });
        tokio::task::yield_now().await;
        tx.send("x").unwrap();
        assert_eq!(waiter.await.unwrap(), Some("x"));
    }

    #[tokio::test]
    async fn send_fails_without_receiver() {
        let (tx, rx) = queue();
        drop(rx);
        assert_eq!(tx.send(5), Err(5));
    }

    #[tokio::test]
    async fn drained_queue_frees_its_buffer() {
        let (tx, mut rx) = queue();
        for i in 0..10 {
            tx.send(i).unwrap();
        }
        for _ in 0..10 {
            rx.recv().await;
        }
        assert_eq!(rx.inner.lock().items.capacity(), 0);
    }
}
