//! Sessions: the state every transport of one Engine.IO connection shares, and
//! [`Socket`], the handle the application holds.
//!
//! A session owns one outgoing queue whichever transport carries it: a polling GET drains
//! it (at most `max_packets_per_poll` packets a response), a WebSocket task drains it
//! frame by frame, and an upgrade hands the same queue over from the one to the other.
//! One task per session drives the heartbeat and, once there is a WebSocket, its I/O.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use sockio_protocol::engine::payload::EncodedPacket;
use sockio_protocol::engine::{Message, Packet, ProtocolVersion};
use sockio_protocol::Utf8Bytes;
use tokio::time::Instant;

use crate::engine::Shared;
use crate::error::{CloseReason, SendError};
use crate::handshake::Handshake;
use crate::heartbeat::{Heartbeat, HeartbeatAction};
use crate::sid::Sid;
use crate::signal::Signal;
use crate::websocket::WsStream;

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

/// How a v3 polling session wants its payloads.
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

/// The packet that releases a pending GET when its session closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FinalPacket {
    /// `1`: the server closed the session.
    Close,
    /// `6`: the client closed it (its own `close` packet).
    Noop,
}

/// How long a closed polling session with packets still queued waits for its last GET.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub(crate) struct State {
    pub(crate) transport: TransportKind,
    pub(crate) upgrade: Upgrade,
    queue: VecDeque<EncodedPacket>,
    queued_bytes: usize,
    pub(crate) get_pending: bool,
    pub(crate) post_pending: bool,
    pub(crate) closed: Option<CloseReason>,
    /// The outgoing queue overflowed: the session task closes the session (reason
    /// [`CloseReason::SlowClient`]) — not the sender, which may be walking a room.
    pub(crate) overflowed: bool,
    pub(crate) final_packet: FinalPacket,
    heartbeat: Heartbeat,
    /// Whether binary goes over the WebSocket as `b4<base64>` text (v3 `b64=1`; decided
    /// by the WebSocket request's own query, as engine.io does per transport).
    pub(crate) ws_base64: bool,
    /// A WebSocket write is in progress (volatile packets are dropped meanwhile).
    pub(crate) ws_writing: bool,
    /// The WebSocket an upgrade hands to the session task.
    pub(crate) handoff: Option<Box<WsStream>>,
}

impl State {
    /// Takes at most `max` queued packets.
    pub(crate) fn take(&mut self, max: usize) -> Vec<EncodedPacket> {
        let n = self.queue.len().min(max);
        let batch: Vec<EncodedPacket> = self.queue.drain(..n).collect();
        self.queued_bytes -= batch.iter().map(EncodedPacket::len).sum::<usize>();
        batch
    }

    /// Moves up to `max` queued packets into `out` (kept allocated across calls). Once
    /// the queue is empty, the room a burst made it grow to is given back.
    pub(crate) fn take_into(&mut self, out: &mut Vec<EncodedPacket>, max: usize) {
        let n = self.queue.len().min(max);
        for p in self.queue.drain(..n) {
            self.queued_bytes -= p.len();
            out.push(p);
        }
        if self.queue.is_empty() && self.queue.capacity() > 64 {
            self.queue.shrink_to(16);
        }
    }

    /// When the heartbeat next needs attention.
    pub(crate) fn heartbeat_deadline(&self) -> Instant {
        self.heartbeat.next_deadline()
    }

