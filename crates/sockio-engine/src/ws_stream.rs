//! The WebSocket stream of a session: its setup, the conversion between frames and
//! Engine.IO packets, and closing it well.
//!
//! tokio-tungstenite is used only here, behind [`WsStream`] and the conversion
//! functions, so the WebSocket implementation can be swapped without touching sessions.

use futures_util::StreamExt;
use sockio_protocol::engine::{Packet, ProtocolVersion};
use sockio_protocol::Utf8Bytes;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_tungstenite::WebSocketStream;

use crate::error::CloseReason;
use crate::ws_io::WsIo;

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

/// What one frame from the client means.
pub(crate) enum Incoming {
    Packet(Packet),
    Invalid(sockio_protocol::engine::DecodeError),
    /// Control frames and the like: nothing for the session.
    Skip,
    Closed(CloseReason),
    TooBig,
}

pub(crate) fn classify(
    msg: Option<Result<WsMessage, WsError>>,
    version: ProtocolVersion,
) -> Incoming {
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
pub(crate) async fn close_too_big(ws: &mut WsStream) {
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
pub(crate) async fn close_gracefully(ws: &mut WsStream) {
    let _ = ws.close(None).await;
    let drain = async { while let Some(Ok(_)) = ws.next().await {} };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), drain).await;
}

/// Reads the next Engine.IO packet of a probe WebSocket, skipping control frames.
pub(crate) async fn next_packet(
    ws: &mut WsStream,
    version: ProtocolVersion,
) -> Result<Packet, bool> {
    loop {
        match classify(ws.next().await, version) {
            Incoming::Packet(p) => return Ok(p),
            Incoming::Skip => continue,
            Incoming::TooBig => return Err(true),
            Incoming::Invalid(_) | Incoming::Closed(_) => return Err(false),
        }
    }
}

/// `3probe`: the answer to a probe's `2probe`.
pub(crate) fn probe_pong() -> WsMessage {
    WsMessage::Text(tungstenite::Utf8Bytes::from_static("3probe"))
}
