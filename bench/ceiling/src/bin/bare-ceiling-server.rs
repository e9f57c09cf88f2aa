//! `bare-ceiling-server`: the limit of this machine's kernel path for the benchmark, with
//! no WebSocket library at all.
//!
//! It answers the same frames as `ceiling-server` (see its docs), but frames and parses
//! WebSocket itself: a broadcast is framed **once** (header and payload in one buffer)
//! and that buffer is shared by every recipient; each connection's task writes everything
//! queued for it in one vectored write (`writev`), as many times as the kernel needs.
//! Only the handshake's accept key comes from tungstenite. Loopback only; never pings.

use std::io::IoSlice;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// Largest request head accepted.
const MAX_HEAD: usize = 8 * 1024;
/// Frames written in one vectored write at most (the kernel's IOV_MAX is 1024).
const MAX_SLICES: usize = 512;

struct Shared {
    room: RwLock<Vec<UnboundedSender<Bytes>>>,
    next_id: AtomicU64,
}

impl Shared {
    fn broadcast(&self, frame: Bytes) {
        let mut dead = false;
        for member in self.room.read().unwrap().iter() {
            dead |= member.send(frame.clone()).is_err();
        }
        if dead {
            self.room.write().unwrap().retain(|m| !m.is_closed());
        }
    }
}

/// A server text frame: FIN + text opcode, unmasked length, payload — one buffer.
fn text_frame(payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(payload.len() + 10);
    out.extend_from_slice(&[0x81]);
    match payload.len() {
        n if n < 126 => out.extend_from_slice(&[n as u8]),
        n if n <= u16::MAX as usize => {
            out.extend_from_slice(&[126]);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.extend_from_slice(&[127]);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out.freeze()
}

/// A frame received from the client (masked), unmasked.
struct Frame {
    opcode: u8,
    payload: Vec<u8>,
}

/// Takes one complete frame off the front of `buf`, if there is one.
fn parse_frame(buf: &mut BytesMut) -> Option<Frame> {
    if buf.len() < 2 {
        return None;
    }
    let opcode = buf[0] & 0x0f;
    let masked = buf[1] & 0x80 != 0;
    let (len, mut at) = match buf[1] & 0x7f {
        126 => {
            if buf.len() < 4 {
                return None;
            }
            (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4)
        }
        127 => {
            if buf.len() < 10 {
                return None;
            }
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(b) as usize, 10)
        }
        n => (n as usize, 2),
    };
    let mask = if masked {
        if buf.len() < at + 4 {
            return None;
        }
        let m = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
        at += 4;
        Some(m)
    } else {
        None
    };
    if buf.len() < at + len {
        return None;
    }
    let frame = buf.split_to(at + len);
    let mut payload = frame[at..].to_vec();
    if let Some(m) = mask {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= m[i % 4];
        }
    }
    Some(Frame { opcode, payload })
}

/// A 20-character id: a one-letter kind and the connection number.
fn sid(kind: char, n: u64) -> String {
    format!("{kind}{n:019}")
}

