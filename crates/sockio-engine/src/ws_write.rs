//! Writing a session's queued packets to its WebSocket: each packet framed here (a few
//! header bytes, the payload shared, never copied) and everything queued written with as
//! few vectored writes as the kernel takes.
//!
//! Going around tungstenite's write buffer matters under a backlog: it copied every
//! payload and wrote whenever 8 KiB had gathered, so a socket with many frames queued
//! took several system calls where one does. Server frames are unmasked and carry no
//! state, so frames written here and the stream's own (pongs, close) only have to leave
//! in order: the caller flushes the stream's control frames before writing here.

use std::io::{self, IoSlice};

use bytes::Bytes;
use sockio_protocol::engine::payload::{self, EncodedPacket};
use sockio_protocol::engine::{Packet, ProtocolVersion};
use sockio_ws::{opcode, write_head};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::ws_io::WsIo;

/// Buffers handed to one vectored write at most (the kernel's `IOV_MAX` is 1024).
const MAX_SLICES: usize = 1024;

/// Up to this many bytes, the frames are copied into one buffer and written with one
/// plain write: for small frames (an echo, a chat message) a copy costs less than the
/// kernel's handling of many small buffers. Larger rounds go out vectored, uncopied.
const COPY_UP_TO: usize = 16 * 1024;

/// Frames ready to write: their headers packed in one buffer, their payloads shared.
#[derive(Default)]
pub(crate) struct Frames {
    headers: Vec<u8>,
    /// Per frame: where its header ends in `headers`, and its payload.
    frames: Vec<(usize, Bytes)>,
}

impl Frames {
    /// Frames `packet` (text, binary, or binary as base64 text for clients that asked).
    pub(crate) fn push(&mut self, packet: EncodedPacket, version: ProtocolVersion, base64: bool) {
        let (opcode, payload) = match packet {
            EncodedPacket::Text(t) => (opcode::TEXT, t.into_bytes()),
            EncodedPacket::Binary(b) if base64 => {
                (opcode::TEXT, Bytes::from(payload::base64_item(&b, version)))
            }
            EncodedPacket::Binary(b) => (opcode::BINARY, Packet::encode_binary_frame(&b, version)),
        };
        write_head(&mut self.headers, opcode, payload.len(), None);
        self.frames.push((self.headers.len(), payload));
    }

