//! The WebSocket transport: the session task, the upgrade probe, and frame conversion.
//!
//! tokio-tungstenite is used only here, behind [`WsStream`] and the two conversion
//! functions, so the WebSocket implementation can be swapped without touching sessions.

use std::sync::Arc;

use futures_util::future::{Either, FutureExt as _};
use futures_util::{SinkExt, StreamExt};
use sockio_protocol::engine::payload::{self, EncodedPacket};
use sockio_protocol::engine::{Packet, ProtocolVersion};
use sockio_protocol::Utf8Bytes;
use tokio::time::sleep_until;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_tungstenite::WebSocketStream;

use crate::error::CloseReason;
use crate::session::{FinalPacket, Session, TransportKind, Upgrade};
use crate::ws_io::WsIo;

/// Most packets the WebSocket task writes per flush.
const WRITE_BATCH: usize = 64;

/// A server-side WebSocket over an upgraded hyper connection.
pub(crate) type WsStream = WebSocketStream<WsIo>;

/// Wraps an upgraded connection. The read buffer starts at 1 KiB — idle sessions stay lean
/// and it grows to the size of any larger frame — and messages beyond `max_payload` are
/// refused with close code 1009.
pub(crate) async fn accept(io: WsIo, max_payload: usize) -> WsStream {
    let config = WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(8 * 1024)
        .max_message_size(Some(max_payload))
        .max_frame_size(Some(max_payload));
    WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await
}

fn to_ws_message(packet: EncodedPacket, version: ProtocolVersion, base64: bool) -> WsMessage {
    match packet {
        EncodedPacket::Text(t) => WsMessage::Text(text_frame(t)),
        EncodedPacket::Binary(b) if base64 => {
            WsMessage::Text(payload::base64_item(&b, version).into())
        }
        EncodedPacket::Binary(b) => WsMessage::Binary(Packet::encode_binary_frame(&b, version)),
    }
}

fn text_frame(t: Utf8Bytes) -> tungstenite::Utf8Bytes {
    // SAFETY: `Utf8Bytes` of the protocol crate holds valid UTF-8 by construction.
    unsafe { tungstenite::Utf8Bytes::from_bytes_unchecked(t.into_bytes()) }
}

/// What one frame from the client means.
enum Incoming {
    Packet(Packet),
    Invalid(sockio_protocol::engine::DecodeError),
    /// Control frames and the like: nothing for the session.
    Skip,
    Closed(CloseReason),
    TooBig,
}

fn classify(msg: Option<Result<WsMessage, WsError>>, version: ProtocolVersion) -> Incoming {
    match msg {
        None => Incoming::Closed(CloseReason::TransportClose),
        Some(Ok(WsMessage::Text(t))) => {
            // SAFETY: tungstenite's `Utf8Bytes` holds text it validated as UTF-8.
            let text = unsafe { Utf8Bytes::from_bytes_unchecked(bytes::Bytes::from(t)) };
            match Packet::decode_text(text, version) {
                Ok(p) => Incoming::Packet(p),
                Err(e) => Incoming::Invalid(e),
            }
        }
        Some(Ok(WsMessage::Binary(b))) => match Packet::decode_binary(b, version) {
            Ok(p) => Incoming::Packet(p),
            Err(e) => Incoming::Invalid(e),
        },
        Some(Ok(WsMessage::Close(_))) => Incoming::Closed(CloseReason::TransportClose),
        Some(Ok(_)) => Incoming::Skip,
        Some(Err(WsError::Capacity(CapacityError::MessageTooLong { .. }))) => Incoming::TooBig,
        Some(Err(e)) => {
            tracing::debug!(error = %e, "websocket error");
            Incoming::Closed(CloseReason::TransportClose)
        }
    }
}

