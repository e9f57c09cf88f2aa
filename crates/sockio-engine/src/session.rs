//! Sessions: the state every transport of one Engine.IO connection shares, the engine's
//! state they point back to, the application's [`Handler`], and [`Socket`], the handle
//! the application holds.
//!
//! The protocol itself is [`SessionState`] (`proto`); a [`Session`] holds it behind a lock
//! and carries out what it answers: waking the transport's writer, telling the handler,
//! forgetting a closed session. One outgoing queue serves whichever transport carries the
//! session: a polling GET drains it, a WebSocket task drains it frame by frame, and an
//! upgrade hands the same queue over from the one to the other.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use sockio_protocol::engine::payload::EncodedPacket;
use sockio_protocol::engine::{Message, Packet, ProtocolVersion};
use sockio_protocol::Utf8Bytes;

use crate::config::EngineConfig;
use crate::error::{CloseReason, SendError};
use crate::handshake::Handshake;
pub use crate::proto::TransportKind;
use crate::proto::{Action, Closed, FinalPacket, PollingFormat, Push, SessionState};
use crate::registry::Registry;
use crate::sid::Sid;
use crate::signal::Signal;
use crate::stats::EngineStats;
use crate::ws_stream::WsStream;

/// What the application does with sessions. Callbacks run on the connection's task and
/// must not block; hand long work to a task of your own.
///
/// ```
/// use sockio_engine::{Handler, Socket, Message, CloseReason};
///
/// struct Echo;
/// impl Handler<()> for Echo {
///     fn on_message(&self, socket: &Socket<()>, message: Message) {
///         let _ = socket.send(message);
///     }
/// }
/// ```
pub trait Handler<D>: Send + Sync + 'static {
    /// A session opened. Packets sent from here follow the `open` packet.
    fn on_open(&self, socket: &Socket<D>) {
        let _ = socket;
    }
    /// A message arrived.
    fn on_message(&self, socket: &Socket<D>, message: Message);
    /// The session closed; called once.
    fn on_close(&self, socket: &Socket<D>, reason: CloseReason) {
        let _ = (socket, reason);
    }
}

/// What every session of an engine shares: configuration, handler, the live sessions.
/// Sessions and this state point at each other, so they live in one module.
pub(crate) struct Shared<D> {
    /// Sessions closed because their outgoing queue passed its bound.
    pub(crate) slow_client_closes: std::sync::atomic::AtomicU64,
    /// Traffic counters (relaxed atomics).
    pub(crate) stats: EngineStats,
    pub(crate) config: EngineConfig,
    pub(crate) handler: Arc<dyn Handler<D>>,
    pub(crate) sessions: Registry<Session<D>>,
    /// The tasks serving connections and sessions, for shutdown.
    pub(crate) tasks: Arc<crate::tasks::Tasks>,
    /// The WebSocket sessions' heartbeat timers.
    pub(crate) heartbeats: crate::heartbeats::Heartbeats,
}

impl<D> Shared<D> {
    pub(crate) fn new(config: EngineConfig, handler: Arc<dyn Handler<D>>) -> Self {
        let heartbeats = crate::heartbeats::Heartbeats::new(crate::heartbeats::grain_for(
            config.ping_interval,
            config.ping_timeout,
        ));
        Self {
            heartbeats,
            slow_client_closes: Default::default(),
            stats: EngineStats::default(),
            config,
            handler,
            sessions: Registry::new(),
            tasks: Arc::default(),
        }
    }
}

/// How long a closed polling session with packets still queued waits for its last GET.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The clock of the state machine: tokio's, so that tests with paused time drive it.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// A session's state behind its lock: the protocol's, and the WebSocket an upgrade hands
/// to the session's task.
pub(crate) struct State {
    pub(crate) proto: SessionState,
    pub(crate) handoff: Option<Box<WsStream>>,
    /// The HTTP connections its polling requests came on, closed once it has upgraded.
    pub(crate) polling_connections: Vec<std::sync::Weak<Signal>>,
}

