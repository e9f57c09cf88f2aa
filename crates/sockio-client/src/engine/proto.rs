//! The Engine.IO client as a pure state machine: no sockets, no runtime, no clock.
//!
//! [`EngineClient::handle`] takes an [`Input`] (something the transports saw, something
//! the application wants, or just "time has passed") and the current instant, and returns
//! the [`Action`]s the driver must carry out: HTTP requests, WebSocket frames, and
//! [`EngineEvent`]s for the layer above. Timers are expressed as
//! [`EngineClient::next_deadline`]: the driver calls `handle(Input::Tick, now)` when it
//! is reached.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sockio_protocol::engine::payload::{self, EncodedPacket};
use sockio_protocol::engine::{Message, Packet, ProtocolVersion};
use sockio_protocol::Utf8Bytes;

use super::{CloseReason, Handshake, TransportError, TransportKind};

/// What the Engine.IO client is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    /// Engine.IO protocol revision (4 by default; 3 for socket.io 2.x servers).
    pub version: ProtocolVersion,
    /// Transports in the order they are tried: the first one opens the session, the
    /// later ones are upgrade targets. Default: polling, then websocket.
    pub transports: Vec<TransportKind>,
    /// Whether to upgrade from polling to websocket when the server offers it.
    pub upgrade: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            version: ProtocolVersion::V4,
            transports: vec![TransportKind::Polling, TransportKind::WebSocket],
            upgrade: true,
        }
    }
}

/// Something that happened, fed to [`EngineClient::handle`].
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Start the session (the first call).
    Connect,
    /// A long-polling GET was answered with 200 and this body (`binary`: the response was
    /// `application/octet-stream`, the v3 XHR2 framing).
    PollResponse {
        /// The response body.
        body: Bytes,
        /// Whether the body uses the v3 binary framing.
        binary: bool,
    },
    /// A long-polling GET failed (connection error, HTTP status other than 200).
    PollFailed(TransportError),
    /// A polling POST was answered with 200.
    PostDone,
    /// A polling POST failed.
    PostFailed(TransportError),
    /// The WebSocket asked for by [`Action::WsConnect`] is open.
    WsOpen,
    /// A WebSocket text frame.
    WsText(Utf8Bytes),
    /// A WebSocket binary frame.
    WsBinary(Bytes),
    /// The WebSocket was closed by the peer (`None`) or failed.
    WsClosed(Option<TransportError>),
    /// The application sends a message.
    Send(Message),
    /// The application closes the session.
    Close,
    /// Nothing but time passing: check the timers.
    Tick,
}

/// A WebSocket frame to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsFrame {
    /// A text frame.
    Text(Utf8Bytes),
    /// A binary frame.
    Binary(Bytes),
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send a long-polling GET (the handshake when `sid` is `None`).
    Poll {
        /// The session id, `None` for the handshake.
        sid: Option<String>,
    },
    /// Send a polling POST with this body.
    Post {
        /// The session id.
        sid: String,
        /// The encoded payload.
        body: Bytes,
    },
    /// Open a WebSocket: the first transport (`sid` `None`) or an upgrade probe.
    WsConnect {
        /// The session id when probing an upgrade.
        sid: Option<String>,
    },
    /// Send a frame on the WebSocket.
    WsSend(WsFrame),
    /// Close the WebSocket.
    WsClose,
    /// Tell the layer above.
    Event(EngineEvent),
}

