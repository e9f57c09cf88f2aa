//! [`SessionState`]: one Engine.IO session — transport, upgrade, outgoing queue,
//! requests in progress, heartbeat, close — and every transition between its states.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use sockio_protocol::engine::payload::EncodedPacket;
pub use sockio_protocol::engine::TransportKind;
use sockio_protocol::engine::{Message, Packet, ProtocolVersion};

use super::heartbeat::{Heartbeat, HeartbeatAction};
use crate::error::CloseReason;

/// Progress of a polling → WebSocket upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Upgrade {
    /// No upgrade attempted (or the last one failed).
    None,
    /// A probe WebSocket is open, waiting for `2probe`.
    Probing,
    /// `3probe` sent: polling GETs are released with `noop` until the `upgrade` packet.
    Probed,
    /// The session moved to WebSocket.
    Done,
}

/// How a polling session wants its payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PollingFormat {
    /// v4 `\x1e` text.
    V4,
    /// v3 `len:` text (`b64=1`, base64 binary).
    V3Text,
    /// v3 text, or XHR2 binary framing when a response holds binary.
    V3Binary,
    /// v3 JSONP with this callback index.
    V3Jsonp(String),
}

/// The packet that answers the last GET of a closed session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FinalPacket {
    /// `1`: the server closed the session.
    Close,
    /// `6`: the client closed it (its own `close` packet).
    Noop,
}

/// The session has just closed. Returned once per session; the caller removes it from
/// the live sessions, wakes whoever waits on it and tells the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) struct Closed {
    /// Why.
    pub(crate) reason: CloseReason,
    /// A server-side close of a polling session: what is queued still goes to the next
    /// GET, followed by the close packet, so the session must stay reachable until that
    /// GET took it ([`Reply::last`]) or the caller's close timeout.
    pub(crate) draining: bool,
}

/// What the caller does after an input.
#[derive(Debug, PartialEq)]
#[must_use]
pub(crate) enum Action {
    /// Nothing.
    None,
    /// Packets were queued: wake the transport's writer (the pending GET, or the
    /// WebSocket task).
    Flush,
    /// A message for the application.
    Deliver(Message),
    /// The session closed.
    Close(Closed),
}

/// The outcome of [`SessionState::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum Push {
    /// Queued: wake the writer.
    Queued,
    /// Refused: the session is closed.
    Closed,
    /// Refused: the queue overflowed before; the session is about to close.
    Full,
    /// Refused, and the queue overflowed just now: the queue was emptied and the caller
    /// must have [`SessionState::close_overflowed`] called — by the session's own task,
    /// not the sender, which may be in the middle of a broadcast.
    Overflowed,
}

/// The outcome of [`SessionState::get_begin`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum GetStart {
    /// The GET is pending: answer it once [`SessionState::poll_get`] says so.
    Pending,
    /// Another GET is pending: answer `400`; the session closed (unless it already was).
    Overlap(Option<Closed>),
}

/// The answer to a pending GET.
#[derive(Debug, PartialEq)]
pub(crate) struct Reply {
    /// What goes in the payload (never empty).
    pub(crate) packets: Batch,
    /// The session's final packet: the session can be forgotten now.
    pub(crate) last: bool,
}

/// The packets of one answer: a poll answering one message (the common case) takes no
/// allocation of its own.
#[derive(Debug, PartialEq)]
pub(crate) enum Batch {
    /// One packet.
    One(EncodedPacket),
    /// Several (or none, while being filled).
    Many(Vec<EncodedPacket>),
}

impl std::ops::Deref for Batch {
    type Target = [EncodedPacket];

    fn deref(&self) -> &[EncodedPacket] {
        match self {
            Batch::One(p) => std::slice::from_ref(p),
            Batch::Many(v) => v,
        }
    }
}

/// The outcome of [`SessionState::post_begin`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum PostStart {
    /// Read the body, hand its packets to [`SessionState::handle_packet`], then call
    /// [`SessionState::post_end`].
    Read,
    /// Answer `400`: binary content on v4, or another POST in progress. The session
    /// closed (unless it already was).
    Refused(Option<Closed>),
}

/// What to do with a WebSocket request for an existing session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum UpgradeRequest {
    /// The session is on polling with no upgrade in progress: accept the WebSocket and
    /// run the probe.
    Probe,
    /// The session is on WebSocket already, or another probe is in progress: accept the
    /// WebSocket and close it at once, sending nothing (engine.io does the same).
    AcceptAndClose,
    /// Answer `400`: the session is closed, or upgrades are not allowed.
    Refuse,
}

/// What the upgrade probe does after a packet on the probe WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum ProbeStep {
    /// `2probe` arrived: answer `3probe` on the probe WebSocket, and wake the pending GET
    /// (it is answered with `noop`).
    SendPong,
    /// `upgrade` arrived: the session is on WebSocket now; hand the probe WebSocket to the
    /// session's task and wake the writers.
    Upgraded,
    /// The session closed meanwhile: close the probe WebSocket.
    Refused,
    /// Anything else: the probe failed; close it and wake the pending GET. The session
    /// stays on polling.
    Failed,
}