pub(crate) struct Session<D> {
    pub(crate) sid: Sid,
    pub(crate) protocol: ProtocolVersion,
    pub(crate) polling_format: PollingFormat,
    pub(crate) handshake: Handshake,
    pub(crate) data: D,
    pub(crate) shared: Arc<Shared<D>>,
    state: Mutex<State>,
    /// Wakes whoever writes the queue out: a pending GET or the WebSocket task.
    pub(crate) out_notify: Signal,
    /// Wakes the session task: close, or a WebSocket handed over.
    pub(crate) task_notify: Signal,
}

impl<D: Send + Sync + 'static> Session<D> {
    pub(crate) fn new(
        shared: Arc<Shared<D>>,
        protocol: ProtocolVersion,
        transport: TransportKind,
        polling_format: PollingFormat,
        handshake: Handshake,
        data: D,
    ) -> Arc<Self> {
        let c = &shared.config;
        let proto = SessionState::new(protocol, transport, c.ping_interval, c.ping_timeout, now());
        Arc::new(Self {
            sid: Sid::generate(),
            protocol,
            polling_format,
            handshake,
            data,
            state: Mutex::new(State {
                proto,
                handoff: None,
                polling_connections: Vec::new(),
            }),
            out_notify: Signal::default(),
            task_notify: Signal::default(),
            shared,
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a panic while holding it; the state is still consistent
        // enough to close the session, so keep going rather than cascade the panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues an encoded packet for whichever transport is current.
    pub(crate) fn enqueue(self: &Arc<Self>, packet: EncodedPacket) -> Result<(), SendError> {
        self.enqueue_all(std::iter::once(packet))
    }

    /// Queues several encoded packets back to back, with nothing interleaved (a
    /// Socket.IO packet and its binary attachments).
    pub(crate) fn enqueue_all(
        self: &Arc<Self>,
        packets: impl IntoIterator<Item = EncodedPacket>,
    ) -> Result<(), SendError> {
        self.push_packets(packets, true)
    }

    /// Queues the `open` packet: like [`Session::enqueue`], but not counted in the
    /// engine's [`EngineStats`], which counts message packets.
    pub(crate) fn enqueue_open(self: &Arc<Self>, packet: EncodedPacket) -> Result<(), SendError> {
        self.push_packets(std::iter::once(packet), false)
    }

    fn push_packets(
        self: &Arc<Self>,
        packets: impl IntoIterator<Item = EncodedPacket>,
        counted: bool,
    ) -> Result<(), SendError> {
        let limit = self.shared.config.max_buffered_bytes;
        let (mut count, mut bytes) = (0u64, 0u64);
        let tally = packets.into_iter().inspect(|p| {
            count += 1;
            bytes += p.len() as u64;
        });
        let pushed = self.lock().proto.push(tally, limit);
        match pushed {
            Push::Queued => {
                if counted {
                    self.shared.stats.sent(count, bytes);
                }
                self.out_notify.raise();
                Ok(())
            }
            Push::Closed => Err(SendError::Closed),
            Push::Full => Err(SendError::QueueFull),
            Push::Overflowed => {
                // What was queued is discarded; the close itself (and the application's
                // close handlers) run on the session's own task, so a sender never
                // re-enters the application from here.
                self.shared
                    .slow_client_closes
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(sid = %self.sid, limit, "outgoing queue full: closing slow client");
                self.task_notify.raise();
                self.out_notify.raise();
                Err(SendError::QueueFull)
            }
        }
    }

    /// Carries out the close an overflow asked for; true when there was one.
    pub(crate) fn close_if_overflowed(self: &Arc<Self>) -> bool {
        let closed = self.lock().proto.close_overflowed();
        match closed {
            Some(c) => {
                self.closed(c);
                true
            }
            None => false,
        }
    }

    /// Closes the session once: removes it, wakes its writers and task, tells the handler.
    pub(crate) fn close(self: &Arc<Self>, reason: CloseReason, final_packet: FinalPacket) {
        let closed = self.lock().proto.close(reason, final_packet);
        if let Some(c) = closed {
            self.closed(c);
        }
    }

    /// Carries out a close the state machine reported.
    pub(crate) fn closed(self: &Arc<Self>, closed: Closed) {
        if closed.draining {
            // As engine.io: a server-side close on polling delivers what is queued, then
            // the close packet in a response of its own (JS clients handle a close packet
            // before the messages that came with it) — to the pending GET or the next
            // one — so the session stays reachable until then, or the close timeout.
            let session = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(CLOSE_TIMEOUT).await;
                session.shared.sessions.remove(&session.sid);
            });
        } else {
            self.shared.sessions.remove(&self.sid);
        }
        self.out_notify.raise();
        self.task_notify.raise();
        tracing::debug!(sid = %self.sid, reason = %closed.reason, "session closed");
        self.shared
            .handler
            .on_close(&Socket(self.clone()), closed.reason);
    }

    /// Carries out what the state machine answered to an input. False when the session
    /// closed because of it.
    pub(crate) fn act(self: &Arc<Self>, action: Action) -> bool {
        match action {
            Action::None => true,
            Action::Flush => {
                self.out_notify.raise();
                true
            }
            Action::Deliver(m) => {
                self.shared.handler.on_message(&Socket(self.clone()), m);
                true
            }
            Action::Close(c) => {
                self.closed(c);
                false
            }
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().proto.is_closed()
    }

    /// Handles one packet from the client, whichever transport brought it.
    /// Returns false when the session closed because of it.
    pub(crate) fn receive(self: &Arc<Self>, packet: Packet) -> bool {
        if let Packet::Message(m) = packet {
            self.shared.stats.received(message_len(&m));
            // Messages change no state (see `SessionState::handle_packet`): no lock.
            self.shared.handler.on_message(&Socket(self.clone()), m);
            return true;
        }
        let action = self.lock().proto.handle_packet(packet, now());
        self.act(action)
    }

    /// A decoding failure of client input: logged, and the session closes.
    pub(crate) fn parse_error(self: &Arc<Self>, err: &dyn std::fmt::Display) {
        tracing::debug!(sid = %self.sid, error = %err, "invalid packet from client");
        let action = self.lock().proto.handle_parse_error();
        self.act(action);
    }

    /// Runs the heartbeat; false when the session closed because of it.
    pub(crate) fn heartbeat_tick(self: &Arc<Self>) -> bool {
        let action = self.lock().proto.handle_timeout(now());
        if let Action::Close(_) = action {
            tracing::debug!(sid = %self.sid, "heartbeat timed out");
        }
        self.act(action)
    }

    /// Runs the heartbeat for the WebSocket task, which writes the ping it queues on its
    /// next round (so nobody is woken for it): when the heartbeat is next due, `None` when
    /// the session closed because of it. One look at the state for both.
    pub(crate) fn heartbeat_tick_ws(self: &Arc<Self>) -> Option<Instant> {
        let (action, next) = {
            let mut st = self.lock();
            let action = st.proto.handle_timeout(now());
            (action, st.proto.poll_timeout())
        };
        match action {
            Action::Flush => Some(next),
            Action::Close(_) => {
                tracing::debug!(sid = %self.sid, "heartbeat timed out");
                self.act(action);
                None
            }
            action => self.act(action).then_some(next),
        }
    }

    /// Remembers the HTTP connection a polling request came on (a few at most: a client
    /// polls on one and posts on another).
    pub(crate) fn polling_connection(&self, closer: Option<&crate::ConnectionCloser>) {
        let Some(closer) = closer else { return };
        let mut st = self.lock();
        let known = &mut st.polling_connections;
        known.retain(|c| c.strong_count() > 0);
        if known.len() < 4 && !known.iter().any(|c| std::ptr::eq(c.as_ptr(), &*closer.0)) {
            known.push(Arc::downgrade(&closer.0));
        }
    }

    /// Closes the HTTP connections of the polling requests once they are idle: the
    /// session has upgraded, its client will not poll again.
    pub(crate) fn close_polling_connections(&self) {
        let known = std::mem::take(&mut self.lock().polling_connections);
        for closer in known.iter().filter_map(std::sync::Weak::upgrade) {
            closer.raise();
        }
    }
}

/// The length of message `m` as [`EngineStats`] counts it: a text packet's type digit
/// and data, a binary packet's data.
fn message_len(m: &Message) -> usize {
    match m {
        Message::Binary(b) => b.len(),
        Message::Text(t) => 1 + t.len(),
    }
}

/// A handle on one Engine.IO session, given to the [`crate::Handler`]. Cheap to clone.
///
/// `D` is the application's per-session data, created with `Default` when the session
/// opens and reachable from every callback with [`Socket::data`].
pub struct Socket<D>(pub(crate) Arc<Session<D>>);

impl<D> Clone for Socket<D> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<D> std::fmt::Debug for Socket<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket").field("sid", &self.0.sid).finish()
    }
}