/// What the layer above hears.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// The handshake completed.
    Open(Handshake),
    /// A message arrived.
    Message(Message),
    /// A heartbeat: a ping from the server (v4) or the pong to ours (v3).
    Heartbeat,
    /// The session moved to another transport.
    Upgraded(TransportKind),
    /// The session ended; no more actions follow.
    Closed {
        /// Why.
        reason: CloseReason,
        /// Whether the handshake had completed.
        was_open: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Opening,
    Open,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upgrade {
    /// No upgrade going on.
    None,
    /// The probe WebSocket is being opened.
    Connecting,
    /// `2probe` sent, waiting for `3probe`.
    Probing,
    /// `3probe` received: polling drains before `5` is sent.
    Pausing,
}

/// The Engine.IO client session: a pure state machine. [`handle`](Self::handle) takes
/// an [`Input`] and the current instant and returns the [`Action`]s to carry out; the
/// driver calls it with [`Input::Tick`] at [`next_deadline`](Self::next_deadline).
///
/// ```
/// use std::time::{Duration, Instant};
/// use bytes::Bytes;
/// use sockio_client::engine::{Action, EngineClient, EngineEvent, EngineOptions, Input};
///
/// let mut engine = EngineClient::new(EngineOptions::default());
/// let t0 = Instant::now();
/// // Polling first: the handshake is a GET without sid.
/// assert_eq!(engine.handle(Input::Connect, t0), vec![Action::Poll { sid: None }]);
/// let open = r#"0{"sid":"abc","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#;
/// let actions = engine.handle(Input::PollResponse { body: Bytes::from(open), binary: false }, t0);
/// assert!(matches!(&actions[0], Action::Event(EngineEvent::Open(h)) if h.sid == "abc"));
/// // A silent server is detected after pingInterval + pingTimeout.
/// assert_eq!(engine.next_deadline(), Some(t0 + Duration::from_millis(500)));
/// ```
#[derive(Debug)]
pub struct EngineClient {
    opts: EngineOptions,
    phase: Phase,
    transport: TransportKind,
    handshake: Option<Handshake>,
    poll_in_flight: bool,
    post_in_flight: bool,
    upgrade: Upgrade,
    probe_deadline: Option<Instant>,
    /// v4: a ping must arrive before this; v3: the pong to our ping.
    heartbeat_deadline: Option<Instant>,
    /// v3: when to send the next ping.
    next_ping: Option<Instant>,
    write_buf: VecDeque<EncodedPacket>,
}

impl EngineClient {
    /// A session not yet started; feed it [`Input::Connect`].
    pub fn new(opts: EngineOptions) -> EngineClient {
        let transport = opts
            .transports
            .first()
            .copied()
            .unwrap_or(TransportKind::Polling);
        EngineClient {
            opts,
            phase: Phase::Idle,
            transport,
            handshake: None,
            poll_in_flight: false,
            post_in_flight: false,
            upgrade: Upgrade::None,
            probe_deadline: None,
            heartbeat_deadline: None,
            next_ping: None,
            write_buf: VecDeque::new(),
        }
    }

    /// The transport in use.
    pub fn transport(&self) -> TransportKind {
        self.transport
    }

    /// The handshake, once open.
    pub fn handshake(&self) -> Option<&Handshake> {
        self.handshake.as_ref()
    }

    /// Whether the handshake completed and the session is not closed.
    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// Whether the session ended.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Packets waiting for a polling POST.
    pub fn buffered(&self) -> usize {
        self.write_buf.len()
    }

    /// The earliest instant at which [`Input::Tick`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.phase != Phase::Open {
            return None;
        }
        [self.heartbeat_deadline, self.next_ping, self.probe_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    fn sid(&self) -> Option<String> {
        self.handshake.as_ref().map(|h| h.sid.clone())
    }

    /// Feeds one input; returns what to do, in order.
    pub fn handle(&mut self, input: Input, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.phase == Phase::Closed {
            return out;
        }
        match input {
            Input::Connect => self.connect(&mut out),
            Input::PollResponse { body, binary } => {
                self.poll_in_flight = false;
                self.on_poll_body(body, binary, now, &mut out);
            }
            Input::PollFailed(err) => {
                self.poll_in_flight = false;
                if self.transport == TransportKind::Polling || self.phase == Phase::Opening {
                    self.close(CloseReason::TransportError(err), &mut out);
                } else {
                    // A GET still pending when the upgrade completed: nothing depends on it.
                    self.after_polling_settled(&mut out);
                }
            }
            Input::PostDone => {
                self.post_in_flight = false;
                self.after_polling_settled(&mut out);
                self.flush(&mut out);
            }
            Input::PostFailed(err) => {
                self.post_in_flight = false;
                if self.transport == TransportKind::Polling {
                    self.close(CloseReason::TransportError(err), &mut out);
                }
            }
            Input::WsOpen => self.on_ws_open(now, &mut out),
            Input::WsText(text) => self.on_ws_frame(Ok(text), now, &mut out),
            Input::WsBinary(data) => self.on_ws_frame(Err(data), now, &mut out),
            Input::WsClosed(err) => self.on_ws_closed(err, &mut out),
            Input::Send(message) => {
                self.write_buf
                    .push_back(EncodedPacket::from(Packet::Message(message)));
                self.flush(&mut out);
            }
            Input::Close => {
                if self.phase == Phase::Open {
                    match self.transport {
                        TransportKind::Polling => {
                            if let Some(sid) = self.sid() {
                                out.push(Action::Post {
                                    sid,
                                    body: self.encode_payload(&[EncodedPacket::text("1")]),
                                });
                            }
                        }
                        TransportKind::WebSocket => {
                            out.push(Action::WsSend(WsFrame::Text(Utf8Bytes::from_static("1"))));
                        }
                    }
                }
                self.close(CloseReason::ForcedClose, &mut out);
            }
            Input::Tick => self.on_tick(now, &mut out),
        }
        out
    }

    fn connect(&mut self, out: &mut Vec<Action>) {
        if self.phase != Phase::Idle {
            return;
        }
        self.phase = Phase::Opening;
        match self.transport {
            TransportKind::Polling => {
                self.poll_in_flight = true;
                out.push(Action::Poll { sid: None });
            }
            TransportKind::WebSocket => out.push(Action::WsConnect { sid: None }),
        }
    }

    fn on_poll_body(&mut self, body: Bytes, binary: bool, now: Instant, out: &mut Vec<Action>) {
        let version = self.opts.version;
        let packets: Vec<_> = match (version, binary) {
            (ProtocolVersion::V4, _) => payload::decode_v4(body).collect(),
            (ProtocolVersion::V3, false) => payload::decode_v3_text(body).collect(),
            (ProtocolVersion::V3, true) => payload::decode_v3_binary(body).collect(),
        };
        for packet in packets {
            match packet {
                Ok(p) => self.on_packet(p, now, out),
                Err(e) => {
                    self.close(CloseReason::ParseError(e.to_string()), out);
                }
            }
            if self.phase == Phase::Closed {
                return;
            }
        }
        self.after_polling_settled(out);
        if self.phase == Phase::Open
            && self.transport == TransportKind::Polling
            && self.upgrade != Upgrade::Pausing
            && !self.poll_in_flight
        {
            self.poll_in_flight = true;
            out.push(Action::Poll { sid: self.sid() });
        }
    }

    fn on_ws_open(&mut self, now: Instant, out: &mut Vec<Action>) {
        match (self.phase, self.transport, self.upgrade) {
            // The first transport: the server's open packet follows.
            (Phase::Opening, TransportKind::WebSocket, _) => {}
            (Phase::Open, TransportKind::Polling, Upgrade::Connecting) => {
                self.upgrade = Upgrade::Probing;
                if let Some(h) = &self.handshake {
                    self.probe_deadline = Some(now + h.ping_timeout.max(Duration::from_secs(1)));
                }
                out.push(Action::WsSend(WsFrame::Text(Utf8Bytes::from_static(
                    "2probe",
                ))));
            }
            _ => {}
        }
    }

    fn on_ws_frame(
        &mut self,
        frame: Result<Utf8Bytes, Bytes>,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let version = self.opts.version;
        let packet = match frame {
            Ok(text) => Packet::decode_text(text, version),
            Err(data) => Packet::decode_binary(data, version),
        };
        if self.transport == TransportKind::Polling {
            // Frames of the upgrade probe.
            if self.upgrade == Upgrade::Probing
                && matches!(&packet, Ok(Packet::Pong(d)) if &**d == "probe")
            {
                self.upgrade = Upgrade::Pausing;
                self.probe_deadline = None;
                self.after_polling_settled(out);
            } else if self.upgrade == Upgrade::Probing {
                // Anything else during a probe means the probe failed.
                self.abandon_upgrade(out);
            }
            return;
        }
        match packet {
            Ok(p) => self.on_packet(p, now, out),
            Err(e) => self.close(CloseReason::ParseError(e.to_string()), out),
        }
    }

    fn on_ws_closed(&mut self, err: Option<TransportError>, out: &mut Vec<Action>) {
        if self.transport == TransportKind::WebSocket {
            let reason = match err {
                None => CloseReason::TransportClose,
                Some(e) => CloseReason::TransportError(e),
            };
            self.close(reason, out);
        } else if self.upgrade != Upgrade::None {
            // The probe failed: stay on polling.
            self.upgrade = Upgrade::None;
            self.probe_deadline = None;
            if self.phase == Phase::Open && !self.poll_in_flight {
                self.poll_in_flight = true;
                out.push(Action::Poll { sid: self.sid() });
            }
            self.flush(out);
        }
    }

    fn abandon_upgrade(&mut self, out: &mut Vec<Action>) {
        out.push(Action::WsClose);
        self.on_ws_closed(None, out);
    }

    /// Completes a pending upgrade once polling has nothing in flight.
    fn after_polling_settled(&mut self, out: &mut Vec<Action>) {
        if self.upgrade != Upgrade::Pausing
            || self.poll_in_flight
            || self.post_in_flight
            || self.phase != Phase::Open
        {
            return;
        }
        self.upgrade = Upgrade::None;
        self.transport = TransportKind::WebSocket;
        out.push(Action::WsSend(WsFrame::Text(Utf8Bytes::from_static("5"))));
        out.push(Action::Event(EngineEvent::Upgraded(
            TransportKind::WebSocket,
        )));
        self.flush(out);
    }

    fn on_packet(&mut self, packet: Packet, now: Instant, out: &mut Vec<Action>) {
        if self.phase == Phase::Opening {
            match packet {
                Packet::Open(json) => self.on_open(&json, now, out),
                other => self.close(
                    CloseReason::Handshake(format!(
                        "expected an open packet, got {:?}",
                        other.packet_type()
                    )),
                    out,
                ),
            }
            return;
        }
        match packet {
            Packet::Ping(data) => {
                if self.opts.version == ProtocolVersion::V4 {
                    if let Some(h) = &self.handshake {
                        self.heartbeat_deadline = Some(now + h.ping_interval + h.ping_timeout);
                    }
                    out.push(Action::Event(EngineEvent::Heartbeat));
                }
                self.write_buf
                    .push_back(EncodedPacket::from(Packet::Pong(data)));
                self.flush(out);
            }
            Packet::Pong(_) => {
                if self.opts.version == ProtocolVersion::V3 {
                    if let Some(h) = &self.handshake {
                        self.heartbeat_deadline = None;
                        self.next_ping = Some(now + h.ping_interval);
                    }
                    out.push(Action::Event(EngineEvent::Heartbeat));
                }
            }
            Packet::Message(m) => out.push(Action::Event(EngineEvent::Message(m))),
            Packet::Close => self.close(CloseReason::TransportClose, out),
            Packet::Noop => {}
            Packet::Open(_) | Packet::Upgrade => {
                self.close(
                    CloseReason::ParseError(format!(
                        "unexpected {:?} packet from the server",
                        packet.packet_type()
                    )),
                    out,
                );
            }
        }
    }

    fn on_open(&mut self, json: &str, now: Instant, out: &mut Vec<Action>) {
        let handshake = match Handshake::parse(json) {
            Ok(h) => h,
            Err(e) => {
                self.close(CloseReason::Handshake(e), out);
                return;
            }
        };
        self.phase = Phase::Open;
        match self.opts.version {
            ProtocolVersion::V4 => {
                self.heartbeat_deadline =
                    Some(now + handshake.ping_interval + handshake.ping_timeout);
            }
            ProtocolVersion::V3 => self.next_ping = Some(now + handshake.ping_interval),
        }
        let probe = self.opts.upgrade
            && self.transport == TransportKind::Polling
            && self.opts.transports.contains(&TransportKind::WebSocket)
            && handshake.upgrades.iter().any(|u| u == "websocket");
        let sid = handshake.sid.clone();
        self.handshake = Some(handshake.clone());
        out.push(Action::Event(EngineEvent::Open(handshake)));
        if probe {
            self.upgrade = Upgrade::Connecting;
            self.probe_deadline = None;
            out.push(Action::WsConnect { sid: Some(sid) });
        }
        self.flush(out);
    }

    fn on_tick(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.phase != Phase::Open {
            return;
        }
        if self.heartbeat_deadline.is_some_and(|d| now >= d) {
            self.close(CloseReason::PingTimeout, out);
            return;
        }
        if self.probe_deadline.is_some_and(|d| now >= d) {
            self.probe_deadline = None;
            self.abandon_upgrade(out);
        }
        if self.next_ping.is_some_and(|d| now >= d) {
            self.next_ping = None;
            if let Some(h) = &self.handshake {
                self.heartbeat_deadline = Some(now + h.ping_timeout);
            }
            self.write_buf.push_back(EncodedPacket::text("2"));
            self.flush(out);
        }
    }

    fn encode_payload(&self, packets: &[EncodedPacket]) -> Bytes {
        match self.opts.version {
            ProtocolVersion::V4 => payload::encode_v4(packets),
            ProtocolVersion::V3 => Bytes::from(payload::encode_v3_text(packets)),
        }
    }

    fn flush(&mut self, out: &mut Vec<Action>) {
        if self.phase != Phase::Open || self.write_buf.is_empty() {
            return;
        }
        match self.transport {
            TransportKind::WebSocket => {
                let version = self.opts.version;
                for p in self.write_buf.drain(..) {
                    out.push(Action::WsSend(match p {
                        EncodedPacket::Text(t) => WsFrame::Text(t),
                        EncodedPacket::Binary(b) => {
                            WsFrame::Binary(Packet::encode_binary_frame(&b, version))
                        }
                    }));
                }
                // An idle session holds no packet queue.
                self.write_buf = VecDeque::new();
            }
            TransportKind::Polling => {
                if self.post_in_flight || self.upgrade == Upgrade::Pausing {
                    return;
                }
                let max = self
                    .handshake
                    .as_ref()
                    .and_then(|h| h.max_payload)
                    .unwrap_or(u64::MAX) as usize;
                // Packets whose encoding fits in maxPayload (at least one).
                let mut size = 0usize;
                let mut take = 0usize;
                for p in &self.write_buf {
                    let len = match p {
                        EncodedPacket::Text(t) => t.len() + 1,
                        EncodedPacket::Binary(b) => b.len().div_ceil(3) * 4 + 3,
                    };
                    if take > 0 && size + len > max {
                        break;
                    }
                    size += len;
                    take += 1;
                }
                let packets: Vec<EncodedPacket> = self.write_buf.drain(..take).collect();
                if self.write_buf.is_empty() {
                    self.write_buf = VecDeque::new();
                }
                let Some(sid) = self.sid() else { return };
                self.post_in_flight = true;
                out.push(Action::Post {
                    sid,
                    body: self.encode_payload(&packets),
                });
            }
        }
    }

    fn close(&mut self, reason: CloseReason, out: &mut Vec<Action>) {
        if self.phase == Phase::Closed {
            return;
        }
        let was_open = self.phase == Phase::Open;
        if self.transport == TransportKind::WebSocket || self.upgrade != Upgrade::None {
            out.push(Action::WsClose);
        }
        self.phase = Phase::Closed;
        self.upgrade = Upgrade::None;
        self.heartbeat_deadline = None;
        self.next_ping = None;
        self.probe_deadline = None;
        self.write_buf = VecDeque::new();
        out.push(Action::Event(EngineEvent::Closed { reason, was_open }));
    }
}