/// What the WebSocket writer learns when it takes its next batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WsRound {
    /// More is queued than the batch took: look again after this write.
    pub(crate) more: bool,
    /// The session is closed: write the batch, then close the WebSocket.
    pub(crate) closed: bool,
    /// The queue overflowed: close the session as a slow client.
    pub(crate) overflowed: bool,
    /// When [`SessionState::handle_timeout`] is next due.
    pub(crate) deadline: Instant,
}

/// The state of one Engine.IO session (server side).
#[derive(Debug)]
pub(crate) struct SessionState {
    protocol: ProtocolVersion,
    transport: TransportKind,
    upgrade: Upgrade,
    queue: VecDeque<EncodedPacket>,
    queued_bytes: usize,
    get_pending: bool,
    post_pending: bool,
    closed: Option<CloseReason>,
    /// The outgoing queue overflowed: the session's task closes the session (reason
    /// [`CloseReason::SlowClient`]).
    overflowed: bool,
    final_packet: FinalPacket,
    heartbeat: Heartbeat,
    /// Whether binary goes over the WebSocket as `b4<base64>` text (v3 `b64=1`; decided
    /// by the WebSocket request's own query, as engine.io does per transport).
    ws_base64: bool,
    /// A WebSocket write is in progress (volatile packets are dropped meanwhile).
    ws_writing: bool,
}

impl SessionState {
    /// The handshake: a session opened at `now` on `transport`, its heartbeat armed.
    pub(crate) fn new(
        protocol: ProtocolVersion,
        transport: TransportKind,
        ping_interval: Duration,
        ping_timeout: Duration,
        now: Instant,
    ) -> Self {
        Self {
            protocol,
            transport,
            upgrade: Upgrade::None,
            queue: VecDeque::new(),
            queued_bytes: 0,
            get_pending: false,
            post_pending: false,
            closed: None,
            overflowed: false,
            final_packet: FinalPacket::Close,
            heartbeat: Heartbeat::new(protocol, ping_interval, ping_timeout, now),
            ws_base64: false,
            ws_writing: false,
        }
    }

    /// The revision the client speaks.
    pub(crate) fn protocol(&self) -> ProtocolVersion {
        self.protocol
    }

    /// The transport in use.
    pub(crate) fn transport(&self) -> TransportKind {
        self.transport
    }

    /// Whether the session is closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// Whether binary goes over the WebSocket as base64 text.
    pub(crate) fn ws_base64(&self) -> bool {
        self.ws_base64
    }

    /// Sets how binary goes over the WebSocket (a session opened on WebSocket).
    pub(crate) fn set_ws_base64(&mut self, base64: bool) {
        self.ws_base64 = base64;
    }

    /// Whether a packet queued now would go out at once: a WebSocket not in the middle of
    /// a write, or a polling session with a GET waiting.
    pub(crate) fn is_writable(&self) -> bool {
        self.closed.is_none()
            && match self.transport {
                TransportKind::WebSocket => !self.ws_writing,
                TransportKind::Polling => self.get_pending,
            }
    }

    // --- outgoing packets ---

    /// Queues packets back to back, nothing interleaved, unless that passes `limit`
    /// queued bytes (the whole queue is then dropped and the session marked overflowed).
    pub(crate) fn push(
        &mut self,
        packets: impl IntoIterator<Item = EncodedPacket>,
        limit: usize,
    ) -> Push {
        if self.closed.is_some() {
            return Push::Closed;
        }
        if self.overflowed {
            return Push::Full;
        }
        for packet in packets {
            let len = packet.len();
            if self.queued_bytes + len > limit {
                self.overflowed = true;
                self.queue.clear();
                self.queued_bytes = 0;
                return Push::Overflowed;
            }
            self.queued_bytes += len;
            self.queue.push_back(packet);
        }
        Push::Queued
    }

    /// A control packet of the protocol itself (a ping, a pong): queued whatever the
    /// bound, unless the session is closed or overflowed.
    fn push_control(&mut self, text: &'static str) -> Action {
        if self.closed.is_some() || self.overflowed {
            return Action::None;
        }
        let packet = EncodedPacket::text(text);
        self.queued_bytes += packet.len();
        self.queue.push_back(packet);
        Action::Flush
    }

    /// Takes at most `max` queued packets.
    fn take(&mut self, max: usize) -> Batch {
        let n = self.queue.len().min(max);
        let batch = if n == 1 {
            self.queue
                .pop_front()
                .map_or(Batch::Many(Vec::new()), Batch::One)
        } else {
            Batch::Many(self.queue.drain(..n).collect())
        };
        self.queued_bytes -= batch.iter().map(EncodedPacket::len).sum::<usize>();
        batch
    }

    /// Moves up to `max` queued packets into `out` (kept allocated across calls). Once
    /// the queue is empty, the room a burst made it grow to is given back.
    fn take_into(&mut self, out: &mut Vec<EncodedPacket>, max: usize) {
        let n = self.queue.len().min(max);
        for p in self.queue.drain(..n) {
            self.queued_bytes -= p.len();
            out.push(p);
        }
        if self.queue.is_empty() && self.queue.capacity() > 64 {
            self.queue.shrink_to(16);
        }
    }

