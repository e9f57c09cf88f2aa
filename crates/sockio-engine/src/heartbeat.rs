//! The heartbeat as a pure state machine: deadlines in, actions out, no timers.

use std::time::Duration;

use sockio_protocol::engine::ProtocolVersion;
use tokio::time::Instant;

/// What the session must do when the heartbeat's deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeartbeatAction {
    /// Nothing yet (the deadline moved).
    Wait,
    /// v4: send a `ping` packet now.
    SendPing,
    /// The peer missed its heartbeat: close with `ping timeout`.
    TimedOut,
}

/// Heartbeat bookkeeping.
///
/// * v4: the server pings every `interval`; the client must pong within `timeout`.
/// * v3: the client pings; the server closes when no ping came for `interval + timeout`.
#[derive(Debug)]
pub(crate) struct Heartbeat {
    version: ProtocolVersion,
    interval: Duration,
    timeout: Duration,
    /// v4: when to send the next ping (None while waiting for a pong).
    next_ping: Option<Instant>,
    /// v4: when the awaited pong is overdue. v3: when the awaited ping is overdue.
    deadline: Option<Instant>,
}

impl Heartbeat {
    pub(crate) fn new(
        version: ProtocolVersion,
        interval: Duration,
        timeout: Duration,
        now: Instant,
    ) -> Self {
        match version {
            ProtocolVersion::V4 => Self {
                version,
                interval,
                timeout,
                next_ping: Some(now + interval),
                deadline: None,
            },
            ProtocolVersion::V3 => Self {
                version,
                interval,
                timeout,
                next_ping: None,
                deadline: Some(now + interval + timeout),
            },
        }
    }

    /// The next instant at which [`Heartbeat::poll`] has something to do.
    pub(crate) fn next_deadline(&self) -> Instant {
        match (self.next_ping, self.deadline) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            // Unreachable by construction; a far deadline is harmless.
            (None, None) => Instant::now() + self.interval,
        }
    }

    /// Advances to `now`.
    pub(crate) fn poll(&mut self, now: Instant) -> HeartbeatAction {
        if self.deadline.is_some_and(|d| now >= d) {
            return HeartbeatAction::TimedOut;
        }
        if self.next_ping.is_some_and(|p| now >= p) {
            self.next_ping = None;
            self.deadline = Some(now + self.timeout);
            return HeartbeatAction::SendPing;
        }
        HeartbeatAction::Wait
    }

    /// v4: a pong arrived. An unexpected pong (none awaited) is ignored.
    pub(crate) fn on_pong(&mut self, now: Instant) {
        if self.version == ProtocolVersion::V4 && self.deadline.is_some() {
            self.deadline = None;
            self.next_ping = Some(now + self.interval);
        }
    }

    /// v3: a ping arrived from the client.
    pub(crate) fn on_client_ping(&mut self, now: Instant) {
        if self.version == ProtocolVersion::V3 {
            self.deadline = Some(now + self.interval + self.timeout);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const I: Duration = Duration::from_millis(300);
    const T: Duration = Duration::from_millis(200);

    #[test]
    fn v4_ping_pong_cycle() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(ProtocolVersion::V4, I, T, t0);
        assert_eq!(hb.next_deadline(), t0 + I);
        assert_eq!(hb.poll(t0 + I / 2), HeartbeatAction::Wait);
        assert_eq!(hb.poll(t0 + I), HeartbeatAction::SendPing);
        assert_eq!(hb.next_deadline(), t0 + I + T);
        hb.on_pong(t0 + I + T / 2);
        assert_eq!(hb.next_deadline(), t0 + I + T / 2 + I);
        assert_eq!(hb.poll(t0 + I + T), HeartbeatAction::Wait);
    }

    #[test]
    fn v4_missing_pong_times_out() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(ProtocolVersion::V4, I, T, t0);
        assert_eq!(hb.poll(t0 + I), HeartbeatAction::SendPing);
        assert_eq!(hb.poll(t0 + I + T), HeartbeatAction::TimedOut);
    }

    #[test]
    fn v4_unexpected_pong_is_ignored() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(ProtocolVersion::V4, I, T, t0);
        hb.on_pong(t0 + T);
        assert_eq!(hb.next_deadline(), t0 + I);
    }

    #[test]
    fn v3_client_pings_keep_alive() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(ProtocolVersion::V3, I, T, t0);
        assert_eq!(hb.next_deadline(), t0 + I + T);
        hb.on_client_ping(t0 + I);
        assert_eq!(hb.poll(t0 + I + T), HeartbeatAction::Wait);
        assert_eq!(hb.poll(t0 + I + I + T), HeartbeatAction::TimedOut);
    }
}
