//! Waiting for every measured message to be delivered, shared by the scenarios that
//! count deliveries (fanout and its variants, polling-broadcast).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crate::now_ns;

/// How the wait ended.
pub struct Progress {
    /// The time limit passed first.
    pub timed_out: bool,
    /// No delivery arrived for the stall limit.
    pub stalled: bool,
    /// When the last delivery was seen (ns since the epoch).
    pub last_progress_ns: u64,
}

impl Progress {
    /// Every message reached every member.
    pub fn complete(&self) -> bool {
        !(self.timed_out || self.stalled)
    }
}

/// Waits, looking every `tick`, until `completed` reaches `total` messages; stalled when
/// `received` (deliveries) has not moved for `stall`, timed out after `limit`. Prints a
/// progress line every 2 s.
pub async fn wait_for_deliveries(
    completed: &AtomicUsize,
    received: &AtomicU64,
    total: usize,
    tick: Duration,
    stall: Duration,
    limit: Duration,
) -> Progress {
    let start = tokio::time::Instant::now();
    let (mut last_received, mut last_progress, mut last_report) = (0, start, start);
    let mut progress = Progress {
        timed_out: false,
        stalled: false,
        last_progress_ns: now_ns(),
    };
    loop {
        tokio::time::sleep(tick).await;
        if completed.load(Ordering::Acquire) >= total {
            return progress;
        }
        let now = tokio::time::Instant::now();
        let delivered = received.load(Ordering::Relaxed);
        if delivered != last_received {
            (last_received, last_progress) = (delivered, now);
            progress.last_progress_ns = now_ns();
        } else if now - last_progress >= stall {
            progress.stalled = true;
            return progress;
        }
        if now - start >= limit {
            progress.timed_out = true;
            return progress;
        }
        if now - last_report >= Duration::from_secs(2) {
            eprintln!(
                "loadgen: {} of {total} messages complete, {delivered} deliveries",
                completed.load(Ordering::Relaxed)
            );
            last_report = now;
        }
    }
}