    // --- incoming packets ---

    /// A packet from the client, whichever transport brought it.
    ///
    /// Messages change nothing here: a caller may deliver them without looking at the
    /// state (the WebSocket task does, so that a message costs no lock).
    pub(crate) fn handle_packet(&mut self, packet: Packet, now: Instant) -> Action {
        match packet {
            Packet::Message(m) => Action::Deliver(m),
            Packet::Pong(_) if self.protocol == ProtocolVersion::V4 => {
                self.heartbeat.on_pong(now);
                Action::None
            }
            Packet::Ping(_) if self.protocol == ProtocolVersion::V3 => {
                self.heartbeat.on_client_ping(now);
                self.push_control("3")
            }
            // A v4 client never pings, a v3 client never pongs.
            Packet::Ping(_) | Packet::Pong(_) => self.close_action(CloseReason::TransportError),
            Packet::Close => match self.close(CloseReason::TransportClose, FinalPacket::Noop) {
                Some(c) => Action::Close(c),
                None => Action::None,
            },
            // `upgrade` outside a probe, `open` and `noop` from a client mean nothing.
            Packet::Upgrade | Packet::Open(_) | Packet::Noop => Action::None,
        }
    }

    /// A packet from the client could not be decoded: the session closes.
    pub(crate) fn handle_parse_error(&mut self) -> Action {
        self.close_action(CloseReason::ParseError)
    }

    // --- time ---

    /// When [`SessionState::handle_timeout`] is next due.
    pub(crate) fn poll_timeout(&self) -> Instant {
        self.heartbeat.next_deadline()
    }