/// A handle on a session that does not keep it alive; see [`Socket::downgrade`].
pub struct WeakSocket<D>(std::sync::Weak<Session<D>>);

impl<D> Clone for WeakSocket<D> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<D> WeakSocket<D> {
    /// The session, unless it is gone (closed and no longer referenced).
    pub fn upgrade(&self) -> Option<Socket<D>> {
        self.0.upgrade().map(Socket)
    }
}

impl<D: Send + Sync + 'static> Socket<D> {
    /// The session id.
    pub fn sid(&self) -> Sid {
        self.0.sid
    }

    /// A handle that does not keep the session alive.
    pub fn downgrade(&self) -> WeakSocket<D> {
        WeakSocket(Arc::downgrade(&self.0))
    }

    /// The Engine.IO revision the client speaks.
    pub fn protocol(&self) -> ProtocolVersion {
        self.0.protocol
    }

    /// The transport in use now.
    pub fn transport(&self) -> TransportKind {
        self.0.lock().proto.transport()
    }

    /// The request that opened the session.
    pub fn handshake(&self) -> &Handshake {
        &self.0.handshake
    }

    /// The application's per-session data.
    pub fn data(&self) -> &D {
        &self.0.data
    }

    /// Sends a message.
    pub fn send(&self, message: Message) -> Result<(), SendError> {
        let packet = match message {
            Message::Binary(b) => EncodedPacket::Binary(b),
            Message::Text(t) => {
                let mut s = String::with_capacity(t.len() + 1);
                s.push('4');
                s.push_str(&t);
                EncodedPacket::Text(Utf8Bytes::from(s))
            }
        };
        self.0.enqueue(packet)
    }

    /// Sends a text message.
    pub fn send_text(&self, text: impl Into<Utf8Bytes>) -> Result<(), SendError> {
        self.send(Message::Text(text.into()))
    }

    /// Sends a binary message.
    pub fn send_binary(&self, data: impl Into<Bytes>) -> Result<(), SendError> {
        self.send(Message::Binary(data.into()))
    }

    /// Queues an already encoded packet (a text packet with its type digit, e.g. `4...`),
    /// so one encoding can be shared by many sessions.
    pub fn send_encoded(&self, packet: EncodedPacket) -> Result<(), SendError> {
        self.0.enqueue(packet)
    }

    /// Queues several encoded packets back to back, nothing else interleaved: a
    /// Socket.IO packet followed by its binary attachments.
    pub fn send_all(
        &self,
        packets: impl IntoIterator<Item = EncodedPacket>,
    ) -> Result<(), SendError> {
        self.0.enqueue_all(packets)
    }

    /// Whether a packet sent now would go out at once: a WebSocket not in the middle of
    /// a write, or a polling session with a GET waiting. Volatile packets are dropped
    /// otherwise.
    pub fn is_writable(&self) -> bool {
        self.0.lock().proto.is_writable()
    }

    /// Whether the session is closed.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    /// Closes the session (reason `forced close`). Packets already queued are still
    /// flushed to a WebSocket or a pending GET.
    pub fn close(&self) {
        self.0.close(CloseReason::ForcedClose, FinalPacket::Close);
    }

    /// Closes the session with a given reason.
    pub fn close_with(&self, reason: CloseReason) {
        self.0.close(reason, FinalPacket::Close);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A polling session of `engine`, not registered.
    pub(crate) fn polling_session<D: Default + Send + Sync + 'static>(
        engine: &crate::Engine<D>,
    ) -> Arc<Session<D>> {
        Session::new(
            engine.shared.clone(),
            ProtocolVersion::V4,
            TransportKind::Polling,
            PollingFormat::V4,
            Handshake::from_head(
                bytes::Bytes::new(),
                http::Uri::default(),
                None,
                std::time::SystemTime::UNIX_EPOCH,
            ),
            D::default(),
        )
    }
}