/// The reply to one text frame, if any; broadcasts go to the room.
fn on_text(
    text: &[u8],
    n: u64,
    member: &mut Option<UnboundedReceiver<Bytes>>,
    shared: &Shared,
) -> Option<Bytes> {
    let Some(rest) = text.strip_prefix(b"42") else {
        if text == b"40" || text.starts_with(b"40{") {
            return Some(text_frame(
                format!(r#"40{{"sid":"{}"}}"#, sid('s', n)).as_bytes(),
            ));
        }
        return None;
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let (id, body) = rest.split_at(digits);
    if let Some(payload) = body.strip_prefix(br#"["broadcast","#) {
        let mut text = Vec::with_capacity(payload.len() + 8);
        text.extend_from_slice(br#"42["msg","#);
        text.extend_from_slice(payload);
        shared.broadcast(text_frame(&text));
        None
    } else if let Some(payload) = body.strip_prefix(br#"["echo","#) {
        if id.is_empty() {
            return None;
        }
        let mut reply = Vec::with_capacity(payload.len() + id.len() + 3);
        reply.extend_from_slice(b"43");
        reply.extend_from_slice(id);
        reply.push(b'[');
        reply.extend_from_slice(payload);
        Some(text_frame(&reply))
    } else if body.starts_with(br#"["join""#) {
        if member.is_none() {
            let (tx, rx) = mpsc::unbounded_channel();
            shared.room.write().unwrap().push(tx);
            *member = Some(rx);
        }
        if id.is_empty() {
            return None;
        }
        let mut reply = b"43".to_vec();
        reply.extend_from_slice(id);
        reply.extend_from_slice(br#"["ok"]"#);
        Some(text_frame(&reply))
    } else {
        None
    }
}

/// Writes every frame in `queue` with as few vectored writes as the kernel allows.
async fn write_all(w: &mut OwnedWriteHalf, queue: &mut Vec<Bytes>) -> std::io::Result<()> {
    let mut first = 0; // frames fully written
    let mut offset = 0; // bytes written of queue[first]
    while first < queue.len() {
        let end = (first + MAX_SLICES).min(queue.len());
        let slices: Vec<IoSlice<'_>> = std::iter::once(IoSlice::new(&queue[first][offset..]))
            .chain(queue[first + 1..end].iter().map(|b| IoSlice::new(b)))
            .collect();
        let mut n = w.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while n > 0 {
            let left = queue[first].len() - offset;
            if n >= left {
                n -= left;
                first += 1;
                offset = 0;
            } else {
                offset += n;
                n = 0;
            }
        }
    }
    queue.clear();
    Ok(())
}

async fn recv(member: &mut Option<UnboundedReceiver<Bytes>>) -> Option<Bytes> {
    match member {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn handshake(tcp: &mut TcpStream) -> Option<BytesMut> {
    let mut buf = BytesMut::with_capacity(1024);
    let end = loop {
        if tcp.read_buf(&mut buf).await.ok()? == 0 || buf.len() > MAX_HEAD {
            return None;
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let key = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("sec-websocket-key")
            .then(|| value.trim().to_owned())
    })?;
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    tcp.write_all(response.as_bytes()).await.ok()?;
    let _ = buf.split_to(end);
    Some(buf)
}

async fn serve(mut tcp: TcpStream, shared: Arc<Shared>) {
    let _ = tcp.set_nodelay(true);
    let Some(mut buf) = handshake(&mut tcp).await else {
        return;
    };
    let n = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let (mut r, mut w) = tcp.into_split();
    let open = format!(
        r#"0{{"sid":"{}","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}}"#,
        sid('e', n)
    );
    let mut queue = vec![text_frame(open.as_bytes())];
    if write_all(&mut w, &mut queue).await.is_err() {
        return;
    }
    let mut member: Option<UnboundedReceiver<Bytes>> = None;
    loop {
        tokio::select! {
            read = r.read_buf(&mut buf) => {
                match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                while let Some(frame) = parse_frame(&mut buf) {
                    match frame.opcode {
                        1 => {
                            if let Some(reply) = on_text(&frame.payload, n, &mut member, &shared) {
                                queue.push(reply);
                            }
                        }
                        8 => return,
                        9 => {
                            let mut pong = BytesMut::from(&text_frame(&frame.payload)[..]);
                            pong[0] = 0x8a;
                            queue.push(pong.freeze());
                        }
                        _ => {}
                    }
                }
                if buf.capacity() > 64 * 1024 && buf.is_empty() {
                    buf = BytesMut::with_capacity(1024);
                }
            }
            Some(frame) = recv(&mut member) => {
                queue.push(frame);
                if let Some(rx) = member.as_mut() {
                    while let Ok(frame) = rx.try_recv() {
                        queue.push(frame);
                    }
                }
            }
        }
        if !queue.is_empty() && write_all(&mut w, &mut queue).await.is_err() {
            return;
        }
    }
}

#[tokio::main]
async fn main() {
    let port = sockio_bench_ceiling::port();
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1)
        }
    };
    eprintln!("bare-ceiling-server (no WebSocket library) listening on 127.0.0.1:{port}");
    let shared = Arc::new(Shared {
        room: RwLock::new(Vec::new()),
        next_id: AtomicU64::new(0),
    });
    let accept = async {
        loop {
            match listener.accept().await {
                Ok((tcp, _)) => {
                    tokio::spawn(serve(tcp, shared.clone()));
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
            }
        }
    };
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        () = accept => {}
        _ = sigterm.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    std::process::exit(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_frame(payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut f = vec![0x81];
        match payload.len() {
            n if n < 126 => f.push(0x80 | n as u8),
            n => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        f
    }

    #[test]
    fn frames_round_trip_in_pieces() {
        let long = vec![b'x'; 300];
        let mut wire = client_frame(b"42[\"echo\",1]", [1, 2, 3, 4]);
        wire.extend(client_frame(&long, [9, 8, 7, 6]));
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for chunk in wire.chunks(7) {
            buf.extend_from_slice(chunk);
            while let Some(f) = parse_frame(&mut buf) {
                got.push(f.payload);
            }
        }
        assert_eq!(got, vec![b"42[\"echo\",1]".to_vec(), long]);
        let framed = text_frame(&[b'y'; 200]);
        assert_eq!(&framed[..4], &[0x81, 126, 0, 200]);
    }
}
