//! The heartbeat: deadlines in, actions out, no timers.

use std::time::{Duration, Instant};

use sockio_protocol::engine::ProtocolVersion;

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

/// What the heartbeat waits for, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    /// v4: the server's next ping is due then.
    Ping(Instant),
    /// v4: a ping went out; its pong is overdue then.
    Pong(Instant),
    /// v3: the client's next ping is overdue then.
    ClientPing(Instant),
}

/// Heartbeat bookkeeping.
///
/// * v4: the server pings every `interval`; the client must pong within `timeout`.
/// * v3: the client pings; the server closes when no ping came for `interval + timeout`.
#[derive(Debug)]
pub(crate) struct Heartbeat {
    interval: Duration,
    timeout: Duration,
    due: Due,
}

impl Heartbeat {
    /// The heartbeat of a session opened at `now`.
    pub(crate) fn new(
        version: ProtocolVersion,
        interval: Duration,
        timeout: Duration,
        now: Instant,
    ) -> Self {
        let due = match version {
            ProtocolVersion::V4 => Due::Ping(now + interval),
            ProtocolVersion::V3 => Due::ClientPing(now + interval + timeout),
        };
        Self {
            interval,
            timeout,
            due,
        }
    }

    /// The next instant at which [`Heartbeat::poll`] has something to do.
    pub(crate) fn next_deadline(&self) -> Instant {
        match self.due {
            Due::Ping(t) | Due::Pong(t) | Due::ClientPing(t) => t,
        }
    }

    /// Advances to `now`.
    pub(crate) fn poll(&mut self, now: Instant) -> HeartbeatAction {
        match self.due {
            Due::Ping(t) if now >= t => {
                self.due = Due::Pong(now + self.timeout);
                HeartbeatAction::SendPing
            }
            Due::Pong(t) | Due::ClientPing(t) if now >= t => HeartbeatAction::TimedOut,
            _ => HeartbeatAction::Wait,
        }
    }

    /// v4: a pong arrived. An unexpected pong (none awaited) is ignored.
    pub(crate) fn on_pong(&mut self, now: Instant) {
        if let Due::Pong(_) = self.due {
            self.due = Due::Ping(now + self.interval);
        }
    }

    /// v3: a ping arrived from the client.
    pub(crate) fn on_client_ping(&mut self, now: Instant) {
        if let Due::ClientPing(_) = self.due {
            self.due = Due::ClientPing(now + self.interval + self.timeout);
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
        assert_eq!(
            hb.poll(t0 + I + T - Duration::from_millis(1)),
            HeartbeatAction::Wait
        );
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
    fn v4_client_pings_are_ignored() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(ProtocolVersion::V4, I, T, t0);
        hb.on_client_ping(t0 + T);
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

    #[test]
    fn v3_never_pings_and_ignores_pongs() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(ProtocolVersion::V3, I, T, t0);
        assert_eq!(hb.poll(t0 + I), HeartbeatAction::Wait);
        hb.on_pong(t0 + I);
        assert_eq!(hb.next_deadline(), t0 + I + T);
    }
}