    /// Time passed to `now`: a v4 ping goes out, or the peer missed its heartbeat and the
    /// session closes.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Action {
        if self.closed.is_some() {
            return Action::None;
        }
        match self.heartbeat.poll(now) {
            HeartbeatAction::Wait => Action::None,
            HeartbeatAction::SendPing => self.push_control("2"),
            HeartbeatAction::TimedOut => self.close_action(CloseReason::PingTimeout),
        }
    }

    // --- closing ---

    /// Closes the session with `reason`; `final_packet` answers its last GET. `None`
    /// when it was closed already.
    ///
    /// Errors, timeouts and shutdown discard what was queued (engine.io does); only a
    /// plain server-side close ([`CloseReason::ForcedClose`]) delivers it first.
    pub(crate) fn close(
        &mut self,
        reason: CloseReason,
        final_packet: FinalPacket,
    ) -> Option<Closed> {
        if self.closed.is_some() {
            return None;
        }
        self.closed = Some(reason);
        self.final_packet = final_packet;
        if reason != CloseReason::ForcedClose {
            self.queue.clear();
            self.queued_bytes = 0;
        }
        Some(Closed {
            reason,
            draining: reason == CloseReason::ForcedClose
                && self.transport == TransportKind::Polling,
        })
    }

    fn close_action(&mut self, reason: CloseReason) -> Action {
        match self.close(reason, FinalPacket::Close) {
            Some(c) => Action::Close(c),
            None => Action::None,
        }
    }

    /// Closes the session as a slow client if its queue overflowed.
    pub(crate) fn close_overflowed(&mut self) -> Option<Closed> {
        if !self.overflowed {
            return None;
        }
        self.close(CloseReason::SlowClient, FinalPacket::Close)
    }

    // --- polling ---

    /// Whether a request for `transport` (not an upgrade) belongs to this session.
    pub(crate) fn accepts(&self, transport: TransportKind) -> bool {
        self.transport == transport
    }

    /// A polling GET arrived.
    pub(crate) fn get_begin(&mut self) -> GetStart {
        if self.get_pending {
            return GetStart::Overlap(self.close(CloseReason::TransportError, FinalPacket::Close));
        }
        self.get_pending = true;
        GetStart::Pending
    }

    /// The answer to the pending GET, once there is one: up to `max` queued packets, or
    /// `noop` to release it (upgrade probed, session on WebSocket), or the final packet
    /// of a closed session. `None`: keep waiting, until told to flush.
    pub(crate) fn poll_get(&mut self, max: usize) -> Option<Reply> {
        let ready = !self.queue.is_empty()
            || self.closed.is_some()
            || self.transport == TransportKind::WebSocket
            || self.upgrade == Upgrade::Probed;
        if !ready {
            return None;
        }
        let mut packets = if self.transport == TransportKind::WebSocket {
            Batch::Many(Vec::new())
        } else {
            self.take(max)
        };
        let mut last = false;
        if self.closed.is_some() && packets.is_empty() {
            packets = Batch::One(match self.final_packet {
                FinalPacket::Close => EncodedPacket::text("1"),
                FinalPacket::Noop => EncodedPacket::text("6"),
            });
            last = true;
        } else if packets.is_empty() {
            packets = Batch::One(EncodedPacket::text("6"));
        }
        self.get_pending = false;
        Some(Reply { packets, last })
    }

    /// The pending GET went away before its answer (the client left): the session closes,
    /// as engine.io does.
    pub(crate) fn get_aborted(&mut self) -> Option<Closed> {
        self.get_pending = false;
        self.close(CloseReason::TransportError, FinalPacket::Close)
    }

    /// A polling POST arrived; `binary` when its content is `application/octet-stream`.
    pub(crate) fn post_begin(&mut self, binary: bool) -> PostStart {
        if (binary && self.protocol == ProtocolVersion::V4) || self.post_pending {
            return PostStart::Refused(self.close(CloseReason::TransportError, FinalPacket::Close));
        }
        self.post_pending = true;
        PostStart::Read
    }

    /// The POST ended, however it ended.
    pub(crate) fn post_end(&mut self) {
        self.post_pending = false;
    }

    // --- upgrade ---

    /// What to do with a WebSocket request carrying this session's id
    /// (`allow_upgrades` configured).
    pub(crate) fn upgrade_request(&self, allow_upgrades: bool) -> UpgradeRequest {
        if self.closed.is_some() || !allow_upgrades {
            UpgradeRequest::Refuse
        } else if self.transport == TransportKind::WebSocket || self.upgrade != Upgrade::None {
            UpgradeRequest::AcceptAndClose
        } else {
            UpgradeRequest::Probe
        }
    }

    /// Whether a WebSocket may probe this session now.
    #[cfg(test)]
    pub(crate) fn can_upgrade(&self, allow_upgrades: bool) -> bool {
        self.upgrade_request(allow_upgrades) == UpgradeRequest::Probe
    }

    /// A WebSocket request carrying this session's id is about to be accepted; when it
    /// may probe the session ([`UpgradeRequest::Probe`]), the probe starts, `ws_base64`
    /// being how it wants binary. Decided again here, under the same lock as the probe's
    /// start, so that two requests cannot both probe.
    pub(crate) fn probe_begin(&mut self, allow_upgrades: bool, ws_base64: bool) -> UpgradeRequest {
        let request = self.upgrade_request(allow_upgrades);
        if request == UpgradeRequest::Probe {
            self.upgrade = Upgrade::Probing;
            self.ws_base64 = ws_base64;
        }
        request
    }

    /// A packet arrived on the probe WebSocket.
    pub(crate) fn handle_probe_packet(&mut self, packet: &Packet) -> ProbeStep {
        match (self.upgrade, packet) {
            (Upgrade::Probing, Packet::Ping(p)) if p == "probe" => {
                self.upgrade = Upgrade::Probed;
                ProbeStep::SendPong
            }
            (Upgrade::Probed, Packet::Upgrade) => {
                if self.closed.is_some() {
                    return ProbeStep::Refused;
                }
                self.transport = TransportKind::WebSocket;
                self.upgrade = Upgrade::Done;
                ProbeStep::Upgraded
            }
            _ => {
                self.probe_failed();
                ProbeStep::Failed
            }
        }
    }

    /// The probe failed (its WebSocket broke, or the upgrade timeout passed): the session
    /// stays on polling, and may be probed again.
    pub(crate) fn probe_failed(&mut self) {
        if self.upgrade != Upgrade::Done {
            self.upgrade = Upgrade::None;
        }
    }

    /// The probe's WebSocket never opened.
    pub(crate) fn probe_abandoned(&mut self) {
        if self.upgrade == Upgrade::Probing {
            self.upgrade = Upgrade::None;
        }
    }

    // --- WebSocket ---

    /// The WebSocket writer takes up to `max` packets into `out`; it is not writing now.
    pub(crate) fn poll_ws_transmit(&mut self, out: &mut Vec<EncodedPacket>, max: usize) -> WsRound {
        self.take_into(out, max);
        self.ws_writing = false;
        WsRound {
            more: !self.queue.is_empty(),
            closed: self.closed.is_some(),
            overflowed: self.overflowed,
            deadline: self.heartbeat.next_deadline(),
        }
    }

    /// The WebSocket's write could not complete at once (the client's socket buffer is
    /// full): the transport is busy until the next [`SessionState::poll_ws_transmit`].
    pub(crate) fn ws_write_blocked(&mut self) {
        self.ws_writing = true;
    }
}

#[cfg(test)]
mod tests {
    //! Every transition, time as an input: no runtime, no sockets.

    use super::*;

    const INTERVAL: Duration = Duration::from_millis(25_000);
    const TIMEOUT: Duration = Duration::from_millis(20_000);
    const LIMIT: usize = 1 << 20;

    fn v4(transport: TransportKind, t0: Instant) -> SessionState {
        SessionState::new(ProtocolVersion::V4, transport, INTERVAL, TIMEOUT, t0)
    }

    fn v3(transport: TransportKind, t0: Instant) -> SessionState {
        SessionState::new(ProtocolVersion::V3, transport, INTERVAL, TIMEOUT, t0)
    }

    fn text(s: &str) -> EncodedPacket {
        EncodedPacket::Text(sockio_protocol::Utf8Bytes::from(s.to_owned()))
    }