/// Refuses an oversized message with close code 1009. The client may still be sending
/// it, and closing a socket with unread data resets the connection before the client
/// reads our close frame, so the rest is read and dropped first (bounded in time and bytes).
async fn close_too_big(ws: &mut WsStream) {
    use tokio::io::AsyncReadExt as _;
    let frame = CloseFrame {
        code: CloseCode::Size,
        reason: "message too big".into(),
    };
    let _ = ws.close(Some(frame)).await;
    let io = ws.get_mut();
    let mut buf = vec![0u8; 16 * 1024];
    let mut left: usize = 64 << 20;
    let drain = async {
        while left > 0 {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drain).await;
}

/// Closes a WebSocket the way Node's `ws` does: a close frame, then the client's answer is
/// awaited (bounded) before the TCP connection goes. Dropping the socket while the client
/// still sends would reset the connection and the client could lose the last frames.
async fn close_gracefully(ws: &mut WsStream) {
    let _ = ws.close(None).await;
    let drain = async { while let Some(Ok(_)) = ws.next().await {} };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), drain).await;
}

/// The task of a session opened by polling: its heartbeat, then its WebSocket once an
/// upgrade hands one over. Chained, so the task holds one phase's state at a time.
pub(crate) fn run_polling<D: Send + Sync + 'static>(
    session: Arc<Session<D>>,
) -> impl std::future::Future<Output = ()> + Send {
    let next = session.clone();
    polling_phase(session).then(move |ws| match ws {
        Some(ws) => Either::Left(run_websocket(next, ws)),
        None => Either::Right(std::future::ready(())),
    })
}

async fn polling_phase<D: Send + Sync + 'static>(session: Arc<Session<D>>) -> Option<WsStream> {
    let session = &session;
    loop {
        if session.close_if_overflowed() {
            return None;
        }
        {
            let mut st = session.lock();
            if st.closed.is_some() {
                return None;
            }
            if let Some(ws) = st.handoff.take() {
                return Some(*ws);
            }
        }
        let deadline = session.heartbeat_deadline();
        tokio::select! {
            _ = session.task_notify.wait() => {}
            _ = sleep_until(deadline) => {
                if !session.heartbeat_tick() {
                    return None;
                }
            }
        }
    }
}

/// The task of a session on WebSocket: writes its queue, reads the client's frames, runs
/// its heartbeat.
pub(crate) async fn run_websocket<D: Send + Sync + 'static>(
    session: Arc<Session<D>>,
    mut ws: WsStream,
) {
    let session = &session;
    let version = session.protocol;
    let base64 = session.lock().ws_base64;
    let mut batch: Vec<EncodedPacket> = Vec::new();
    // One timer for the life of the session, moved only when the deadline does: creating
    // and dropping a timer entry on every wake-up costs more than the write itself.
    let mut deadline = session.heartbeat_deadline();
    let sleep = tokio::time::sleep_until(deadline);
    tokio::pin!(sleep);
    loop {
        // Cleared before looking, so a packet queued after the look raises it again.
        session.out_notify.clear();
        let (closed, overflowed) = {
            let mut st = session.lock();
            // Bounded batches keep this task's buffers small whatever the queue holds.
            st.take_into(&mut batch, WRITE_BATCH);
            if st.has_queued() {
                // The rest goes in the next round, after a look at incoming frames.
                session.out_notify.raise();
            }
            st.ws_writing = false;
            let next = st.heartbeat_deadline();
            if next != deadline {
                deadline = next;
                sleep.as_mut().reset(deadline);
            }
            (st.closed, st.overflowed)
        };
        if overflowed {
            session.close(CloseReason::SlowClient, FinalPacket::Close);
            return;
        }
        if !batch.is_empty() {
            let write = async {
                for p in batch.drain(..) {
                    ws.feed(to_ws_message(p, version, base64)).await?;
                }
                ws.flush().await
            };
            tokio::pin!(write);
            // Most writes complete at once. One that cannot (the client's socket buffer is
            // full) marks the transport busy, and volatile packets are dropped meanwhile.
            let first = futures_util::FutureExt::now_or_never(&mut write);
            let written = if let Some(r) = first {
                r.is_ok()
            } else {
                session.lock().ws_writing = true;
                loop {
                    tokio::select! {
                        biased;
                        r = &mut write => break r.is_ok(),
                        // A client too slow to take what is queued is dropped at once; any
                        // other close lets the write finish first.
                        _ = session.task_notify.wait() => {
                            if session.close_if_overflowed() {
                                return;
                            }
                        }
                    }
                }
            };
            if !written {
                session.close(CloseReason::TransportClose, FinalPacket::Close);
                return;
            }
        }
        if closed.is_some() {
            close_gracefully(&mut ws).await;
            return;
        }
        tokio::select! {
            biased;
            msg = ws.next() => match classify(msg, version) {
                Incoming::Packet(p) => {
                    // Answers queued while handling this packet are written by this very
                    // task on its next round: no wake-up needed for them.
                    session.out_notify.unregister();
                    session.receive(p);
                }
                Incoming::Invalid(e) => session.parse_error(&e),
                Incoming::Skip => {}
                Incoming::Closed(reason) => {
                    session.close(reason, FinalPacket::Close);
                    return;
                }
                Incoming::TooBig => {
                    tracing::debug!(sid = %session.sid, "websocket message over max payload");
                    close_too_big(&mut ws).await;
                    session.close(CloseReason::TransportClose, FinalPacket::Close);
                    return;
                }
            },
            // Whatever raises `task_notify` (a close, an overflow) raises this too.
            _ = session.out_notify.wait() => {}
            _ = &mut sleep => {
                session.heartbeat_tick();
                // Never leave an elapsed timer armed: it would fire again at once.
                deadline = session
                    .heartbeat_deadline()
                    .max(tokio::time::Instant::now() + std::time::Duration::from_millis(1));
                sleep.as_mut().reset(deadline);
            }
        }
    }
}

