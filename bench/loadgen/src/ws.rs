//! A minimal WebSocket client (RFC 6455), just what the load generator needs: the upgrade
//! handshake, unmasked frames from the server parsed in place from one read buffer, and
//! masked text frames out.
//!
//! Why not `tokio_tungstenite::WebSocketStream`: on the fan-out receive path each delivery
//! cost the load generator about twice the server CPU of the raw ceiling server (waker
//! registration, a `Bytes` split and a UTF-8 check per message), so the load generator, not
//! the server, set the rate. Here a wake-up reads up to the buffer size in one syscall and
//! every complete frame in it is handed out as a borrowed slice. tungstenite still supplies
//! the handshake key and its accept check.
//!
//! The socket sits in an [`AsyncFd`] rather than a `tokio::net::TcpStream` for one reason: a
//! read that returns less than asked for has drained the socket, so readiness is cleared
//! right there (race-free: `clear_ready` only clears events older than the guard) instead of
//! by a second `read` failing with `EAGAIN` — one syscall fewer per wake-up.

use std::io::{self, Read, Write};

use tokio::io::unix::AsyncFd;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// Largest frame accepted from the server.
const MAX_FRAME: usize = 16 << 20;
/// Largest HTTP upgrade response accepted.
const MAX_RESPONSE_HEAD: usize = 16 << 10;

/// A frame handed out by [`Ws::next_frame`]. Pings are answered (queued) and pongs skipped
/// internally.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Text(&'a [u8]),
    Binary,
    Close,
}

pub struct Ws {
    fd: AsyncFd<std::net::TcpStream>,
    /// Read buffer; unconsumed bytes are `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// A fragmented text message being reassembled, and the last one completed.
    frag: Option<Vec<u8>>,
    assembled: Vec<u8>,
    skipping_binary: bool,
    /// Frames queued for sending (see [`Ws::flush`]).
    out: Vec<u8>,
    mask_seed: u32,
}

impl Ws {
    /// Performs the HTTP/1.1 upgrade for `path` on `stream`.
    pub async fn handshake(
        stream: TcpStream,
        host: &str,
        path: &str,
        buf_size: usize,
        seed: u32,
    ) -> Result<Ws, String> {
        let std = stream.into_std().map_err(|e| format!("socket: {e}"))?;
        // SAFETY: a `std::net::TcpStream` owns its descriptor: valid and open until the
        // `AsyncFd` (which owns the stream) drops it, and `as_raw_fd` always returns it.
        let fd = unsafe { AsyncFd::register(std) }
            .map_err(|e| format!("socket: {}", e.into_parts().1))?;
        let mut ws = Ws {
            fd,
            buf: vec![0u8; buf_size.max(1024)],
            start: 0,
            end: 0,
            frag: None,
            assembled: Vec::new(),
            skipping_binary: false,
            out: Vec::new(),
            mask_seed: seed | 1,
        };
        let key = generate_key();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
        );
        ws.out.extend_from_slice(request.as_bytes());
        ws.flush()
            .await
            .map_err(|e| format!("upgrade request: {e}"))?;
        let head_len = loop {
            if let Some(i) = find(&ws.buf[..ws.end], b"\r\n\r\n") {
                break i + 4;
            }
            if ws.end == ws.buf.len() && ws.buf.len() >= MAX_RESPONSE_HEAD {
                return Err("upgrade response head too large".into());
            }
            match ws.fill().await {
                Ok(true) => {}
                Ok(false) => return Err("upgrade response: connection closed".into()),
                Err(e) => return Err(format!("upgrade response: {e}")),
            }
        };
        check_upgrade_response(&ws.buf[..head_len], &derive_accept_key(key.as_bytes()))?;
        ws.start = head_len;
        Ok(ws)
    }

    /// Reads more bytes from the socket (one `read` when it is readable). Cancel safe.
    /// `Ok(false)` on EOF.
    pub async fn fill(&mut self) -> io::Result<bool> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                // One frame larger than the buffer: grow (bounded by MAX_FRAME in next_frame).
                let len = self.buf.len() * 2;
                self.buf.resize(len, 0);
            }
        }
        let want = self.buf.len() - self.end;
        loop {
            let mut guard = self.fd.readable().await?;
            let buf = &mut self.buf[self.end..];
            match guard.try_io(|s| s.get_ref().read(buf)) {
                Ok(Ok(n)) => {
                    if n < want {
                        // Drained: a later arrival raises a new edge.
                        guard.clear_ready();
                    }
                    self.end += n;
                    return Ok(n > 0);
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => {}
            }
        }
    }

    /// The next complete frame already buffered, if any.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, String> {
        loop {
            let data = &self.buf[self.start..self.end];
            let Some((fin, opcode, hdr, len, mask)) = parse_header(data)? else {
                return Ok(None);
            };
            if len > MAX_FRAME {
                return Err(format!("frame of {len} bytes"));
            }
            if data.len() < hdr + len {
                return Ok(None);
            }
            let p0 = self.start + hdr;
            self.start = p0 + len;
            if let Some(key) = mask {
                // Servers must not mask; tolerate it anyway.
                apply_mask(&mut self.buf[p0..p0 + len], key);
            }
            match opcode {
                0x1 if fin => return Ok(Some(Frame::Text(&self.buf[p0..p0 + len]))),
                0x1 => self.frag = Some(self.buf[p0..p0 + len].to_vec()),
                0x2 => {
                    self.skipping_binary = !fin;
                    return Ok(Some(Frame::Binary));
                }
                0x0 if self.skipping_binary => self.skipping_binary = !fin,
                0x0 => {
                    let Some(frag) = self.frag.as_mut() else {
                        return Err("continuation frame without a start".into());
                    };
                    frag.extend_from_slice(&self.buf[p0..p0 + len]);
                    if fin {
                        self.assembled = self.frag.take().unwrap_or_default();
                        return Ok(Some(Frame::Text(&self.assembled)));
                    }
                }
                0x8 => return Ok(Some(Frame::Close)),
                0x9 => {
                    let payload = self.buf[p0..p0 + len].to_vec();
                    self.queue(0xA, &payload);
                }
                0xA => {}
                op => return Err(format!("unknown opcode {op:#x}")),
            }
        }
    }

    /// Queues a text frame; sent by the next [`Ws::flush`].
    pub fn queue_text(&mut self, text: &[u8]) {
        self.queue(0x1, text);
    }

    /// Queues and sends a text frame (and anything queued before it).
    pub async fn send_text(&mut self, text: &[u8]) -> io::Result<()> {
        self.queue_text(text);
        self.flush().await
    }

    pub fn has_queued(&self) -> bool {
        !self.out.is_empty()
    }

    /// Writes every queued frame.
    pub async fn flush(&mut self) -> io::Result<()> {
        let mut done = 0;
        while done < self.out.len() {
            // Optimistic first: a socket with room in its send buffer takes the bytes now.
            match self.fd.get_ref().write(&self.out[done..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let mut guard = self.fd.writable().await?;
                    match guard.try_io(|s| s.get_ref().write(&self.out[done..])) {
                        Ok(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(Ok(n)) => done += n,
                        Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                        Ok(Err(e)) => return Err(e),
                        Err(_would_block) => {}
                    }
                }
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        Ok(())
    }

    fn queue(&mut self, opcode: u8, payload: &[u8]) {
        // xorshift32: masking keys need not be strong here, only present (clients must mask).
        let mut x = self.mask_seed;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.mask_seed = x;
        encode_frame(&mut self.out, opcode, payload, x.to_be_bytes());
    }
}

/// Appends a final, masked client frame.
pub fn encode_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], key: [u8; 4]) {
    out.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= u16::MAX as usize {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
    let at = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[at..], key);
}

