//! The connection's task: the Socket.IO layer over one [`EngineDriver`]. It joins and
//! leaves the namespaces of the manager's sockets, decodes the server's packets into
//! their events and acknowledgements, sends their emits, and reconnects.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use sockio_protocol::engine::Message;
use sockio_protocol::socket::{
    encode_with, Decoder, DecoderConfig, Packet, PacketData, ProtocolVersion as SioVersion, Value,
};

use crate::command::Cmd;
use crate::config::Auth;
use crate::driver::{now, EngineDriver};
use crate::engine::{CloseReason, EngineEvent, Input, ProtocolVersion, TransportError};
use crate::error::Error;
use crate::event::{AckSender, Event};
use crate::queue;
use crate::registry;
use crate::small_map::NspMap;
use crate::socket::{Closing, Socket};
use crate::state::{lock, Shared};

/// Starts the task of a new manager: it takes the commands of `rx` until
/// [`Cmd::Close`] or the last sender is gone.
pub(crate) fn spawn(shared: Arc<Shared>, rx: queue::Receiver<Cmd>) {
    let (decoder, sio_version) = decoder(shared.config.engine.version);
    let task = Task {
        shared,
        rx,
        engine: None,
        open: false,
        generation: 0,
        decoder,
        sio_version,
        attempts: 0,
        reconnecting: false,
        reconnect_at: None,
        open_deadline: None,
        joined: NspMap::new(),
        root_join_at: None,
        left_at: NspMap::new(),
        deferred: Vec::new(),
        pending: NspMap::new(),
        timer: None,
    };
    tokio::spawn(task);
}

/// The Socket.IO decoder of a connection over Engine.IO `version`, and its dialect.
fn decoder(version: ProtocolVersion) -> (Decoder, SioVersion) {
    let sio_version = match version {
        ProtocolVersion::V3 => SioVersion::V4,
        ProtocolVersion::V4 => SioVersion::V5,
    };
    (
        Decoder::with_config(DecoderConfig::new(sio_version)),
        sio_version,
    )
}