    fn texts(packets: &[EncodedPacket]) -> Vec<String> {
        packets
            .iter()
            .map(|p| match p {
                EncodedPacket::Text(t) => t.to_string(),
                EncodedPacket::Binary(b) => format!("<{} bytes>", b.len()),
            })
            .collect()
    }

    /// The packets a GET would carry now.
    fn get(s: &mut SessionState) -> Option<(Vec<String>, bool)> {
        assert_eq!(s.get_begin(), GetStart::Pending);
        let reply = s.poll_get(100);
        if reply.is_none() {
            // Leave no GET pending behind.
            s.get_pending = false;
        }
        reply.map(|r| (texts(&r.packets), r.last))
    }

    fn closed(reason: CloseReason, draining: bool) -> Action {
        Action::Close(Closed { reason, draining })
    }

    // --- handshake ---

    #[test]
    fn handshake_arms_the_heartbeat() {
        let t0 = Instant::now();
        let s = v4(TransportKind::Polling, t0);
        assert_eq!(s.transport(), TransportKind::Polling);
        assert!(!s.is_closed());
        assert_eq!(s.poll_timeout(), t0 + INTERVAL);
        assert!(!s.is_writable(), "polling without a pending GET");
        let s = v3(TransportKind::WebSocket, t0);
        assert_eq!(s.poll_timeout(), t0 + INTERVAL + TIMEOUT);
        assert!(s.is_writable());
    }

    // --- heartbeat, v4: the server pings ---

    #[test]
    fn v4_ping_then_pong_rearms() {
        let t0 = Instant::now();
        let mut s = v4(TransportKind::WebSocket, t0);
        assert_eq!(s.handle_timeout(t0 + INTERVAL / 2), Action::None);
        assert_eq!(s.handle_timeout(t0 + INTERVAL), Action::Flush);
        let mut out = Vec::new();
        let round = s.poll_ws_transmit(&mut out, 64);
        assert_eq!(texts(&out), ["2"]);
        assert_eq!(round.deadline, t0 + INTERVAL + TIMEOUT);
        let t1 = t0 + INTERVAL + TIMEOUT / 2;
        assert_eq!(s.handle_packet(Packet::Pong("".into()), t1), Action::None);
        assert_eq!(s.poll_timeout(), t1 + INTERVAL);
        assert_eq!(s.handle_timeout(t0 + INTERVAL + TIMEOUT), Action::None);
        assert!(!s.is_closed());
    }

    #[test]
    fn v4_missing_pong_closes_with_ping_timeout() {
        let t0 = Instant::now();
        let mut s = v4(TransportKind::Polling, t0);
        assert_eq!(s.handle_timeout(t0 + INTERVAL), Action::Flush);
        assert_eq!(
            s.handle_timeout(t0 + INTERVAL + TIMEOUT - Duration::from_millis(1)),
            Action::None
        );
        assert_eq!(
            s.handle_timeout(t0 + INTERVAL + TIMEOUT),
            closed(CloseReason::PingTimeout, false)
        );
        assert!(s.is_closed());
        // The queued ping is dropped; the last GET gets the close packet.
        assert_eq!(get(&mut s), Some((vec!["1".to_owned()], true)));
        // Time no longer matters.
        assert_eq!(s.handle_timeout(t0 + INTERVAL * 10), Action::None);
    }

    #[test]
    fn v4_client_ping_is_a_protocol_error() {
        let t0 = Instant::now();
        let mut s = v4(TransportKind::WebSocket, t0);
        assert_eq!(
            s.handle_packet(Packet::Ping("".into()), t0),
            closed(CloseReason::TransportError, false)
        );
    }

    #[test]
    fn v4_unexpected_pong_changes_nothing() {
        let t0 = Instant::now();
        let mut s = v4(TransportKind::WebSocket, t0);
        assert_eq!(
            s.handle_packet(Packet::Pong("".into()), t0 + TIMEOUT),
            Action::None
        );
        assert_eq!(s.poll_timeout(), t0 + INTERVAL);
    }

    // --- heartbeat, v3: the client pings ---

    #[test]
    fn v3_client_ping_is_answered_and_rearms() {
        let t0 = Instant::now();
        let mut s = v3(TransportKind::Polling, t0);
        let t1 = t0 + INTERVAL;
        assert_eq!(s.handle_packet(Packet::Ping("".into()), t1), Action::Flush);
        assert_eq!(s.poll_timeout(), t1 + INTERVAL + TIMEOUT);
        assert_eq!(get(&mut s), Some((vec!["3".to_owned()], false)));
        // The server never pings on v3.
        assert_eq!(s.handle_timeout(t1 + INTERVAL), Action::None);
        assert!(get(&mut s).is_none());
    }

    #[test]
    fn v3_silent_client_times_out() {
        let t0 = Instant::now();
        let mut s = v3(TransportKind::WebSocket, t0);
        assert_eq!(s.handle_timeout(t0 + INTERVAL), Action::None);
        assert_eq!(
            s.handle_timeout(t0 + INTERVAL + TIMEOUT),
            closed(CloseReason::PingTimeout, false)
        );
    }

