//! [`SessionState`]: one Engine.IO session — transport, upgrade, outgoing queue,
//! requests in progress, heartbeat, close — and every transition between its states.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use sockio_protocol::engine::payload::EncodedPacket;
use sockio_protocol::engine::{Message, Packet, ProtocolVersion};

use super::heartbeat::{Heartbeat, HeartbeatAction};
use crate::error::CloseReason;

/// The transport a session currently uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    WebSocket,
}

impl TransportKind {
    /// The name used in the `transport` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Polling => "polling",
            Self::WebSocket => "websocket",
        }
    }
}

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
    pub(crate) packets: Vec<EncodedPacket>,
    /// The session's final packet: the session can be forgotten now.
    pub(crate) last: bool,
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
    fn take(&mut self, max: usize) -> Vec<EncodedPacket> {
        let n = self.queue.len().min(max);
        let batch: Vec<EncodedPacket> = self.queue.drain(..n).collect();
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
            Vec::new()
        } else {
            self.take(max)
        };
        let mut last = false;
        if self.closed.is_some() && packets.is_empty() {
            packets.push(match self.final_packet {
                FinalPacket::Close => EncodedPacket::text("1"),
                FinalPacket::Noop => EncodedPacket::text("6"),
            });
            last = true;
        } else if packets.is_empty() {
            packets.push(EncodedPacket::text("6"));
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

    /// Whether a WebSocket may probe this session now (`allow_upgrades` configured).
    pub(crate) fn can_upgrade(&self, allow_upgrades: bool) -> bool {
        allow_upgrades
            && self.transport == TransportKind::Polling
            && self.upgrade == Upgrade::None
            && self.closed.is_none()
    }

    /// The probe WebSocket was accepted; `ws_base64` is how it wants binary.
    pub(crate) fn probe_begin(&mut self, ws_base64: bool) {
        self.upgrade = Upgrade::Probing;
        self.ws_base64 = ws_base64;
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
