//! The WebSocket of a session once its handshake is done (RFC 6455, client side): frames
//! read and turned into messages, the server's pings answered, our frames masked and
//! written, closing it well.
//!
//! An idle connection holds no buffer: a read lands in a buffer on the stack, the frames
//! complete in it are used at once, and only the bytes of a frame not read whole yet are
//! kept — in a buffer of the connection's own, freed once they are used. Frames to send
//! are written into one buffer, freed once the socket took them. (tungstenite, used here
//! before, kept a 1 KiB read buffer for the life of each connection, and its stream
//! wrapper two more allocations: a fifth of what an idle client cost.)
//!
//! What the bytes mean (frame heads, fragments, close codes, masking) is `sockio-ws`'s,
//! shared with the server; the reads, the buffers and the write queue are this module's.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use sockio_protocol::Utf8Bytes;
use sockio_ws::{opcode, parse, Event, FrameError, Message, Parse, Pending, Reassembler, Role};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The read buffer on the stack, per read.
const STACK_READ: usize = 4096;
/// Reads into a connection's own buffer (a frame not read whole) take at least this much.
const MIN_READ: usize = 4096;
/// The largest message taken (as the `ws` package's default `maxPayload`, which
/// socket.io-client uses on Node).
pub(crate) const MAX_PAYLOAD: usize = 100 * 1024 * 1024;

/// What reading the WebSocket gave.
#[derive(Debug, PartialEq)]
pub(crate) enum WsEvent {
    Text(Utf8Bytes),
    Binary(Bytes),
    /// The server closed (a close frame, or the connection ended without one).
    Closed,
    /// The connection failed, or the server broke the protocol (our close frame, with
    /// its code, is on its way when there is one).
    Failed(String),
}

/// Why reading stopped, inside this module.
#[derive(Debug, PartialEq)]
enum ReadError {
    /// A broken rule: its close code is our answer.
    Protocol(FrameError),
    /// The connection ended without a close frame.
    Eof,
    Io(String),
}

