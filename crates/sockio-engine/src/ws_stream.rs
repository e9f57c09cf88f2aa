//! The WebSocket stream of a session (RFC 6455, server side): frames read and turned into
//! Engine.IO packets, control frames answered, and closing it well. Frames going out are
//! written by `ws_write`; this writes only its own control frames.
//!
//! An idle connection holds no read buffer: a read lands in a buffer on the stack, the
//! frames complete in it are taken out at once, and only the bytes of a frame not read
//! whole yet are kept — in a buffer of the connection's own, freed once they are used.
//! (tungstenite, used here before, kept a read buffer of its own for the life of each
//! connection: 1 KiB of the ~6.5 KiB an idle connection cost.)
//!
//! What the bytes mean (frame heads, fragments, close codes, unmasking) is `sockio-ws`'s,
//! shared with the client; the reads and buffers are this module's.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use sockio_protocol::engine::{Packet, ProtocolVersion};
use sockio_protocol::Utf8Bytes;
use sockio_ws::{
    opcode, parse, write_head, Event, FrameError, Message, Parse, Pending, Reassembler, Role,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};

use crate::error::CloseReason;
use crate::ws_io::WsIo;

/// The read buffer on the stack, per read.
const STACK_READ: usize = 4096;
/// Reads into a connection's own buffer (a frame not read whole) take at least this much.
const MIN_READ: usize = 4096;

/// A server-side WebSocket over a connection whose `101` has been written.
pub(crate) struct WsStream {
    io: WsIo,
    /// Bytes read and not used yet: the start of a frame not read whole. Unallocated
    /// between frames.
    pending: Pending,
    /// A data message arriving in fragments (one pointer; a buffer only while one is).
    messages: Reassembler,
    /// Control frames of ours not written yet (pongs, close): they leave before anything
    /// else.
    control: Vec<u8>,
    max_payload: usize,
    close_sent: bool,
    close_received: bool,
}

/// What reading a WebSocket gave.
pub(crate) enum WsEvent {
    Text(Utf8Bytes),
    Binary(Bytes),
    /// The client closed, the connection ended, or the client broke the protocol.
    Closed,
    /// A message over `max_payload`.
    TooBig,
}

/// Why reading stopped.
enum ReadError {
    Closed,
    TooBig,
}

impl From<FrameError> for ReadError {
    /// A message over the limit is refused with 1009; any other broken rule ends the
    /// connection.
    fn from(e: FrameError) -> ReadError {
        match e {
            FrameError::TooBig => ReadError::TooBig,
            _ => ReadError::Closed,
        }
    }
}

/// Wraps a connection whose upgrade is answered. Messages beyond `max_payload` are
/// refused with close code 1009.
pub(crate) async fn accept(io: WsIo, max_payload: usize) -> WsStream {
    WsStream {
        io,
        pending: Pending::new(),
        messages: Reassembler::new(),
        control: Vec::new(),
        max_payload,
        close_sent: false,
        close_received: false,
    }
}

impl WsStream {
    /// The connection, for writing frames (after [`WsStream::flush`]).
    pub(crate) fn get_mut(&mut self) -> &mut WsIo {
        &mut self.io
    }