/// The socket id a CONNECT reply for `nsp` gives, `sid` being the Engine.IO session's.
fn connect_id(version: SioVersion, sid: String, nsp: &str, payload: Option<&Value>) -> String {
    match version {
        SioVersion::V5 => payload
            .and_then(|p| p.get("sid"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or(sid),
        SioVersion::V4 if nsp == "/" => sid,
        SioVersion::V4 => format!("{nsp}#{sid}"),
    }
}

/// A CONNECT_ERROR's message and data, as the `connect_error` event gives them.
fn refusal(value: &Value, version: SioVersion) -> (String, Option<Value>) {
    match (value, version) {
        (Value::String(s), _) => (s.clone(), None),
        // v5: {"message", "data"?}.
        (Value::Object(_), SioVersion::V5) => (
            value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            value.get("data").cloned(),
        ),
        // v4 (socket.io 2.x): the error's data itself.
        (other, _) => (
            other
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            Some(other.clone()),
        ),
    }
}

/// Decodes a connection's messages from the server as the client does (its decoder
/// configuration, binary attachments reassembled, a parse error resetting the decoder as
/// a new connection would), and reads each packet as the client does: the socket id of
/// a CONNECT, the message and data of a CONNECT_ERROR, the event of an EVENT. Returns the
/// packets. For the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub fn fuzz_messages(
    version: ProtocolVersion,
    sid: &str,
    messages: impl IntoIterator<Item = Message>,
) -> Vec<Packet> {
    let (mut decoder, sio_version) = decoder(version);
    let mut packets = Vec::new();
    for m in messages {
        let decoded = match m {
            Message::Text(t) => decoder.decode_text(&t),
            Message::Binary(b) => decoder.decode_binary(b),
        };
        let packet = match decoded {
            Ok(Some(p)) => p,
            Ok(None) => continue,
            Err(_) => {
                decoder.reset();
                continue;
            }
        };
        match &packet.data {
            PacketData::Connect(payload) => {
                let _ = connect_id(sio_version, sid.to_owned(), &packet.nsp, payload.as_ref());
            }
            PacketData::ConnectError(value) => {
                let _ = refusal(value, sio_version);
            }
            PacketData::Event { event, args } => {
                let _ = Event::new(event.clone(), args.clone(), None);
            }
            PacketData::Disconnect | PacketData::Ack { .. } => {}
        }
        packets.push(packet);
    }
    packets
}

/// socket.io-client's backoff: `delay * 2^attempt`, randomized by `± factor`, capped.
fn backoff(attempt: u32, base: Duration, max: Duration, factor: f64) -> Duration {
    let ms = base.as_millis() as f64 * 2f64.powi(attempt.min(62) as i32);
    let ms = if factor > 0.0 {
        let rand: f64 = rand::random();
        let deviation = (rand * factor * ms).floor();
        if ((rand * 10.0).floor() as i64) & 1 == 0 {
            ms - deviation
        } else {
            ms + deviation
        }
    } else {
        ms
    };
    Duration::from_millis(ms.min(max.as_millis() as f64).max(0.0) as u64)
}

/// The state of the connection's task (it owns it: no lock).
struct Task {
    shared: Arc<Shared>,
    rx: queue::Receiver<Cmd>,
    engine: Option<EngineDriver>,
    open: bool,
    generation: u64,
    decoder: Decoder,
    sio_version: SioVersion,
    /// Reconnection attempts made since the connection was lost.
    attempts: u32,
    reconnecting: bool,
    reconnect_at: Option<Instant>,
    open_deadline: Option<Instant>,
    /// The namespaces the server has joined on this connection, with the socket id.
    joined: NspMap<String>,
    /// Protocol v4: when a `/` joined again counts as connected.
    root_join_at: Option<Instant>,
    /// When each namespace was last left.
    left_at: NspMap<Instant>,
    /// Namespaces to join again once [`REJOIN_DELAY`] after leaving them has passed.
    deferred: Vec<(Instant, String)>,
    /// Namespaces whose CONNECT is unanswered on this connection.
    pending: NspMap<()>,
    /// The timer of the earliest deadline (boxed: it must stay pinned).
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// How many inputs the task handles in one poll before it lets others run.
const BUDGET: usize = 64;

/// How long after leaving a namespace it is joined again.
const REJOIN_DELAY: Duration = Duration::from_millis(100);

/// How long socket.io 2.x gets to add a socket of `/` joined again.
const ROOT_JOIN_DELAY: Duration = Duration::from_millis(100);

/// The connection's task is the [`Task`] itself, polled by hand: each poll takes the
/// commands, the transport's outcomes and the timer in turn. (An `async` loop over
/// `select!` kept the task's state twice in its future — the argument and the moved
/// local — and the select's futures besides.)
impl Future for Task {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        for _ in 0..BUDGET {
            let mut progress = false;
            match this.rx.poll_recv(cx) {
                Poll::Ready(Some(Cmd::Close)) | Poll::Ready(None) => {
                    this.close_all();
                    return Poll::Ready(());
                }
                Poll::Ready(Some(cmd)) => {
                    this.on_cmd(cmd);
                    progress = true;
                }
                Poll::Pending => {}
            }
            if let Some(engine) = this.engine.as_mut() {
                if let Poll::Ready(input) = engine.poll_input(cx) {
                    this.feed(input);
                    progress = true;
                }
            }
            if this.poll_timer(cx).is_ready() {
                this.on_tick();
                progress = true;
            }
            if !progress {
                return Poll::Pending;
            }
        }
        // Still busy: yield, and come back at once.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Task {
    /// Whether the earliest deadline has passed; otherwise its timer is armed.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = [
            self.engine.as_ref().and_then(EngineDriver::deadline),
            self.reconnect_at,
            self.open_deadline,
            self.root_join_at,
            self.deferred.iter().map(|(at, _)| *at).min(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(deadline) = deadline else {
            self.timer = None;
            return Poll::Pending;
        };
        let deadline = tokio::time::Instant::from_std(deadline);
        let timer = match &mut self.timer {
            Some(t) => {
                if t.deadline() != deadline {
                    t.as_mut().reset(deadline);
                }
                t
            }
            None => self
                .timer
                .insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        timer.as_mut().poll(cx)
    }

    fn sockets(&self) -> Vec<Socket> {
        let mut sockets = lock(&self.shared.sockets);
        sockets.retain(|_, w| w.strong_count() > 0);
        sockets
            .values()
            .filter_map(Weak::upgrade)
            .map(Socket::from_inner)
            .collect()
    }

    fn socket(&self, nsp: &str) -> Option<Socket> {
        lock(&self.shared.sockets)
            .get(nsp)
            .and_then(Weak::upgrade)
            .map(Socket::from_inner)
    }

    fn feed(&mut self, input: Input) {
        let events = match self.engine.as_mut() {
            Some(e) => e.handle(input),
            None => return,
        };
        self.on_engine_events(events);
    }

    fn on_engine_events(&mut self, events: Vec<EngineEvent>) {
        for e in events {
            self.on_engine_event(e);
        }
    }

    fn on_tick(&mut self) {
        let now = now();
        if self.open_deadline.is_some_and(|d| now >= d) {
            self.open_deadline = None;
            self.engine = None;
            self.on_closed(CloseReason::TransportError(TransportError::Timeout), false);
        }
        if self.reconnect_at.is_some_and(|d| now >= d) {
            self.reconnect_at = None;
            self.attempt();
        }
        if self.root_join_at.is_some_and(|d| now >= d) {
            self.root_joined();
        }
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.deferred)
            .into_iter()
            .partition(|(at, _)| now >= *at);
        self.deferred = later;
        for (_, nsp) in due {
            if let Some(socket) = self.socket(&nsp) {
                if self.open {
                    self.begin_connect(&socket, false);
                }
            }
        }
        self.feed(Input::Tick);
    }

    fn open_engine(&mut self) {
        let cfg = &self.shared.config;
        self.generation += 1;
        let (driver, events) = EngineDriver::start(cfg.engine.clone(), cfg.endpoint.clone());
        self.engine = Some(driver);
        self.open = false;
        self.open_deadline = Some(now() + cfg.timeout);
        self.on_engine_events(events);
    }

    fn attempt(&mut self) {
        let n = self.attempts;
        let manager = self.shared.clone();
        manager.emit_local("reconnect_attempt", vec![Value::from(n)]);
        manager.emit_local("reconnecting", vec![Value::from(n)]);
        for s in self.sockets() {
            if s.is_active() && !s.connected() {
                s.emit_local("connecting", vec![]);
            }
        }
        self.open_engine();
    }

    fn on_cmd(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Connect(nsp) => {
                let Some(socket) = self.socket(&nsp) else {
                    return;
                };
                if self.open {
                    self.begin_connect(&socket, false);
                } else if self.engine.is_none() && !self.reconnecting {
                    self.open_engine();
                }
            }
            Cmd::SendConnect {
                nsp,
                auth,
                generation,
            } => {
                if generation == self.generation && self.open {
                    self.send_packet(&Packet::connect(nsp, Some(auth)));
                }
            }
            Cmd::Packet { packet, volatile } => {
                let connected = self.socket(&packet.nsp).is_some_and(|s| s.connected());
                if self.open && connected {
                    self.send_packet(&packet);
                } else if !volatile {
                    if let Some(s) = self.socket(&packet.nsp) {
                        s.buffer(packet);
                    }
                }
            }
            Cmd::Ack(packet) => {
                if self.open {
                    self.send_packet(&packet);
                }
            }
            Cmd::Dropped { nsp } | Cmd::Disconnect { nsp } => {
                // A socket left (Socket::disconnect did its side) or its last handle
                // went away: leave the namespace unless another socket of it wants it.
                // (socket.io closes the connection on a DISCONNECT for a namespace not
                // joined, so only a joined one is left.)
                self.leave_if_unwanted(&nsp);
                self.maybe_close();
            }
            Cmd::Close => {}
        }
    }

    /// Closes the connection once no socket wants it.
    fn maybe_close(&mut self) {
        if self.sockets().iter().any(Socket::is_active) {
            return;
        }
        self.reconnecting = false;
        self.reconnect_at = None;
        self.attempts = 0;
        if let Some(mut e) = self.engine.take() {
            e.handle(Input::Close);
        }
        self.open = false;
        self.open_deadline = None;
        self.pending.clear();
        self.joined.clear();
        self.left_at.clear();
        self.deferred.clear();
        self.root_join_at = None;
    }

    fn close_all(&mut self) {
        for s in self.sockets() {
            if s.connected() && self.open {
                self.send_packet(&Packet::disconnect(s.namespace()));
            }
            s.on_closed("io client disconnect", Closing::Ended);
        }
        self.maybe_close();
        self.shared.closed.store(true, Ordering::Release);
        registry::forget_closed();
        lock(&self.shared.sockets).clear();
    }

    /// Joins the socket's namespace (`at_open`: right after the handshake).
    fn begin_connect(&mut self, socket: &Socket, at_open: bool) {
        if !socket.is_active() || socket.connected() {
            return;
        }
        let nsp = socket.namespace().to_owned();
        if let Some(id) = self.joined.get(&nsp).cloned() {
            // The server has the namespace joined already (an earlier socket of it, or
            // socket.io 2.x's own `/`): this socket takes it over.
            self.hand_over(socket, id);
            return;
        }
        if self.sio_version == SioVersion::V4 && nsp == "/" {
            if at_open || self.root_join_at.is_some() {
                // socket.io 2.x connects every client to `/` on its own.
                return;
            }
            // Joining `/` again: socket.io 2.x takes the CONNECT without answering it
            // (it answered `/` in the handshake) and adds the socket on its next tick,
            // dropping what comes in the same batch: it counts as joined a moment later.
            let query = match socket.auth() {
                Auth::Static(v) => Some(v),
                _ => None,
            };
            self.send_packet(&Packet::connect(nsp, query));
            self.root_join_at = Some(now() + ROOT_JOIN_DELAY);
            return;
        }
        if let Some(&left) = self.left_at.get(&nsp) {
            // socket.io removes a namespace on its next tick after the DISCONNECT: a
            // CONNECT that comes in the same batch finds it still joined, and the
            // connection is closed. Join again a moment later.
            let at = left + REJOIN_DELAY;
            if now() < at {
                if !self.deferred.iter().any(|(_, n)| *n == nsp) {
                    self.deferred.push((at, nsp));
                }
                return;
            }
            self.left_at.remove(&nsp);
        }
        if self.pending.insert(nsp.clone(), ()).is_some() {
            // Its CONNECT is on the way (socket.io closes the connection on a second).
            return;
        }
        match socket.auth() {
            Auth::None => self.send_packet(&Packet::connect(nsp, None)),
            Auth::Static(v) => self.send_packet(&Packet::connect(nsp, Some(v))),
            Auth::Callback(f) => {
                let cmd = self.shared.cmd.clone();
                let generation = self.generation;
                tokio::spawn(async move {
                    let auth = f().await;
                    let _ = cmd.send(Cmd::SendConnect {
                        nsp,
                        auth,
                        generation,
                    });
                });
            }
        }
    }

    /// The namespace is joined on the server: `socket` is connected with `id`, or, when
    /// it does not want it any more, the namespace is left.
    fn hand_over(&mut self, socket: &Socket, id: String) {
        match socket.on_connected(id) {
            Some(buffered) => {
                for p in buffered {
                    self.send_packet(&p);
                }
            }
            None => self.send_packet(&Packet::disconnect(socket.namespace())),
        }
    }

    /// Leaves `nsp` on the server if it is joined and no active socket wants it.
    fn leave_if_unwanted(&mut self, nsp: &str) {
        if !self.joined.contains_key(nsp) || !self.open {
            return;
        }
        match self.socket(nsp) {
            Some(s) if s.is_active() => {
                if let Some(id) = self.joined.get(nsp).cloned() {
                    self.hand_over(&s, id);
                }
            }
            _ => self.send_packet(&Packet::disconnect(nsp)),
        }
    }

    /// `/` joined again on a socket.io 2.x server.
    fn root_joined(&mut self) {
        self.root_join_at = None;
        if !self.open {
            return;
        }
        let sid = self
            .engine
            .as_ref()
            .and_then(EngineDriver::sid)
            .unwrap_or_default();
        self.joined.insert("/".to_owned(), sid);
        self.leave_if_unwanted("/");
    }

    fn send_packet(&mut self, packet: &Packet) {
        if packet.data == PacketData::Disconnect {
            self.joined.remove(&packet.nsp);
            self.left_at.insert(packet.nsp.clone(), now());
            if packet.nsp == "/" {
                self.root_join_at = None;
            }
        }
        let encoded = encode_with(packet, self.sio_version);
        let Some(engine) = self.engine.as_mut() else {
            return;
        };
        let mut events = engine.send(Message::Text(encoded.text.into()));
        for a in encoded.attachments {
            events.extend(engine.send(Message::Binary(a)));
        }
        self.on_engine_events(events);
    }

    fn on_engine_event(&mut self, event: EngineEvent) {
        match event {
            EngineEvent::Open(handshake) => {
                self.open = true;
                self.pending.clear();
                self.joined.clear();
                self.left_at.clear();
                self.deferred.clear();
                self.open_deadline = None;
                self.decoder.reset();
                let manager = self.shared.clone();
                manager.emit_local("open", vec![]);
                if self.reconnecting {
                    manager.emit_local("reconnect", vec![Value::from(self.attempts)]);
                    self.reconnecting = false;
                }
                self.attempts = 0;
                tracing::debug!(sid = %handshake.sid, "engine.io open");
                for s in self.sockets() {
                    if s.is_active() {
                        self.begin_connect(&s, true);
                    }
                }
            }
            EngineEvent::Message(m) => {
                let decoded = match m {
                    Message::Text(t) => self.decoder.decode_text(&t),
                    Message::Binary(b) => self.decoder.decode_binary(b),
                };
                match decoded {
                    Ok(Some(packet)) => self.on_packet(packet),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::debug!("socket.io parse error: {e}");
                        if let Some(mut engine) = self.engine.take() {
                            engine.handle(Input::Close);
                        }
                        self.on_closed(CloseReason::ParseError(e.to_string()), true);
                    }
                }
            }
            EngineEvent::Heartbeat => self.shared.emit_local("ping", vec![]),
            EngineEvent::Upgraded(t) => tracing::debug!("upgraded to {t}"),
            EngineEvent::Closed { reason, was_open } => {
                self.engine = None;
                self.on_closed(reason, was_open);
            }
        }
    }

    /// The socket id a CONNECT reply gives.
    fn connect_id(&self, nsp: &str, payload: Option<&Value>) -> String {
        let sid = self
            .engine
            .as_ref()
            .and_then(EngineDriver::sid)
            .unwrap_or_default();
        connect_id(self.sio_version, sid, nsp, payload)
    }

    fn on_packet(&mut self, packet: Packet) {
        match &packet.data {
            PacketData::Connect(payload) => {
                let id = self.connect_id(&packet.nsp, payload.as_ref());
                self.joined.insert(packet.nsp.clone(), id);
            }
            PacketData::Disconnect => {
                self.joined.remove(&packet.nsp);
            }
            _ => {}
        }
        if matches!(
            packet.data,
            PacketData::Connect(_) | PacketData::ConnectError(_)
        ) {
            self.pending.remove(&packet.nsp);
        }
        let Some(socket) = self.socket(&packet.nsp) else {
            tracing::debug!(nsp = %packet.nsp, "packet for an unknown namespace");
            let automatic = self.sio_version == SioVersion::V4 && packet.nsp == "/";
            if matches!(packet.data, PacketData::Connect(_)) && !automatic {
                // Joined for a socket that is gone: leave.
                self.leave_if_unwanted(&packet.nsp);
            }
            return;
        };
        match packet.data {
            PacketData::Connect(_) => {
                if socket.connected() {
                    // A second CONNECT for a joined namespace: nothing new.
                    return;
                }
                if !socket.is_active() && self.sio_version == SioVersion::V4 && packet.nsp == "/" {
                    // socket.io 2.x's own `/`, before the socket wants it.
                    return;
                }
                let id = self.joined.get(&packet.nsp).cloned().unwrap_or_default();
                self.hand_over(&socket, id);
            }
            PacketData::ConnectError(value) => {
                let (message, data) = refusal(&value, self.sio_version);
                socket.on_refused(message, data);
                self.maybe_close();
            }
            PacketData::Disconnect => {
                socket.on_closed("io server disconnect", Closing::Ended);
                self.maybe_close();
            }
            PacketData::Event { event, args } => {
                if !socket.connected() {
                    tracing::debug!(nsp = %packet.nsp, "event for a namespace not joined");
                    return;
                }
                let ack = packet
                    .id
                    .map(|id| AckSender::new(packet.nsp.clone(), id, self.shared.cmd.clone()));
                socket.deliver(Event::new(event, args, ack));
            }
            PacketData::Ack { args } => {
                if let Some(id) = packet.id {
                    socket.resolve_ack(id, args);
                }
            }
        }
    }

    fn on_closed(&mut self, reason: CloseReason, was_open: bool) {
        self.open = false;
        self.pending.clear();
        self.joined.clear();
        self.left_at.clear();
        self.deferred.clear();
        self.root_join_at = None;
        self.open_deadline = None;
        self.decoder.reset();
        let manager = self.shared.clone();
        let text = reason.to_string();
        if was_open {
            manager.emit_local("close", vec![Value::from(reason.disconnect_reason())]);
            let garbage = matches!(
                reason,
                CloseReason::ParseError(_) | CloseReason::Handshake(_)
            );
            for s in self.sockets() {
                if s.connected() {
                    if garbage {
                        // The server sent what no Socket.IO server sends: `error` first.
                        s.emit_local("error", vec![Value::from(text.as_str())]);
                    }
                    s.on_closed(reason.disconnect_reason(), Closing::Lost);
                }
            }
        } else {
            for s in self.sockets() {
                if s.is_active() && !s.connected() {
                    s.on_transport_error(&reason, !self.shared.config.reconnection);
                }
            }
            manager.emit_local("error", vec![Value::from(text.as_str())]);
            if self.reconnecting {
                manager.emit_local("reconnect_error", vec![Value::from(text.as_str())]);
            }
        }
        if reason == CloseReason::ForcedClose {
            return;
        }
        if !self.sockets().iter().any(Socket::is_active) {
            return;
        }
        if !self.shared.config.reconnection {
            for s in self.sockets() {
                s.give_up(Error::Closed(reason.clone()));
            }
            return;
        }
        self.schedule_reconnect();
    }

    fn schedule_reconnect(&mut self) {
        let cfg = &self.shared.config;
        if self.attempts >= cfg.reconnection_attempts {
            self.reconnecting = false;
            self.attempts = 0;
            self.shared.emit_local("reconnect_failed", vec![]);
            for s in self.sockets() {
                s.give_up(Error::ConnectFailed);
            }
            return;
        }
        let delay = backoff(
            self.attempts,
            cfg.reconnection_delay,
            cfg.reconnection_delay_max,
            cfg.randomization_factor,
        );
        self.attempts += 1;
        self.reconnecting = true;
        self.reconnect_at = Some(now() + delay);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_like_socket_io_client() {
        let (base, max) = (Duration::from_millis(1000), Duration::from_millis(5000));
        let plain: Vec<u64> = (0..6)
            .map(|a| backoff(a, base, max, 0.0).as_millis() as u64)
            .collect();
        assert_eq!(plain, [1000, 2000, 4000, 5000, 5000, 5000]);
        for attempt in 0..4 {
            let want = (1000u64 << attempt).min(5000);
            for _ in 0..50 {
                let d = backoff(attempt, base, max, 0.5).as_millis() as u64;
                assert!(
                    d >= want / 2 && d <= (want * 3 / 2).min(5000),
                    "{attempt}: {d}"
                );
            }
        }
        // Far attempts do not overflow.
        assert_eq!(backoff(u32::MAX, base, max, 0.0), max);
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    /// The connection's task is the `Task` itself (see `impl Future for Task`): every
    /// client in a process holds one, so it stays small — the Engine.IO driver with the
    /// WebSocket's state inline (no buffer kept between frames), the endpoint shared, the
    /// namespace maps as vectors, no second copy of the state. At 720 bytes tokio's task
    /// allocation (header and trailer, 128-byte aligned) is 896 bytes; 16 more and it is
    /// 1 024.
    #[test]
    fn the_connection_task_stays_small() {
        let task = std::mem::size_of::<Task>();
        let driver = std::mem::size_of::<EngineDriver>();
        assert!(task <= 720, "Task is {task} bytes");
        assert!(driver <= 392, "EngineDriver is {driver} bytes");
        assert_eq!(std::mem::size_of::<crate::transport::Endpoint>(), 8);
    }
}