/// A client WebSocket over a connection whose handshake is done.
pub(crate) struct ClientWs<S> {
    io: S,
    /// Bytes read and not used yet: the start of a frame not read whole (or, right after
    /// the handshake, whatever the server sent with its answer). Unallocated between
    /// frames.
    pending: Pending,
    /// A data message arriving in fragments (one pointer; a buffer only while one is).
    messages: Reassembler,
    /// Framed bytes not written yet (what a write took is drained: a partial write is
    /// rare). Unallocated when all are written.
    out: Vec<u8>,
    /// The largest message taken (a `u32`, as the offsets: the task that holds this
    /// stays within tokio's next smaller task allocation).
    max_payload: u32,
    close_sent: bool,
    close_received: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> ClientWs<S> {
    /// Wraps `io`, whose handshake is done; `tail` is what was read after the handshake's
    /// answer (the first frames).
    pub(crate) fn new(io: S, tail: &[u8], max_payload: usize) -> ClientWs<S> {
        ClientWs {
            io,
            pending: {
                let mut pending = Pending::new();
                pending.keep(tail, 0);
                pending
            },
            messages: Reassembler::new(),
            out: Vec::new(),
            max_payload: u32::try_from(max_payload).unwrap_or(u32::MAX),
            close_sent: false,
            close_received: false,
        }
    }

    /// Queues a text message (written by [`poll_flush`](Self::poll_flush)).
    pub(crate) fn send_text(&mut self, text: &str) {
        self.queue_frame(opcode::TEXT, text.as_bytes());
    }

    /// Queues a binary message.
    pub(crate) fn send_binary(&mut self, data: &[u8]) {
        self.queue_frame(opcode::BINARY, data);
    }

    /// Queues our close frame (once), with `code` or none (an empty close frame, as the
    /// `ws` package's `close()` sends).
    pub(crate) fn send_close(&mut self, code: Option<u16>) {
        if self.close_sent {
            return;
        }
        self.close_sent = true;
        match code {
            Some(code) => self.queue_frame(opcode::CLOSE, &code.to_be_bytes()),
            None => self.queue_frame(opcode::CLOSE, &[]),
        }
    }

    /// Whether frames wait to be written.
    pub(crate) fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    fn queue_frame(&mut self, opcode: u8, payload: &[u8]) {
        if self.close_sent && opcode != opcode::CLOSE {
            return;
        }
        let mask: [u8; 4] = rand::random();
        sockio_ws::write_frame(&mut self.out, opcode, payload, Some(mask));
    }

    /// Writes the queued frames and flushes the connection, as far as it takes them now.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.out.is_empty() {
            match Pin::new(&mut self.io).poll_write(cx, &self.out) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) if n < self.out.len() => {
                    self.out.drain(..n);
                }
                Poll::Ready(Ok(_)) => break,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        // Idle connections hold no write buffer.
        self.out = Vec::new();
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Writes what is queued, then closes the write side.
    pub(crate) async fn finish(&mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_flush(cx)).await?;
        std::future::poll_fn(|cx| Pin::new(&mut self.io).poll_shutdown(cx)).await
    }

    /// The next message. Our answers (pongs, a close) are queued and written as far as
    /// the socket takes them now; a failure queues our close frame, which the caller
    /// writes with [`finish`](Self::finish) if it wants it sent.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<WsEvent> {
        if self.close_received {
            return Poll::Ready(WsEvent::Closed);
        }
        loop {
            let result = if !self.pending.is_empty() {
                self.poll_buffered(cx)
            } else {
                self.poll_fresh(cx)
            };
            let event = match result {
                Poll::Ready(Ok(Some(event))) => event,
                Poll::Ready(Ok(None)) => continue,
                Poll::Ready(Err(e)) => {
                    self.pending.clear();
                    self.messages.reset();
                    match e {
                        ReadError::Eof => WsEvent::Closed,
                        ReadError::Io(e) => WsEvent::Failed(e),
                        ReadError::Protocol(e) => {
                            self.send_close(Some(e.close_code()));
                            WsEvent::Failed(e.to_string())
                        }
                    }
                }
                Poll::Pending => return Poll::Pending,
            };
            // Pongs and a close answer leave now, as far as the socket takes them.
            if self.has_output() {
                let _ = self.poll_flush(cx);
            }
            return Poll::Ready(event);
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
            Poll::Ready(Err(e)) => return Poll::Ready(Err(ReadError::Io(e.to_string()))),
            Poll::Ready(Ok(())) => {}
        }
        let data = read.filled();
        if data.is_empty() {
            return Poll::Ready(Err(ReadError::Eof));
        }
        let max = self.max_payload as usize;
        let mut at = 0;
        while at < data.len() {
            match parse(&data[at..], Role::Client, max) {
                Parse::Frame(frame) => {
                    at += frame.len;
                    let event = self.messages.push(&frame, max);
                    if let Some(event) = self.on_event(event)? {
                        self.pending.keep(&data[at..], 0);
                        return Poll::Ready(Ok(Some(event)));
                    }
                }
                Parse::Need(needed) => {
                    self.pending.keep(&data[at..], needed);
                    break;
                }
                Parse::Error(e) => return Poll::Ready(Err(ReadError::Protocol(e))),
            }
        }
        Poll::Ready(Ok(None))
    }

    /// Uses the frames kept, reading more into the connection's own buffer while the
    /// first is incomplete.
    fn poll_buffered(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<WsEvent>, ReadError>> {
        let max = self.max_payload as usize;
        match self.pending.parse(Role::Client, max) {
            Parse::Frame(frame) => {
                let event = self.messages.push(&frame, max);
                let len = frame.len;
                self.pending.consume(len);
                Poll::Ready(self.on_event(event))
            }
            Parse::Error(e) => Poll::Ready(Err(ReadError::Protocol(e))),
            Parse::Need(needed) => {
                let io = &mut self.io;
                let (n, polled) = self.pending.read_into(needed, MIN_READ, |room| {
                    let mut read = ReadBuf::new(room);
                    let polled = Pin::new(io).poll_read(cx, &mut read);
                    (read.filled().len(), polled)
                });
                match polled {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Err(e)) => Poll::Ready(Err(ReadError::Io(e.to_string()))),
                    Poll::Ready(Ok(())) if n == 0 => Poll::Ready(Err(ReadError::Eof)),
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
        match event.map_err(ReadError::Protocol)? {
            None | Some(Event::Pong) => Ok(None),
            Some(Event::Message(Message::Text(text))) => Ok(Some(WsEvent::Text(text))),
            Some(Event::Message(Message::Binary(data))) => Ok(Some(WsEvent::Binary(data))),
            Some(Event::Ping(payload)) => {
                self.queue_frame(opcode::PONG, &payload);
                Ok(None)
            }
            Some(Event::Close(answer)) => {
                self.close_received = true;
                self.send_close(answer);
                Ok(Some(WsEvent::Closed))
            }
        }
    }
}

/// Reads `data` through a client WebSocket (64 KiB maximum message) and checks what must
/// hold: the first byte picks how the reads are cut (1 to 256 bytes each), the rest is
/// what the server sent. Reading goes on until the WebSocket closes or fails, which it
/// must do by the end of the bytes; every message is within the maximum, and what the
/// client wrote is masked frames with at most one close frame, last. For the fuzz targets
/// in `fuzz/`; not part of the API.
#[doc(hidden)]
pub fn fuzz_ws(data: &[u8]) {
    const MAX: usize = 64 * 1024;
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let io = Script {
        data: rest,
        chunk: usize::from(cut) + 1,
        written: Vec::new(),
    };
    let mut ws = ClientWs::new(io, &[], MAX);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut events = 0;
    loop {
        let Poll::Ready(event) = ws.poll_next(&mut cx) else {
            panic!("a read from memory is never pending");
        };
        events += 1;
        assert!(events <= rest.len() + 1, "more events than bytes");
        match event {
            WsEvent::Text(t) => assert!(t.len() <= MAX),
            WsEvent::Binary(b) => assert!(b.len() <= MAX),
            WsEvent::Closed | WsEvent::Failed(_) => break,
        }
    }
    let Poll::Ready(Ok(())) = ws.poll_flush(&mut cx) else {
        panic!("a write to memory completes");
    };
    let mut written = &ws.io.written[..];
    let mut closes = 0;
    while !written.is_empty() {
        assert_eq!(closes, 0, "a frame after our close frame");
        assert!(
            written.len() >= 6 && written[1] & 0x80 != 0,
            "an unmasked frame"
        );
        let (len, at) = match written[1] & 0x7f {
            126 => (usize::from(u16::from_be_bytes([written[2], written[3]])), 8),
            127 => panic!("a control frame is at most 125 bytes"),
            n => (usize::from(n), 6),
        };
        assert!(matches!(written[0], 0x88 | 0x8A), "only pongs and a close");
        closes += usize::from(written[0] == 0x88);
        written = &written[at + len..];
    }
}

/// The server's side for [`fuzz_ws`]: `data` read `chunk` bytes at a time, writes kept.
struct Script<'a> {
    data: &'a [u8],
    chunk: usize,
    written: Vec<u8>,
}

impl AsyncRead for Script<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.chunk.min(self.data.len()).min(buf.remaining());
        let (now, later) = self.data.split_at(n);
        buf.put_slice(now);
        self.data = later;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Script<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.written.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests;