    #[test]
    fn v3_client_pong_is_a_protocol_error() {
        let t0 = Instant::now();
        let mut s = v3(TransportKind::Polling, t0);
        assert_eq!(
            s.handle_packet(Packet::Pong("".into()), t0),
            closed(CloseReason::TransportError, false)
        );
    }

    // --- incoming packets ---

    #[test]
    fn messages_are_delivered_and_meaningless_packets_ignored() {
        let t0 = Instant::now();
        let mut s = v4(TransportKind::WebSocket, t0);
        let m = Message::Text("hi".into());
        assert_eq!(
            s.handle_packet(Packet::Message(m.clone()), t0),
            Action::Deliver(m)
        );
        assert_eq!(s.handle_packet(Packet::Noop, t0), Action::None);
        assert_eq!(s.handle_packet(Packet::Upgrade, t0), Action::None);
        assert!(!s.is_closed());
    }

    #[test]
    fn parse_error_closes() {
        let t0 = Instant::now();
        let mut s = v4(TransportKind::Polling, t0);
        assert_eq!(
            s.handle_parse_error(),
            closed(CloseReason::ParseError, false)
        );
        assert_eq!(s.handle_parse_error(), Action::None, "closes once");
    }

    // --- close, from either side ---

    #[test]
    fn client_close_answers_the_last_get_with_noop() {
        let t0 = Instant::now();
        let mut s = v4(TransportKind::Polling, t0);
        assert_eq!(s.push([text("4queued")], LIMIT), Push::Queued);
        assert_eq!(
            s.handle_packet(Packet::Close, t0),
            closed(CloseReason::TransportClose, false)
        );
        assert_eq!(s.push([text("4late")], LIMIT), Push::Closed);
        assert_eq!(get(&mut s), Some((vec!["6".to_owned()], true)));
    }

    #[test]
    fn server_close_on_polling_drains_the_queue_first() {
        let t0 = Instant::now();
        let mut s = v4(TransportKind::Polling, t0);
        assert_eq!(s.push([text("4a"), text("4b")], LIMIT), Push::Queued);
        assert_eq!(
            s.close(CloseReason::ForcedClose, FinalPacket::Close),
            Some(Closed {
                reason: CloseReason::ForcedClose,
                draining: true
            })
        );
        assert_eq!(s.close(CloseReason::ForcedClose, FinalPacket::Close), None);
        assert_eq!(
            get(&mut s),
            Some((vec!["4a".to_owned(), "4b".to_owned()], false))
        );
        assert_eq!(get(&mut s), Some((vec!["1".to_owned()], true)));
    }

    #[test]
    fn server_close_on_websocket_writes_the_queue_then_closes() {
        let t0 = Instant::now();
        let mut s = v4(TransportKind::WebSocket, t0);
        assert_eq!(s.push([text("4a")], LIMIT), Push::Queued);
        let c = s.close(CloseReason::ForcedClose, FinalPacket::Close);
        assert_eq!(c.map(|c| c.draining), Some(false));
        let mut out = Vec::new();
        let round = s.poll_ws_transmit(&mut out, 64);
        assert_eq!(texts(&out), ["4a"]);
        assert!(round.closed && !round.more && !round.overflowed);
    }

    #[test]
    fn other_closes_discard_the_queue() {
        for reason in [
            CloseReason::TransportError,
            CloseReason::ServerShuttingDown,
            CloseReason::TransportClose,
        ] {
            let mut s = v4(TransportKind::Polling, Instant::now());
            assert_eq!(s.push([text("4a")], LIMIT), Push::Queued);
            let c = s.close(reason, FinalPacket::Close);
            assert_eq!(c.map(|c| (c.reason, c.draining)), Some((reason, false)));
            assert_eq!(get(&mut s), Some((vec!["1".to_owned()], true)));
        }
    }

    // --- outgoing queue and its bound ---

    #[test]
    fn buffered_packets_wait_for_a_get_in_batches() {
        let t0 = Instant::now();
        let mut s = v4(TransportKind::Polling, t0);
        assert_eq!(
            s.push((0..5).map(|i| text(&format!("4{i}"))), LIMIT),
            Push::Queued
        );
        assert_eq!(s.get_begin(), GetStart::Pending);
        assert!(s.is_writable());
        let reply = s.poll_get(2).expect("packets queued");
        assert_eq!(texts(&reply.packets), ["40", "41"]);
        assert!(!s.is_writable());
        assert_eq!(s.get_begin(), GetStart::Pending);
        assert_eq!(
            texts(&s.poll_get(10).expect("more").packets),
            ["42", "43", "44"]
        );
        // Nothing queued: the next GET waits.
        assert_eq!(s.get_begin(), GetStart::Pending);
        assert_eq!(s.poll_get(10), None);
        assert_eq!(s.push([text("4x")], LIMIT), Push::Queued);
        assert_eq!(texts(&s.poll_get(10).expect("flushed").packets), ["4x"]);
    }