    /// The next message. Cancel-safe: everything read is kept in `self`.
    pub(crate) async fn next(&mut self) -> WsEvent {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// [`WsStream::next`], polled.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<WsEvent> {
        if self.close_received {
            return Poll::Ready(WsEvent::Closed);
        }
        // Our pongs leave while we read, as far as the socket takes them now.
        if !self.control.is_empty() {
            let _ = self.poll_write_control(cx);
        }
        loop {
            let result = if !self.pending.is_empty() {
                self.poll_buffered(cx)
            } else {
                self.poll_fresh(cx)
            };
            match result {
                Poll::Ready(Ok(Some(event))) => {
                    // A close answered leaves now: the caller may drop the stream next.
                    if !self.control.is_empty() {
                        let _ = self.poll_write_control(cx);
                    }
                    return Poll::Ready(event);
                }
                Poll::Ready(Ok(None)) => continue,
                Poll::Ready(Err(e)) => {
                    self.pending.clear();
                    return Poll::Ready(match e {
                        ReadError::Closed => WsEvent::Closed,
                        ReadError::TooBig => WsEvent::TooBig,
                    });
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Reads into a stack buffer when nothing is kept: what completes there is used at
    /// once, the rest kept.
    fn poll_fresh(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<WsEvent>, ReadError>> {
        // Not zeroed: `ReadBuf` tracks what the read filled.
        let mut stack = [std::mem::MaybeUninit::<u8>::uninit(); STACK_READ];
        let mut read = ReadBuf::uninit(&mut stack);
        match Pin::new(&mut self.io).poll_read(cx, &mut read) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(_)) => return Poll::Ready(Err(ReadError::Closed)),
            Poll::Ready(Ok(())) => {}
        }
        let data = read.filled();
        if data.is_empty() {
            return Poll::Ready(Err(ReadError::Closed));
        }
        let mut at = 0;
        while at < data.len() {
            match parse(&data[at..], Role::Server, self.max_payload) {
                Parse::Frame(frame) => {
                    at += frame.len;
                    let event = self.messages.push(&frame, self.max_payload);
                    if let Some(event) = self.on_event(event)? {
                        self.pending.keep(&data[at..], 0);
                        return Poll::Ready(Ok(Some(event)));
                    }
                }
                Parse::Need(needed) => {
                    self.pending.keep(&data[at..], needed);
                    break;
                }
                Parse::Error(e) => return Poll::Ready(Err(e.into())),
            }
        }
        Poll::Ready(Ok(None))
    }

    /// Uses the frames kept, reading more into the connection's own buffer while the
    /// first is incomplete.
    fn poll_buffered(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<WsEvent>, ReadError>> {
        match self.pending.parse(Role::Server, self.max_payload) {
            Parse::Frame(frame) => {
                let event = self.messages.push(&frame, self.max_payload);
                let len = frame.len;
                self.pending.consume(len);
                Poll::Ready(self.on_event(event))
            }
            Parse::Error(e) => Poll::Ready(Err(e.into())),
            Parse::Need(needed) => {
                let io = &mut self.io;
                let (n, polled) = self.pending.read_into(needed, MIN_READ, |room| {
                    let mut read = ReadBuf::new(room);
                    let polled = Pin::new(io).poll_read(cx, &mut read);
                    (read.filled().len(), polled)
                });
                match polled {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Err(_)) => Poll::Ready(Err(ReadError::Closed)),
                    Poll::Ready(Ok(())) if n == 0 => Poll::Ready(Err(ReadError::Closed)),
                    Poll::Ready(Ok(())) => Poll::Ready(Ok(None)),
                }
            }
        }
    }

    /// What a frame meant: a message for the caller; pongs and our close answer queued.
    fn on_event(
        &mut self,
        event: Result<Option<Event>, FrameError>,
    ) -> Result<Option<WsEvent>, ReadError> {
        match event? {
            None | Some(Event::Pong) => Ok(None),
            Some(Event::Message(Message::Text(text))) => Ok(Some(WsEvent::Text(text))),
            Some(Event::Message(Message::Binary(data))) => Ok(Some(WsEvent::Binary(data))),
            Some(Event::Ping(payload)) => {
                if !self.close_sent {
                    write_head(&mut self.control, opcode::PONG, payload.len(), None);
                    self.control.extend_from_slice(&payload);
                }
                Ok(None)
            }
            Some(Event::Close(answer)) => {
                self.close_received = true;
                if !self.close_sent {
                    self.queue_close(answer.map(|c| (c, "")));
                }
                Ok(Some(WsEvent::Closed))
            }
        }
    }

    /// Queues our close frame.
    fn queue_close(&mut self, frame: Option<(u16, &str)>) {
        self.close_sent = true;
        match frame {
            Some((code, reason)) => {
                write_head(&mut self.control, opcode::CLOSE, 2 + reason.len(), None);
                self.control.extend_from_slice(&code.to_be_bytes());
                self.control.extend_from_slice(reason.as_bytes());
            }
            None => write_head(&mut self.control, opcode::CLOSE, 0, None),
        }
    }

    fn poll_write_control(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.control.is_empty() {
            match Pin::new(&mut self.io).poll_write(cx, &self.control) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.control.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.control = Vec::new();
        Poll::Ready(Ok(()))
    }

    /// Whether control frames of ours wait to be written (they leave first).
    pub(crate) fn control_pending(&self) -> bool {
        !self.control.is_empty()
    }

    /// Writes our control frames still queued (a pong, a close answer).
    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        if self.control.is_empty() {
            return Ok(());
        }
        poll_fn(|cx| self.poll_write_control(cx)).await?;
        self.io.flush().await
    }

    /// Writes a text message now (the probe's `3probe`).
    pub(crate) async fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.flush().await?;
        let mut frame = Vec::new();
        sockio_ws::write_frame(&mut frame, opcode::TEXT, text.as_bytes(), None);
        self.io.write_all(&frame).await?;
        self.io.flush().await
    }

    /// Sends our close frame (once).
    async fn close(&mut self, frame: Option<(u16, &str)>) {
        if !self.close_sent {
            self.queue_close(frame);
        }
        let _ = self.flush().await;
    }
}

/// What one message from the client means.
pub(crate) enum Incoming {
    Packet(Packet),
    Invalid(sockio_protocol::engine::DecodeError),
    Closed(CloseReason),
    TooBig,
}

pub(crate) fn classify(event: WsEvent, version: ProtocolVersion) -> Incoming {
    match event {
        WsEvent::Text(text) => match Packet::decode_text(text, version) {
            Ok(p) => Incoming::Packet(p),
            Err(e) => Incoming::Invalid(e),
        },
        WsEvent::Binary(b) => match Packet::decode_binary(b, version) {
            Ok(p) => Incoming::Packet(p),
            Err(e) => Incoming::Invalid(e),
        },
        WsEvent::Closed => Incoming::Closed(CloseReason::TransportClose),
        WsEvent::TooBig => Incoming::TooBig,
    }
}

/// Refuses an oversized message with close code 1009. The client may still be sending
/// it, and closing a socket with unread data resets the connection before the client
/// reads our close frame, so the rest is read and dropped first (bounded in time and bytes).
pub(crate) async fn close_too_big(ws: &mut WsStream) {
    use tokio::io::AsyncReadExt as _;
    ws.close(Some((sockio_ws::CLOSE_TOO_BIG, "message too big")))
        .await;
    ws.pending.clear();
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
    ws.close(None).await;
    let drain = async {
        loop {
            match ws.next().await {
                WsEvent::Closed | WsEvent::TooBig => break,
                WsEvent::Text(_) | WsEvent::Binary(_) => {}
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), drain).await;
}

/// Reads the next Engine.IO packet of a probe WebSocket.
pub(crate) async fn next_packet(
    ws: &mut WsStream,
    version: ProtocolVersion,
) -> Result<Packet, bool> {
    match classify(ws.next().await, version) {
        Incoming::Packet(p) => Ok(p),
        Incoming::TooBig => Err(true),
        Incoming::Invalid(_) | Incoming::Closed(_) => Err(false),
    }
}

/// `3probe`: the answer to a probe's `2probe`.
pub(crate) const PROBE_PONG: &str = "3probe";

#[cfg(test)]
mod tests {
    //! Frames as a client (tungstenite) sends them, read back here.

    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio::net::{TcpListener, TcpStream};
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::WebSocketStream;

    use super::*;

    /// A server stream and a tungstenite client on a loopback connection.
    async fn pair(max_payload: usize) -> (WsStream, WebSocketStream<TcpStream>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let io = WsIo::Tcp {
            stream: server,
            unread: Bytes::new(),
        };
        let config = WebSocketConfig::default().max_frame_size(Some(1 << 20));
        let client = WebSocketStream::from_raw_socket(client, Role::Client, Some(config)).await;
        (accept(io, max_payload).await, client)
    }

    fn text(e: WsEvent) -> String {
        match e {
            WsEvent::Text(t) => t.as_str().to_owned(),
            WsEvent::Binary(_) => panic!("binary"),
            WsEvent::Closed => panic!("closed"),
            WsEvent::TooBig => panic!("too big"),
        }
    }

    #[tokio::test]
    async fn messages_small_large_fragmented_and_pipelined() {
        let (mut ws, mut client) = pair(1 << 20).await;
        client.send(Message::text("4hello")).await.unwrap();
        assert_eq!(text(ws.next().await), "4hello");
        assert!(ws.pending.capacity() == 0, "nothing kept between frames");
        // Larger than a read: kept until whole, then freed.
        let big = "4".repeat(300_000);
        let (sent, got) = tokio::join!(client.send(Message::text(big.clone())), ws.next());
        sent.unwrap();
        assert_eq!(text(got), big);
        assert!(ws.pending.capacity() == 0);
        client.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
        match ws.next().await {
            WsEvent::Binary(b) => assert_eq!(&b[..], &[1, 2, 3]),
            _ => panic!("expected binary"),
        }
        // Many at once: one read, used one by one.
        for i in 0..200 {
            client.feed(Message::text(format!("4m{i}"))).await.unwrap();
        }
        client.flush().await.unwrap();
        for i in 0..200 {
            assert_eq!(text(ws.next().await), format!("4m{i}"));
        }
        assert!(ws.pending.capacity() == 0);
        // A fragmented message, a ping between its fragments.
        use tokio_tungstenite::tungstenite::protocol::frame::{
            coding::Data, coding::OpCode, Frame,
        };
        let frag = |op, fin, payload: &str| {
            Message::Frame(Frame::message(payload.as_bytes().to_vec(), op, fin))
        };
        client
            .send(frag(OpCode::Data(Data::Text), false, "4ab"))
            .await
            .unwrap();
        client
            .send(Message::Ping(Bytes::from_static(b"p")))
            .await
            .unwrap();
        client
            .send(frag(OpCode::Data(Data::Continue), false, "cd"))
            .await
            .unwrap();
        client
            .send(frag(OpCode::Data(Data::Continue), true, "é"))
            .await
            .unwrap();
        assert_eq!(text(ws.next().await), "4abcdé");
        // The ping was answered.
        ws.flush().await.unwrap();
        match client.next().await.unwrap().unwrap() {
            Message::Pong(p) => assert_eq!(&p[..], b"p"),
            other => panic!("expected a pong, got {other:?}"),
        }
        // The client's close is answered with its code.
        client
            .send(Message::Close(Some(CloseFrame {
                code: CloseCode::Away,
                reason: "bye".into(),
            })))
            .await
            .unwrap();
        assert!(matches!(ws.next().await, WsEvent::Closed));
        match client.next().await.unwrap().unwrap() {
            Message::Close(Some(f)) => assert_eq!(f.code, CloseCode::Away),
            other => panic!("expected a close, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn too_big_invalid_and_broken_frames() {
        let (mut ws, mut client) = pair(1000).await;
        client.send(Message::text("4".repeat(1001))).await.unwrap();
        assert!(matches!(ws.next().await, WsEvent::TooBig));

        let (mut ws, client) = pair(1000).await;
        // Invalid UTF-8 in a text frame.
        let mut raw = client.into_inner();
        raw.write_all(&[0x81, 0x82, 0, 0, 0, 0, 0xc3, 0x28])
            .await
            .unwrap();
        assert!(matches!(ws.next().await, WsEvent::Closed));

        // Unmasked, reserved bits, a continuation with nothing to continue.
        for bytes in [
            &[0x81u8, 0x01, b'4'][..],
            &[0xc1, 0x81, 0, 0, 0, 0, b'4'][..],
            &[0x80, 0x81, 0, 0, 0, 0, b'4'][..],
        ] {
            let (mut ws, client) = pair(1000).await;
            let mut raw = client.into_inner();
            raw.write_all(bytes).await.unwrap();
            assert!(matches!(ws.next().await, WsEvent::Closed));
        }

        // A frame split anywhere, byte by byte.
        let (mut ws, client) = pair(1000).await;
        let mut raw = client.into_inner();
        let frame = [0x81u8, 0x83, 1, 2, 3, 4, b'4' ^ 1, b'a' ^ 2, b'b' ^ 3];
        let writer = tokio::spawn(async move {
            for b in frame {
                raw.write_all(&[b]).await.unwrap();
                raw.flush().await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            raw
        });
        assert_eq!(text(ws.next().await), "4ab");
        drop(writer.await.unwrap());
        assert!(matches!(ws.next().await, WsEvent::Closed));
    }
}
