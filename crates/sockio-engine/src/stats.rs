//! [`EngineStats`]: counters of an engine's traffic, for metrics. Each is a relaxed
//! atomic bumped on the way (no lock, no allocation); read them at any time.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What an [`Engine`](crate::Engine) has carried since it started: packets and their
/// bytes each way, and refused requests by Engine.IO error code. Read with
/// [`Engine::stats`](crate::Engine::stats).
///
/// Packets are Engine.IO `message` packets, the application's data: a Socket.IO event
/// with two binary attachments is three. The protocol's own packets (open, heartbeats,
/// upgrade, noop, close) are not counted. Bytes are the packets' encoded lengths (a text
/// packet's type digit and data, a binary packet's data), whatever the transport's
/// framing adds.
#[derive(Debug, Default)]
pub struct EngineStats {
    packets_in: AtomicU64,
    bytes_in: AtomicU64,
    packets_out: AtomicU64,
    bytes_out: AtomicU64,
    request_errors: [AtomicU64; 6],
}

impl EngineStats {
    /// Message packets received from clients.
    pub fn packets_in(&self) -> u64 {
        self.packets_in.load(Relaxed)
    }

    /// Bytes of the message packets received from clients.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in.load(Relaxed)
    }

    /// Message packets queued for clients (a broadcast counts once per recipient).
    pub fn packets_out(&self) -> u64 {
        self.packets_out.load(Relaxed)
    }

    /// Bytes of the message packets queued for clients.
    pub fn bytes_out(&self) -> u64 {
        self.bytes_out.load(Relaxed)
    }

    /// Requests refused with Engine.IO error `code` (0 to 5, see
    /// [`RequestError::code`](crate::RequestError::code)); 0 for other codes.
    pub fn request_errors(&self, code: u8) -> u64 {
        self.request_errors
            .get(usize::from(code))
            .map_or(0, |c| c.load(Relaxed))
    }

    pub(crate) fn received(&self, bytes: usize) {
        self.packets_in.fetch_add(1, Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Relaxed);
    }

    pub(crate) fn sent(&self, packets: u64, bytes: u64) {
        self.packets_out.fetch_add(packets, Relaxed);
        self.bytes_out.fetch_add(bytes, Relaxed);
    }

    pub(crate) fn refused(&self, code: u8) {
        if let Some(c) = self.request_errors.get(usize::from(code)) {
            c.fetch_add(1, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up() {
        let s = EngineStats::default();
        s.received(10);
        s.received(5);
        s.sent(3, 30);
        s.refused(1);
        s.refused(1);
        s.refused(5);
        s.refused(200); // no such code: ignored
        assert_eq!((s.packets_in(), s.bytes_in()), (2, 15));
        assert_eq!((s.packets_out(), s.bytes_out()), (3, 30));
        assert_eq!(
            (0..=5).map(|c| s.request_errors(c)).collect::<Vec<_>>(),
            [0, 2, 0, 0, 0, 1]
        );
        assert_eq!(s.request_errors(200), 0);
    }
}