    #[test]
    fn overflow_drops_the_queue_and_closes_as_slow_client() {
        let t0 = Instant::now();
        let mut s = v4(TransportKind::WebSocket, t0);
        assert_eq!(s.push([text("4aaaa")], 8), Push::Queued);
        assert_eq!(s.close_overflowed(), None);
        assert_eq!(s.push([text("4bbbb")], 8), Push::Overflowed);
        assert_eq!(s.push([text("4")], 8), Push::Full);
        // Pings and pongs are not queued any more either.
        assert_eq!(s.handle_timeout(t0 + INTERVAL), Action::None);
        let mut out = Vec::new();
        let round = s.poll_ws_transmit(&mut out, 64);
        assert!(out.is_empty() && round.overflowed && !round.closed);
        assert_eq!(
            s.close_overflowed(),
            Some(Closed {
                reason: CloseReason::SlowClient,
                draining: false
            })
        );
        assert_eq!(s.close_overflowed(), None);
        assert_eq!(s.push([text("4")], 8), Push::Closed);
    }

    #[test]
    fn websocket_batches_are_bounded() {
        let t0 = Instant::now();
        let mut s = v4(TransportKind::WebSocket, t0);
        assert_eq!(
            s.push((0..3).map(|i| text(&format!("4{i}"))), LIMIT),
            Push::Queued
        );
        let mut out = Vec::new();
        assert!(s.poll_ws_transmit(&mut out, 2).more);
        assert_eq!(texts(&out), ["40", "41"]);
        out.clear();
        assert!(!s.poll_ws_transmit(&mut out, 2).more);
        assert_eq!(texts(&out), ["42"]);
        s.ws_write_blocked();
        assert!(!s.is_writable());
        let _ = s.poll_ws_transmit(&mut out, 2);
        assert!(s.is_writable());
    }

    // --- polling requests ---

    #[test]
    fn overlapping_get_is_an_error() {
        let t0 = Instant::now();
        let mut s = v4(TransportKind::Polling, t0);
        assert_eq!(s.get_begin(), GetStart::Pending);
        assert_eq!(
            s.get_begin(),
            GetStart::Overlap(Some(Closed {
                reason: CloseReason::TransportError,
                draining: false
            }))
        );
        // The first GET is released with the close packet.
        let reply = s.poll_get(10).expect("closed");
        assert_eq!(
            (texts(&reply.packets), reply.last),
            (vec!["1".to_owned()], true)
        );
        // Overlapping again on a closed session: refused, closed once.
        assert_eq!(s.get_begin(), GetStart::Pending);
        assert_eq!(s.get_begin(), GetStart::Overlap(None));
    }

    #[test]
    fn aborted_get_closes() {
        let t0 = Instant::now();
        let mut s = v4(TransportKind::Polling, t0);
        assert_eq!(s.get_begin(), GetStart::Pending);
        assert_eq!(
            s.get_aborted().map(|c| c.reason),
            Some(CloseReason::TransportError)
        );
        assert!(!s.is_writable());
    }

    #[test]
    fn post_rules() {
        let t0 = Instant::now();
        let mut s = v4(TransportKind::Polling, t0);
        assert_eq!(s.post_begin(false), PostStart::Read);
        assert!(
            matches!(s.post_begin(false), PostStart::Refused(Some(c)) if c.reason == CloseReason::TransportError),
            "overlapping POST"
        );

        let mut s = v4(TransportKind::Polling, t0);
        assert_eq!(s.post_begin(false), PostStart::Read);
        s.post_end();
        assert_eq!(s.post_begin(false), PostStart::Read);
        s.post_end();
        assert!(
            matches!(s.post_begin(true), PostStart::Refused(Some(_))),
            "binary POST on v4"
        );

        let mut s = v3(TransportKind::Polling, t0);
        assert_eq!(s.post_begin(true), PostStart::Read, "binary POST on v3");
    }

    #[test]
    fn requests_must_match_the_transport() {
        let t0 = Instant::now();
        let s = v4(TransportKind::Polling, t0);
        assert!(s.accepts(TransportKind::Polling));
        assert!(!s.accepts(TransportKind::WebSocket));
    }

    // --- upgrade ---

    #[test]
    fn upgrade_probe_releases_the_get_then_moves_the_queue() {
        let t0 = Instant::now();
        let mut s = v4(TransportKind::Polling, t0);
        assert!(!s.can_upgrade(false), "allow_upgrades off");
        assert!(s.can_upgrade(true));
        assert_eq!(s.probe_begin(true, true), UpgradeRequest::Probe);
        assert!(!s.can_upgrade(true), "one probe at a time");
        // A GET waits while the probe has not answered.
        assert_eq!(s.get_begin(), GetStart::Pending);
        assert_eq!(s.poll_get(10), None);
        // `2probe` → `3probe`, and the pending GET is released with `noop`.
        let probe = Packet::Ping("probe".into());
        assert_eq!(s.handle_probe_packet(&probe), ProbeStep::SendPong);
        let reply = s.poll_get(10).expect("released");
        assert_eq!(
            (texts(&reply.packets), reply.last),
            (vec!["6".to_owned()], false)
        );
        // Packets sent meanwhile wait for the WebSocket.
        assert_eq!(s.push([text("4buffered")], LIMIT), Push::Queued);
        assert_eq!(s.handle_probe_packet(&Packet::Upgrade), ProbeStep::Upgraded);
        assert_eq!(s.transport(), TransportKind::WebSocket);
        assert!(s.ws_base64());
        assert!(!s.can_upgrade(true));
        assert!(s.accepts(TransportKind::WebSocket) && !s.accepts(TransportKind::Polling));
        let mut out = Vec::new();
        let _ = s.poll_ws_transmit(&mut out, 64);
        assert_eq!(texts(&out), ["4buffered"]);
        // A late GET is answered with `noop` at once.
        assert_eq!(s.get_begin(), GetStart::Pending);
        let reply = s.poll_get(10).expect("noop");
        assert_eq!(texts(&reply.packets), ["6"]);
    }