fn apply_mask(data: &mut [u8], key: [u8; 4]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

/// `(fin, opcode, header length, payload length, masking key)`, or `None` if incomplete.
#[allow(clippy::type_complexity)]
fn parse_header(d: &[u8]) -> Result<Option<(bool, u8, usize, usize, Option<[u8; 4]>)>, String> {
    if d.len() < 2 {
        return Ok(None);
    }
    if d[0] & 0x70 != 0 {
        return Err("reserved bits set (compression was not negotiated)".into());
    }
    let fin = d[0] & 0x80 != 0;
    let opcode = d[0] & 0x0f;
    let masked = d[1] & 0x80 != 0;
    let (mut hdr, len) = match d[1] & 0x7f {
        126 => {
            if d.len() < 4 {
                return Ok(None);
            }
            (4, u16::from_be_bytes([d[2], d[3]]) as usize)
        }
        127 => {
            if d.len() < 10 {
                return Ok(None);
            }
            let mut b = [0u8; 8];
            b.copy_from_slice(&d[2..10]);
            (
                10,
                usize::try_from(u64::from_be_bytes(b)).unwrap_or(usize::MAX),
            )
        }
        n => (2, n as usize),
    };
    let mask = if masked {
        if d.len() < hdr + 4 {
            return Ok(None);
        }
        let k = [d[hdr], d[hdr + 1], d[hdr + 2], d[hdr + 3]];
        hdr += 4;
        Some(k)
    } else {
        None
    };
    Ok(Some((fin, opcode, hdr, len, mask)))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Checks a `101 Switching Protocols` response head and its `Sec-WebSocket-Accept`.
fn check_upgrade_response(head: &[u8], accept: &str) -> Result<(), String> {
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 101") {
        return Err(format!("upgrade refused: {status}"));
    }
    let got = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("sec-websocket-accept")
            .then(|| value.trim())
    });
    match got {
        Some(v) if v == accept => Ok(()),
        Some(v) => Err(format!("bad Sec-WebSocket-Accept {v}")),
        None => Err("no Sec-WebSocket-Accept".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_frame(opcode_byte: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![opcode_byte];
        match payload.len() {
            n if n < 126 => v.push(n as u8),
            n if n <= 0xffff => {
                v.push(126);
                v.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                v.push(127);
                v.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn headers() {
        assert_eq!(parse_header(&[0x81]).unwrap(), None);
        assert_eq!(
            parse_header(&[0x81, 5]).unwrap(),
            Some((true, 1, 2, 5, None))
        );
        assert_eq!(parse_header(&[0x01, 126, 1]).unwrap(), None);
        assert_eq!(
            parse_header(&[0x01, 126, 1, 0]).unwrap(),
            Some((false, 1, 4, 256, None))
        );
        let mut big = vec![0x82, 127];
        big.extend_from_slice(&70000u64.to_be_bytes());
        assert_eq!(
            parse_header(&big).unwrap(),
            Some((true, 2, 10, 70000, None))
        );
        assert_eq!(
            parse_header(&[0x81, 0x81, 1, 2, 3, 4]).unwrap(),
            Some((true, 1, 6, 1, Some([1, 2, 3, 4])))
        );
        assert!(parse_header(&[0xC1, 1]).is_err());
    }

    #[test]
    fn masked_encoding_roundtrips() {
        for len in [0usize, 5, 125, 126, 300, 70000] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut out = Vec::new();
            encode_frame(&mut out, 1, &payload, [9, 8, 7, 6]);
            let (fin, op, hdr, l, mask) = parse_header(&out).unwrap().unwrap();
            assert!(fin);
            assert_eq!((op, l), (1, len));
            assert_eq!(out.len(), hdr + len);
            let mut body = out[hdr..].to_vec();
            apply_mask(&mut body, mask.unwrap());
            assert_eq!(body, payload);
        }
    }

    #[test]
    fn upgrade_response() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let accept = derive_accept_key(key.as_bytes());
        assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        let ok = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             sec-websocket-accept: {accept}\r\n\r\n"
        );
        assert!(check_upgrade_response(ok.as_bytes(), &accept).is_ok());
        assert!(check_upgrade_response(b"HTTP/1.1 400 Bad Request\r\n\r\n", &accept).is_err());
        let bad = "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: nope\r\n\r\n";
        assert!(check_upgrade_response(bad.as_bytes(), &accept).is_err());
    }

    /// Frames split across reads, fragmentation, pings and binaries, over a real socket pair.
    #[tokio::test]
    async fn frames_over_a_socket() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut req = vec![0u8; 4096];
            let mut n = 0;
            while find(&req[..n], b"\r\n\r\n").is_none() {
                n += s.read(&mut req[n..]).await.unwrap();
            }
            let req = String::from_utf8_lossy(&req[..n]).to_string();
            let key = req
                .lines()
                .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
                .unwrap()
                .trim()
                .to_string();
            let mut bytes = format!(
                "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                derive_accept_key(key.as_bytes())
            )
            .into_bytes();
            bytes.extend(server_frame(0x81, b"0{\"sid\":\"x\"}"));
            bytes.extend(server_frame(0x89, b"hi"));
            bytes.extend(server_frame(0x01, b"frag"));
            bytes.extend(server_frame(0x80, b"mented"));
            bytes.extend(server_frame(0x82, &[1, 2, 3]));
            let long = vec![b'x'; 5000];
            bytes.extend(server_frame(0x81, &long));
            // Byte by byte through a small buffer: every split point.
            for chunk in bytes.chunks(7) {
                s.write_all(chunk).await.unwrap();
                s.flush().await.unwrap();
            }
            bytes = server_frame(0x88, &[]);
            s.write_all(&bytes).await.unwrap();
            // The client's pong for "hi" and its text frame.
            let mut got = [0u8; 64];
            let mut n = 0;
            while n < 2 + 4 + 2 + 2 + 4 + 1 {
                n += s.read(&mut got[n..]).await.unwrap();
            }
            let (_, op, hdr, len, mask) = parse_header(&got[..n]).unwrap().unwrap();
            let mut body = got[hdr..hdr + len].to_vec();
            apply_mask(&mut body, mask.unwrap());
            assert_eq!((op, body.as_slice()), (0xA, &b"hi"[..]));
            let rest = &got[hdr + len..n];
            let (_, op, hdr, len, mask) = parse_header(rest).unwrap().unwrap();
            let mut body = rest[hdr..hdr + len].to_vec();
            apply_mask(&mut body, mask.unwrap());
            assert_eq!((op, body.as_slice()), (0x1, &b"3"[..]));
        });

        let stream = TcpStream::connect(addr).await.unwrap();
        let mut ws = Ws::handshake(stream, "127.0.0.1", "/", 1024, 7)
            .await
            .unwrap();
        let mut texts = Vec::new();
        let mut binaries = 0;
        'read: loop {
            while let Some(f) = ws.next_frame().unwrap() {
                match f {
                    Frame::Text(t) => texts.push(t.to_vec()),
                    Frame::Binary => binaries += 1,
                    Frame::Close => break 'read,
                }
            }
            assert!(ws.fill().await.unwrap());
        }
        assert_eq!(texts.len(), 3);
        assert_eq!(texts[0], b"0{\"sid\":\"x\"}");
        assert_eq!(texts[1], b"fragmented");
        assert_eq!(texts[2].len(), 5000);
        assert_eq!(binaries, 1);
        assert!(ws.has_queued()); // the pong
        ws.send_text(b"3").await.unwrap();
        server.await.unwrap();
    }
}
