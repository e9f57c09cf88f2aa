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

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use sockio_protocol::Utf8Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The read buffer on the stack, per read.
const STACK_READ: usize = 4096;
/// Reads into a connection's own buffer (a frame not read whole) take at least this much.
const MIN_READ: usize = 4096;
/// The largest header of a server frame (unmasked, 64-bit length).
const MAX_HEADER: usize = 10;
/// The largest message taken (as the `ws` package's default `maxPayload`, which
/// socket.io-client uses on Node).
pub(crate) const MAX_PAYLOAD: usize = 100 * 1024 * 1024;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// Close code 1002: protocol error.
const CLOSE_PROTOCOL: u16 = 1002;
/// Close code 1007: a text message that is not UTF-8.
const CLOSE_INVALID_DATA: u16 = 1007;
/// Close code 1009: message too big.
const CLOSE_TOO_BIG: u16 = 1009;

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
    /// A broken rule: the close code we answer with, and why.
    Protocol(u16, &'static str),
    /// The connection ended without a close frame.
    Eof,
    Io(String),
}

/// One frame taken from the bytes read.
#[derive(Debug)]
struct Frame {
    fin: bool,
    opcode: u8,
    payload: Bytes,
}

/// A client WebSocket over a connection whose handshake is done.
pub(crate) struct ClientWs<S> {
    io: S,
    /// Bytes read and not used yet, from `pos` on: the start of a frame not read whole
    /// (or, right after the handshake, whatever the server sent with its answer).
    /// Unallocated between frames.
    buf: Vec<u8>,
    pos: usize,
    /// A data message arriving in fragments: whether it is text, and its bytes so far.
    fragments: Option<Box<(bool, Vec<u8>)>>,
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
            buf: tail.to_vec(),
            pos: 0,
            fragments: None,
            out: Vec::new(),
            max_payload: u32::try_from(max_payload).unwrap_or(u32::MAX),
            close_sent: false,
            close_received: false,
        }
    }

    /// Queues a text message (written by [`poll_flush`](Self::poll_flush)).
    pub(crate) fn send_text(&mut self, text: &str) {
        self.queue_frame(OP_TEXT, text.as_bytes());
    }

    /// Queues a binary message.
    pub(crate) fn send_binary(&mut self, data: &[u8]) {
        self.queue_frame(OP_BINARY, data);
    }

    /// Queues our close frame (once), with `code` or none (an empty close frame, as the
    /// `ws` package's `close()` sends).
    pub(crate) fn send_close(&mut self, code: Option<u16>) {
        if self.close_sent {
            return;
        }
        self.close_sent = true;
        match code {
            Some(code) => self.queue_frame(OP_CLOSE, &code.to_be_bytes()),
            None => self.queue_frame(OP_CLOSE, &[]),
        }
    }

    /// Whether frames wait to be written.
    pub(crate) fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    fn queue_frame(&mut self, opcode: u8, payload: &[u8]) {
        if self.close_sent && opcode != OP_CLOSE {
            return;
        }
        let mask: [u8; 4] = rand::random();
        write_frame(&mut self.out, opcode, payload, mask);
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
            let result = if self.pos < self.buf.len() {
                self.poll_buffered(cx)
            } else {
                self.poll_fresh(cx)
            };
            let event = match result {
                Poll::Ready(Ok(Some(event))) => event,
                Poll::Ready(Ok(None)) => continue,
                Poll::Ready(Err(e)) => {
                    self.release();
                    self.fragments = None;
                    match e {
                        ReadError::Eof => WsEvent::Closed,
                        ReadError::Io(e) => WsEvent::Failed(e),
                        ReadError::Protocol(code, why) => {
                            self.send_close(Some(code));
                            WsEvent::Failed(why.to_owned())
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
        let mut at = 0;
        while at < data.len() {
            match take_frame(&data[at..], self.max_payload as usize)? {
                Ok((frame, used)) => {
                    at += used;
                    if let Some(event) = self.on_frame(frame)? {
                        self.keep(&data[at..], 0);
                        return Poll::Ready(Ok(Some(event)));
                    }
                }
                Err(needed) => {
                    self.keep(&data[at..], needed);
                    break;
                }
            }
        }
        Poll::Ready(Ok(None))
    }

    /// Keeps `rest` (the start of a frame, or frames not used yet), with room for
    /// `needed` bytes in all.
    fn keep(&mut self, rest: &[u8], needed: usize) {
        if rest.is_empty() {
            return;
        }
        let mut buf = Vec::with_capacity(needed.max(rest.len()));
        buf.extend_from_slice(rest);
        self.buf = buf;
        self.pos = 0;
    }

    /// Uses the frames kept, reading more into the connection's own buffer while the
    /// first is incomplete.
    fn poll_buffered(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<WsEvent>, ReadError>> {
        match take_frame(&self.buf[self.pos..], self.max_payload as usize)? {
            Ok((frame, used)) => {
                self.pos += used;
                if self.pos == self.buf.len() {
                    self.release();
                }
                Poll::Ready(self.on_frame(frame))
            }
            Err(needed) => {
                // Room for the whole frame, at the start of the buffer.
                if self.pos > 0 {
                    self.buf.drain(..self.pos);
                    self.pos = 0;
                }
                let have = self.buf.len();
                let want = needed.max(have + MIN_READ);
                self.buf.resize(want, 0);
                let mut read = ReadBuf::new(&mut self.buf[have..]);
                let polled = Pin::new(&mut self.io).poll_read(cx, &mut read);
                let n = read.filled().len();
                self.buf.truncate(have + n);
                match polled {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Err(e)) => Poll::Ready(Err(ReadError::Io(e.to_string()))),
                    Poll::Ready(Ok(())) if n == 0 => Poll::Ready(Err(ReadError::Eof)),
                    Poll::Ready(Ok(())) => Poll::Ready(Ok(None)),
                }
            }
        }
    }

    /// Forgets the bytes kept, and their buffer.
    fn release(&mut self) {
        self.buf = Vec::new();
        self.pos = 0;
    }

    /// A frame taken: a message when it completes one.
    fn on_frame(&mut self, frame: Frame) -> Result<Option<WsEvent>, ReadError> {
        match frame.opcode {
            OP_TEXT | OP_BINARY if self.fragments.is_some() => Err(ReadError::Protocol(
                CLOSE_PROTOCOL,
                "a new message began before the fragmented one ended",
            )),
            OP_TEXT | OP_BINARY if frame.fin => {
                message(frame.opcode == OP_TEXT, frame.payload).map(Some)
            }
            OP_TEXT | OP_BINARY => {
                self.fragments = Some(Box::new((frame.opcode == OP_TEXT, frame.payload.into())));
                Ok(None)
            }
            OP_CONTINUATION => {
                let Some(fragments) = self.fragments.as_mut() else {
                    return Err(ReadError::Protocol(
                        CLOSE_PROTOCOL,
                        "a continuation frame with no message begun",
                    ));
                };
                if fragments.1.len() + frame.payload.len() > self.max_payload as usize {
                    return Err(too_big());
                }
                fragments.1.extend_from_slice(&frame.payload);
                if !frame.fin {
                    return Ok(None);
                }
                match self.fragments.take().map(|f| *f) {
                    Some((text, bytes)) => message(text, Bytes::from(bytes)).map(Some),
                    None => Ok(None),
                }
            }
            OP_PING => {
                self.queue_frame(OP_PONG, &frame.payload);
                Ok(None)
            }
            OP_PONG => Ok(None),
            OP_CLOSE => {
                self.close_received = true;
                self.fragments = None;
                // The answer: the server's code when it is one an endpoint may send.
                let code = match &frame.payload[..] {
                    [] => None,
                    [a, b, ..] => Some(u16::from_be_bytes([*a, *b]))
                        .filter(|c| matches!(c, 1000..=1003 | 1007..=1014 | 3000..=4999)),
                    [_] => Some(CLOSE_PROTOCOL),
                };
                self.send_close(code);
                Ok(Some(WsEvent::Closed))
            }
            _ => Err(ReadError::Protocol(CLOSE_PROTOCOL, "an unknown opcode")),
        }
    }
}

fn too_big() -> ReadError {
    ReadError::Protocol(CLOSE_TOO_BIG, "a message over the maximum size")
}

/// A whole data message.
fn message(text: bool, payload: Bytes) -> Result<WsEvent, ReadError> {
    if !text {
        return Ok(WsEvent::Binary(payload));
    }
    Utf8Bytes::try_from_bytes(payload)
        .map(WsEvent::Text)
        .map_err(|_| ReadError::Protocol(CLOSE_INVALID_DATA, "a text message not in UTF-8"))
}

/// A frame header at the start of `data`: (header length, payload length), `None` while
/// incomplete.
fn parse_header(data: &[u8]) -> Option<(usize, u64)> {
    let b1 = *data.get(1)?;
    let (len_bytes, len) = match b1 & 0x7f {
        126 => (2, None),
        127 => (8, None),
        n => (0, Some(u64::from(n))),
    };
    let header = 2 + len_bytes;
    if data.len() < header {
        return None;
    }
    let len = len.unwrap_or_else(|| {
        data[2..header]
            .iter()
            .fold(0u64, |n, &b| (n << 8) | u64::from(b))
    });
    Some((header, len))
}

/// Takes the first frame of `data` whole, checked: `Ok(Err(needed))` while it is
/// incomplete, with how many bytes it needs in all (as far as its header tells).
fn take_frame(data: &[u8], max_payload: usize) -> Result<Result<(Frame, usize), usize>, ReadError> {
    let Some((header, len)) = parse_header(data) else {
        return Ok(Err(MAX_HEADER));
    };
    let b0 = data[0];
    let (fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0f);
    if b0 & 0x70 != 0 {
        return Err(ReadError::Protocol(
            CLOSE_PROTOCOL,
            "reserved bits set (no extension was negotiated)",
        ));
    }
    if data[1] & 0x80 != 0 {
        return Err(ReadError::Protocol(
            CLOSE_PROTOCOL,
            "a masked frame from the server",
        ));
    }
    if opcode >= 0x8 && (!fin || len > 125) {
        return Err(ReadError::Protocol(
            CLOSE_PROTOCOL,
            "a fragmented or oversized control frame",
        ));
    }
    if len > max_payload as u64 {
        return Err(too_big());
    }
    let total = header + len as usize;
    if data.len() < total {
        return Ok(Err(total));
    }
    let payload = Bytes::copy_from_slice(&data[header..total]);
    Ok(Ok((
        Frame {
            fin,
            opcode,
            payload,
        },
        total,
    )))
}

/// Appends one final frame, masked with `mask`, to `out`.
fn write_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    let len = payload.len();
    out.reserve(14 + len);
    out.push(0x80 | opcode);
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= usize::from(u16::MAX) {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], mask);
}

/// XORs `data` with the repeated `mask` (the same operation masks and unmasks).
fn apply_mask(data: &mut [u8], mask: [u8; 4]) {
    let word = u32::from_ne_bytes(mask);
    let mut chunks = data.chunks_exact_mut(4);
    for c in &mut chunks {
        let v = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]) ^ word;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (b, m) in chunks.into_remainder().iter_mut().zip(mask) {
        *b ^= m;
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