/// Reads the next Engine.IO packet of a probe WebSocket, skipping control frames.
async fn next_packet(ws: &mut WsStream, version: ProtocolVersion) -> Result<Packet, bool> {
    loop {
        match classify(ws.next().await, version) {
            Incoming::Packet(p) => return Ok(p),
            Incoming::Skip => continue,
            Incoming::TooBig => return Err(true),
            Incoming::Invalid(_) | Incoming::Closed(_) => return Err(false),
        }
    }
}

/// Drives an upgrade probe: `2probe` → `3probe`, polling released with `noop`, then `5`
/// hands the WebSocket to the session task. Anything else, or the upgrade timeout, closes
/// the probe and leaves the session on polling.
pub(crate) async fn probe<D: Send + Sync + 'static>(
    session: Arc<Session<D>>,
    mut ws: WsStream,
    ws_base64: bool,
) {
    let version = session.protocol;
    let timeout = session.shared.config.upgrade_timeout;
    let outcome = tokio::time::timeout(timeout, async {
        match next_packet(&mut ws, version).await {
            Ok(Packet::Ping(p)) if p == "probe" => {}
            Ok(_) => return Err(false),
            Err(too_big) => return Err(too_big),
        }
        let pong = WsMessage::Text(tungstenite::Utf8Bytes::from_static("3probe"));
        if ws.send(pong).await.is_err() {
            return Err(false);
        }
        session.lock().upgrade = Upgrade::Probed;
        session.out_notify.raise();
        match next_packet(&mut ws, version).await {
            Ok(Packet::Upgrade) => Ok(()),
            Ok(_) => Err(false),
            Err(too_big) => Err(too_big),
        }
    })
    .await;
    match outcome {
        Ok(Ok(())) => {
            let refused = {
                let mut st = session.lock();
                if st.closed.is_some() {
                    Some(ws)
                } else {
                    st.transport = TransportKind::WebSocket;
                    st.upgrade = Upgrade::Done;
                    st.ws_base64 = ws_base64;
                    st.handoff = Some(Box::new(ws));
                    None
                }
            };
            if let Some(mut ws) = refused {
                close_gracefully(&mut ws).await;
                return;
            }
            tracing::debug!(sid = %session.sid, "upgraded to websocket");
            session.task_notify.raise();
            session.out_notify.raise();
        }
        failed => {
            let too_big = matches!(failed, Ok(Err(true)));
            tracing::debug!(sid = %session.sid, "upgrade probe failed");
            {
                let mut st = session.lock();
                if st.upgrade != Upgrade::Done {
                    st.upgrade = Upgrade::None;
                }
            }
            session.out_notify.raise();
            if too_big {
                close_too_big(&mut ws).await;
            } else {
                close_gracefully(&mut ws).await;
            }
        }
    }
}