    /// Bytes already framed (the rest of a frame a write took only part of), written as
    /// they are, after what is pushed before them.
    pub(crate) fn push_raw(&mut self, bytes: Bytes) {
        // An empty header: the segment before the payload is empty.
        self.frames.push((self.headers.len(), bytes));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Forgets the frames and their buffers: an idle connection keeps none.
    fn clear(&mut self) {
        self.headers = Vec::new();
        self.frames = Vec::new();
    }

    /// The bytes to write, in order: header, payload, header, payload…
    fn segment(&self, i: usize) -> &[u8] {
        let (frame, part) = (i / 2, i % 2);
        let (end, payload) = &self.frames[frame];
        if part == 0 {
            let start = if frame == 0 {
                0
            } else {
                self.frames[frame - 1].0
            };
            &self.headers[start..*end]
        } else {
            payload
        }
    }

    /// Writes every frame to `io`, then forgets them.
    pub(crate) async fn write_to<W: AsyncWrite + Unpin>(&mut self, io: &mut W) -> io::Result<()> {
        let segments = self.frames.len() * 2;
        let total = self.headers.len() + self.frames.iter().map(|(_, p)| p.len()).sum::<usize>();
        // Where the writes got: segment `at`, of which `offset` bytes are out.
        let (mut at, mut offset) = (0, 0);
        if total > COPY_UP_TO && io.is_write_vectored() {
            while at < segments {
                let end = (at + MAX_SLICES).min(segments);
                let slices: Vec<IoSlice<'_>> = (at..end)
                    .map(|i| {
                        let s = self.segment(i);
                        IoSlice::new(if i == at { &s[offset..] } else { s })
                    })
                    .collect();
                let mut n = io.write_vectored(&slices).await?;
                if n == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                // Past what was written, and past empty segments (an empty payload).
                while at < segments {
                    let left = self.segment(at).len() - offset;
                    if n >= left {
                        n -= left;
                        at += 1;
                        offset = 0;
                    } else {
                        offset += n;
                        break;
                    }
                }
            }
        } else {
            let mut all = Vec::with_capacity(total);
            for i in 0..segments {
                all.extend_from_slice(self.segment(i));
            }
            io.write_all(&all).await?;
        }
        io.flush().await?;
        self.clear();
        Ok(())
    }
}

/// The largest text packet [`try_write_small`] frames on the stack (a two-byte header).
const SMALL: usize = 125;

/// What [`try_write_small`] did.
pub(crate) enum Quick {
    /// The frame is written whole.
    Done,
    /// The socket took part of it: the rest, framed, to write before anything else.
    Rest(Bytes),
    /// Nothing written (not a small text packet, or the socket takes nothing now).
    NotNow(EncodedPacket),
    /// The connection failed.
    Failed,
}

/// Writes one small text packet (a ping, a short answer) at once, framed on the stack:
/// no buffer, no await, one `send` — when nothing else is queued before it and the
/// socket takes it now. A heartbeat's ping goes out this way.
pub(crate) fn try_write_small(io: &WsIo, packet: EncodedPacket) -> Quick {
    let EncodedPacket::Text(text) = &packet else {
        return Quick::NotNow(packet);
    };
    let payload = text.as_bytes();
    if payload.len() > SMALL {
        return Quick::NotNow(packet);
    }
    let mut frame = [0u8; 2 + SMALL];
    let len = 2 + payload.len();
    frame[0] = 0x80 | opcode::TEXT; // FIN, text; unmasked, a one-byte length
    frame[1] = payload.len() as u8;
    frame[2..len].copy_from_slice(payload);
    match io.try_write(&frame[..len]) {
        Ok(n) if n == len => Quick::Done,
        Ok(0) => Quick::Failed,
        Ok(n) => Quick::Rest(Bytes::copy_from_slice(&frame[n..len])),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Quick::NotNow(packet),
        Err(_) => Quick::Failed,
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use futures_util::StreamExt;
    use sockio_protocol::Utf8Bytes;
    use tokio_tungstenite::tungstenite::protocol::Role;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::WebSocketStream;

    use super::*;

    /// A stream taking at most `step` bytes per write, counting the writes.
    struct Trickle {
        out: Vec<u8>,
        step: usize,
        writes: usize,
        vectored: bool,
    }

    impl Trickle {
        /// A writer taking at most `step` bytes a write, vectored or not.
        fn new(step: usize, vectored: bool) -> Trickle {
            Trickle {
                out: Vec::new(),
                step,
                writes: 0,
                vectored,
            }
        }
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.step);
            self.out.extend_from_slice(&buf[..n]);
            self.writes += 1;
            Poll::Ready(Ok(n))
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let mut left = self.step;
            self.writes += 1;
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(left);
                self.out.extend_from_slice(&b[..take]);
                left -= take;
                n += take;
                if left == 0 {
                    break;
                }
            }
            Poll::Ready(Ok(n))
        }
        fn is_write_vectored(&self) -> bool {
            self.vectored
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn packets() -> Vec<EncodedPacket> {
        let mut v = vec![
            EncodedPacket::Binary(Bytes::new()),
            EncodedPacket::Text(Utf8Bytes::from("42[\"a\"]".to_owned())),
            EncodedPacket::Binary(Bytes::from(vec![7u8; 300])),
            EncodedPacket::Text(Utf8Bytes::from("4".repeat(70_000))),
        ];
        for i in 0..700 {
            v.push(EncodedPacket::Text(Utf8Bytes::from(format!("4{i}"))));
        }
        // An empty payload last: nothing is left to write after its header.
        v.push(EncodedPacket::Binary(Bytes::new()));
        v
    }

    /// What tungstenite, as a client, reads back.
    async fn read_back(bytes: Vec<u8>) -> Vec<Message> {
        let ws =
            WebSocketStream::from_raw_socket(std::io::Cursor::new(bytes), Role::Client, None).await;
        ws.filter_map(|m| async move { m.ok() }).collect().await
    }

    #[tokio::test]
    async fn frames_read_back_as_sent_through_partial_and_plain_writes() {
        for (step, vectored) in [(usize::MAX, true), (1000, true), (333, false)] {
            let mut frames = Frames::default();
            for p in packets() {
                frames.push(p, ProtocolVersion::V4, false);
            }
            let mut io = Trickle::new(step, vectored);
            frames.write_to(&mut io).await.unwrap();
            assert!(frames.is_empty());
            if step == usize::MAX {
                // 705 frames, two buffers each, past COPY_UP_TO: two vectored writes.
                assert_eq!(io.writes, 2);
            }
            let got = read_back(io.out).await;
            assert_eq!(got.len(), 705, "step {step}");
            assert_eq!(got[0], Message::binary(Vec::<u8>::new()));
            assert_eq!(got[1], Message::text("42[\"a\"]"));
            assert_eq!(got[2], Message::binary(vec![7u8; 300]));
            assert_eq!(got[3], Message::text("4".repeat(70_000)));
            assert_eq!(got[703], Message::text("4699"));
            assert_eq!(got[704], Message::binary(Vec::<u8>::new()));
        }
    }

    #[tokio::test]
    async fn small_rounds_go_out_in_one_plain_write() {
        let mut frames = Frames::default();
        for i in 0..20 {
            frames.push(
                EncodedPacket::Text(Utf8Bytes::from(format!("42[\"m\",{i}]"))),
                ProtocolVersion::V4,
                false,
            );
        }
        let mut io = Trickle::new(usize::MAX, true);
        frames.write_to(&mut io).await.unwrap();
        assert_eq!(io.writes, 1);
        let got = read_back(io.out).await;
        assert_eq!(got.len(), 20);
        assert_eq!(got[19], Message::text("42[\"m\",19]"));
    }

    #[tokio::test]
    async fn binary_as_base64_and_the_v3_binary_prefix() {
        let mut frames = Frames::default();
        frames.push(
            EncodedPacket::Binary(Bytes::from_static(&[1, 2, 3])),
            ProtocolVersion::V4,
            true,
        );
        frames.push(
            EncodedPacket::Binary(Bytes::from_static(&[1, 2, 3])),
            ProtocolVersion::V3,
            false,
        );
        let mut io = Trickle::new(usize::MAX, true);
        frames.write_to(&mut io).await.unwrap();
        let got = read_back(io.out).await;
        assert_eq!(got[0], Message::text("bAQID"));
        assert_eq!(got[1], Message::binary(vec![4u8, 1, 2, 3]));
    }

    #[tokio::test]
    async fn a_small_text_packet_is_written_at_once_and_the_rest_framed_as_usual() {
        use tokio::io::AsyncReadExt as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        let (mut client, (server, _)) = (client.unwrap(), accepted.unwrap());
        let io = WsIo::Tcp {
            stream: server,
            unread: Bytes::new(),
        };
        // Writable once the runtime has seen the socket's first readiness.
        let mut quick = try_write_small(&io, EncodedPacket::text("2"));
        for _ in 0..100 {
            match quick {
                Quick::NotNow(p) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    quick = try_write_small(&io, p);
                }
                _ => break,
            }
        }
        assert!(matches!(quick, Quick::Done));
        let mut got = [0u8; 3];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(got, [0x81, 1, b'2']);
        // Not small: handed back untouched, for `Frames`.
        let long = EncodedPacket::Text(Utf8Bytes::from("4".repeat(126)));
        match try_write_small(&io, long) {
            Quick::NotNow(EncodedPacket::Text(t)) => assert_eq!(t.len(), 126),
            _ => panic!("a 126-byte packet is not small"),
        }
        let binary = EncodedPacket::Binary(Bytes::from_static(&[1]));
        assert!(matches!(try_write_small(&io, binary), Quick::NotNow(_)));
    }

    #[tokio::test]
    async fn raw_bytes_pushed_are_written_as_they_are() {
        let mut frames = Frames::default();
        frames.push_raw(Bytes::from_static(&[0x81, 1]));
        frames.push_raw(Bytes::from_static(b"2"));
        frames.push(
            EncodedPacket::Text(Utf8Bytes::from("4x".to_owned())),
            ProtocolVersion::V4,
            false,
        );
        let mut io = Trickle::new(usize::MAX, false);
        frames.write_to(&mut io).await.unwrap();
        let got = read_back(io.out).await;
        assert_eq!(got, [Message::text("2"), Message::text("4x")]);
    }
}