    pub(crate) fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }
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
        let heartbeat = Heartbeat::new(protocol, c.ping_interval, c.ping_timeout, Instant::now());
        Arc::new(Self {
            sid: Sid::generate(),
            protocol,
            polling_format,
            handshake,
            data,
            state: Mutex::new(State {
                transport,
                upgrade: Upgrade::None,
                queue: VecDeque::new(),
                queued_bytes: 0,
                get_pending: false,
                post_pending: false,
                closed: None,
                overflowed: false,
                final_packet: FinalPacket::Close,
                ws_base64: false,
                ws_writing: false,
                heartbeat,
                handoff: None,
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
        {
            let mut st = self.lock();
            if st.closed.is_some() {
                return Err(SendError::Closed);
            }
            if st.overflowed {
                return Err(SendError::QueueFull);
            }
            let limit = self.shared.config.max_buffered_bytes;
            for packet in packets {
                let len = packet.len();
                if st.queued_bytes + len > limit {
                    // What was queued is discarded now; the close itself (and the
                    // application's close handlers) run on the session's own task, so a
                    // sender never re-enters the application from here.
                    st.overflowed = true;
                    st.queue.clear();
                    st.queued_bytes = 0;
                    drop(st);
                    self.shared
                        .slow_client_closes
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!(sid = %self.sid, limit, "outgoing queue full: closing slow client");
                    self.task_notify.raise();
                    self.out_notify.raise();
                    return Err(SendError::QueueFull);
                }
                st.queued_bytes += len;
                st.queue.push_back(packet);
            }
        }
        self.out_notify.raise();
        Ok(())
    }

    /// Carries out the close an overflow asked for; true when there was one.
    pub(crate) fn close_if_overflowed(self: &Arc<Self>) -> bool {
        if !self.lock().overflowed {
            return false;
        }
        self.close(CloseReason::SlowClient, FinalPacket::Close);
        true
    }

    /// Closes the session once: removes it, wakes its writers and task, tells the handler.
    pub(crate) fn close(self: &Arc<Self>, reason: CloseReason, final_packet: FinalPacket) {
        let draining = {
            let mut st = self.lock();
            if st.closed.is_some() {
                return;
            }
            st.closed = Some(reason);
            st.final_packet = final_packet;
            if reason != CloseReason::ForcedClose {
                // Errors, timeouts and shutdown discard what was queued (engine.io does);
                // only a plain server-side close delivers it first.
                st.queue.clear();
                st.queued_bytes = 0;
            }
            reason == CloseReason::ForcedClose && st.transport == TransportKind::Polling
        };
        if draining {
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
        tracing::debug!(sid = %self.sid, %reason, "session closed");
        self.shared.handler.on_close(&Socket(self.clone()), reason);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed.is_some()
    }

    /// Handles one packet from the client, whichever transport brought it.
    /// Returns false when the session closed because of it.
    pub(crate) fn receive(self: &Arc<Self>, packet: Packet) -> bool {
        match packet {
            Packet::Message(m) => {
                self.shared.handler.on_message(&Socket(self.clone()), m);
            }
            Packet::Pong(_) if self.protocol == ProtocolVersion::V4 => {
                self.lock().heartbeat.on_pong(Instant::now());
            }
            Packet::Ping(_) if self.protocol == ProtocolVersion::V3 => {
                self.lock().heartbeat.on_client_ping(Instant::now());
                let _ = self.enqueue(EncodedPacket::text("3"));
            }
            Packet::Ping(_) | Packet::Pong(_) => {
                tracing::debug!(sid = %self.sid, "invalid heartbeat direction");
                self.close(CloseReason::TransportError, FinalPacket::Close);
                return false;
            }
            Packet::Close => {
                self.close(CloseReason::TransportClose, FinalPacket::Noop);
                return false;
            }
            // `upgrade` outside a probe, `open` and `noop` from a client mean nothing.
            Packet::Upgrade | Packet::Open(_) | Packet::Noop => {}
        }
        true
    }

    /// A decoding failure of client input: logged, and the session closes.
    pub(crate) fn parse_error(self: &Arc<Self>, err: &dyn std::fmt::Display) {
        tracing::debug!(sid = %self.sid, error = %err, "invalid packet from client");
        self.close(CloseReason::ParseError, FinalPacket::Close);
    }

    /// Runs the heartbeat; returns when the deadline passed with something done.
    pub(crate) fn heartbeat_tick(self: &Arc<Self>) -> bool {
        let action = self.lock().heartbeat.poll(Instant::now());
        match action {
            HeartbeatAction::Wait => true,
            HeartbeatAction::SendPing => {
                let _ = self.enqueue(EncodedPacket::text("2"));
                true
            }
            HeartbeatAction::TimedOut => {
                tracing::debug!(sid = %self.sid, "heartbeat timed out");
                self.close(CloseReason::PingTimeout, FinalPacket::Close);
                false
            }
        }
    }

    pub(crate) fn heartbeat_deadline(&self) -> Instant {
        self.lock().heartbeat.next_deadline()
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
        self.0.lock().transport
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
        let st = self.0.lock();
        st.closed.is_none()
            && match st.transport {
                TransportKind::WebSocket => !st.ws_writing,
                TransportKind::Polling => st.get_pending,
            }
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
            Handshake {
                headers: http::HeaderMap::new(),
                uri: http::Uri::default(),
                remote_addr: None,
                issued: std::time::SystemTime::UNIX_EPOCH,
            },
            D::default(),
        )
    }
}