    #[test]
    fn probe_out_of_order_fails_and_can_be_retried() {
        let t0 = Instant::now();
        for first in [
            Packet::Upgrade,
            Packet::Ping("nope".into()),
            Packet::Message(Message::Text("x".into())),
        ] {
            let mut s = v4(TransportKind::Polling, t0);
            assert_eq!(s.probe_begin(true, false), UpgradeRequest::Probe);
            assert_eq!(s.handle_probe_packet(&first), ProbeStep::Failed);
            assert_eq!(s.transport(), TransportKind::Polling);
            assert!(s.can_upgrade(true));
        }
        // After `3probe`, anything but `upgrade` fails too.
        let mut s = v4(TransportKind::Polling, t0);
        assert_eq!(s.probe_begin(true, false), UpgradeRequest::Probe);
        let probe = Packet::Ping("probe".into());
        assert_eq!(s.handle_probe_packet(&probe), ProbeStep::SendPong);
        assert_eq!(s.handle_probe_packet(&Packet::Noop), ProbeStep::Failed);
        assert!(s.can_upgrade(true));
        assert_eq!(s.get_begin(), GetStart::Pending);
        assert_eq!(s.poll_get(10), None, "GETs wait again");
    }

    #[test]
    fn probe_timeout_and_abandon_leave_polling() {
        let t0 = Instant::now();
        let mut s = v4(TransportKind::Polling, t0);
        assert_eq!(s.probe_begin(true, false), UpgradeRequest::Probe);
        s.probe_abandoned();
        assert!(s.can_upgrade(true));
        assert_eq!(s.probe_begin(true, false), UpgradeRequest::Probe);
        let probe = Packet::Ping("probe".into());
        assert_eq!(s.handle_probe_packet(&probe), ProbeStep::SendPong);
        s.probe_abandoned();
        assert!(
            !s.can_upgrade(true),
            "abandon only undoes a probe not yet answered"
        );
        s.probe_failed();
        assert!(s.can_upgrade(true));
    }

    #[test]
    fn upgrade_of_a_closed_session_is_refused() {
        let t0 = Instant::now();
        let mut s = v4(TransportKind::Polling, t0);
        assert_eq!(s.probe_begin(true, false), UpgradeRequest::Probe);
        let probe = Packet::Ping("probe".into());
        assert_eq!(s.handle_probe_packet(&probe), ProbeStep::SendPong);
        let _ = s.close(CloseReason::TransportError, FinalPacket::Close);
        assert!(!s.can_upgrade(true));
        assert_eq!(s.handle_probe_packet(&Packet::Upgrade), ProbeStep::Refused);
        assert_eq!(s.transport(), TransportKind::Polling);
    }

    #[test]
    fn a_second_websocket_is_accepted_then_closed() {
        // On a session opened on WebSocket, or upgraded, or while a probe runs.
        let mut s = v4(TransportKind::WebSocket, Instant::now());
        assert!(!s.can_upgrade(true));
        assert_eq!(s.probe_begin(true, false), UpgradeRequest::AcceptAndClose);
        let mut s = v3(TransportKind::Polling, Instant::now());
        assert_eq!(s.probe_begin(true, false), UpgradeRequest::Probe);
        assert_eq!(s.probe_begin(true, false), UpgradeRequest::AcceptAndClose);
        let probe = Packet::Ping("probe".into());
        assert_eq!(s.handle_probe_packet(&probe), ProbeStep::SendPong);
        assert_eq!(s.upgrade_request(true), UpgradeRequest::AcceptAndClose);
        assert_eq!(s.handle_probe_packet(&Packet::Upgrade), ProbeStep::Upgraded);
        assert_eq!(s.probe_begin(true, false), UpgradeRequest::AcceptAndClose);
        // The upgraded session is untouched.
        assert_eq!(s.transport(), TransportKind::WebSocket);
        assert!(!s.is_closed());
    }

    #[test]
    fn upgrades_refused_when_closed_or_not_allowed() {
        let mut s = v4(TransportKind::Polling, Instant::now());
        assert_eq!(s.upgrade_request(false), UpgradeRequest::Refuse);
        assert_eq!(s.probe_begin(false, false), UpgradeRequest::Refuse);
        assert!(s.can_upgrade(true), "a refused request starts no probe");
        let _ = s.close(CloseReason::ForcedClose, FinalPacket::Close);
        assert_eq!(s.probe_begin(true, false), UpgradeRequest::Refuse);
    }
}
