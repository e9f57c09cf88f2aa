//! `held-ceiling-server`: the floor of the held-19k benchmark — what an Engine.IO server
//! must do for an idle WebSocket connection, and nothing else, with the least user-space
//! work we can write.
//!
//! One thread, one `epoll` (mio, edge-triggered), no async runtime. It answers the
//! upgrade (`101`), sends the Engine.IO open packet (`pingInterval` 25000, `pingTimeout`
//! 20000), answers the Socket.IO `40` with `40{"sid":…}`, and then keeps the heartbeat the
//! way engine.io does: a `2` text frame 25 s after the open and 25 s after each pong, and
//! the connection closed if the `3` has not come 20 s after a ping. Since both delays are
//! fixed, every deadline is later than the one queued before it, so the timers are two
//! first-in-first-out lists of `(due, slot, generation)` — no wheel, no heap, no task per
//! connection: a round costs one `write` (the ping), one `read` (the pong; a short read has
//! drained the socket, so no read ends in `EAGAIN`) and a share of one `epoll_wait`.
//! Anything else the client sends is ignored (a close frame closes). Loopback only.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

const LISTENER: Token = Token(usize::MAX);
const PING_INTERVAL: Duration = Duration::from_millis(25_000);
const PING_TIMEOUT: Duration = Duration::from_millis(20_000);
/// Largest upgrade request accepted.
const MAX_HEAD: usize = 8 * 1024;
/// Largest client frame accepted (this server expects only a few bytes).
const MAX_FRAME: usize = 64 * 1024;
/// The ping: a text frame holding `2`.
const PING: [u8; 3] = [0x81, 0x01, b'2'];

/// One connection.
struct Conn {
    stream: TcpStream,
    /// The upgrade request read so far; `None` once answered.
    head: Option<Vec<u8>>,
    /// The start of a client frame not read whole (rare).
    partial: Vec<u8>,
    /// Output the socket did not take at once (rare).
    out: Vec<u8>,
    /// A ping went out and its pong has not come.
    awaiting_pong: bool,
    /// Connection number, for the ids.
    n: u64,
}

/// A connection's place, kept across reuse so that its generation keeps counting.
#[derive(Default)]
struct Slot {
    conn: Option<Conn>,
    /// Bumped whenever the connection's deadline moves or it closes: queued entries of an
    /// older generation are stale.
    generation: u32,
}

/// A deadline: when, which slot, which generation.
type Due = (Instant, u32, u32);

struct Server {
    poll: Poll,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Pings due, in order.
    pings: VecDeque<Due>,
    /// Pong deadlines, in order.
    timeouts: VecDeque<Due>,
    next_n: u64,
}

/// What a client frame asks for.
enum Reply {
    None,
    Bytes(Vec<u8>),
    Close,
}

fn text_frame(out: &mut Vec<u8>, text: &[u8]) {
    out.push(0x81);
    match text.len() {
        n if n < 126 => out.push(n as u8),
        n => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(text);
}

/// A 20-character id: a one-letter kind and the connection number.
fn sid(kind: char, n: u64) -> String {
    format!("{kind}{n:019}")
}

impl Server {
    fn accept(&mut self, listener: &TcpListener, now: Instant) {
        loop {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let slot = match self.free.pop() {
                        Some(s) => s,
                        None => {
                            self.slots.push(Slot::default());
                            (self.slots.len() - 1) as u32
                        }
                    };
                    if self
                        .poll
                        .registry()
                        .register(&mut stream, Token(slot as usize), Interest::READABLE)
                        .is_err()
                    {
                        self.free.push(slot);
                        continue;
                    }
                    self.next_n += 1;
                    self.slots[slot as usize].conn = Some(Conn {
                        stream,
                        head: Some(Vec::new()),
                        partial: Vec::new(),
                        out: Vec::new(),
                        awaiting_pong: false,
                        n: self.next_n,
                    });
                    // Data may already be there (edge-triggered: no event for it).
                    self.readable(slot, now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // Out of descriptors, say: the next readiness event tries again.
                Err(_) => return,
            }
        }
    }

    fn close(&mut self, slot: u32) {
        let s = &mut self.slots[slot as usize];
        if let Some(mut conn) = s.conn.take() {
            let _ = self.poll.registry().deregister(&mut conn.stream);
            s.generation = s.generation.wrapping_add(1);
            self.free.push(slot);
        }
    }

    /// Writes `bytes` after whatever is pending; keeps what the socket does not take.
    fn send(&mut self, slot: u32, bytes: &[u8]) {
        let Some(conn) = self.slots[slot as usize].conn.as_mut() else {
            return;
        };
        if !conn.out.is_empty() {
            conn.out.extend_from_slice(bytes);
            return;
        }
        let written = match conn.stream.write(bytes) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(_) => return self.close(slot),
        };
        if written < bytes.len() {
            conn.out.extend_from_slice(&bytes[written..]);
            let token = Token(slot as usize);
            let interest = Interest::READABLE | Interest::WRITABLE;
            if self
                .poll
                .registry()
                .reregister(&mut conn.stream, token, interest)
                .is_err()
            {
                self.close(slot);
            }
        }
    }

    fn writable(&mut self, slot: u32) {
        let Some(conn) = self.slots[slot as usize].conn.as_mut() else {
            return;
        };
        while !conn.out.is_empty() {
            match conn.stream.write(&conn.out) {
                Ok(n) => {
                    conn.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return self.close(slot),
            }
        }
        conn.out = Vec::new();
        let token = Token(slot as usize);
        if self
            .poll
            .registry()
            .reregister(&mut conn.stream, token, Interest::READABLE)
            .is_err()
        {
            self.close(slot);
        }
    }

    /// Reads until the socket is drained (a short read drains it).
    fn readable(&mut self, slot: u32, now: Instant) {
        let mut buf = [0u8; 4096];
        loop {
            let Some(conn) = self.slots[slot as usize].conn.as_mut() else {
                return;
            };
            let n = match conn.stream.read(&mut buf) {
                Ok(0) => return self.close(slot),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return self.close(slot),
            };
            if !self.received(slot, &buf[..n], now) {
                return self.close(slot);
            }
            if n < buf.len() {
                return;
            }
        }
    }

    /// Handles bytes read; false closes the connection.
    fn received(&mut self, slot: u32, data: &[u8], now: Instant) -> bool {
        let Some(conn) = self.slots[slot as usize].conn.as_mut() else {
            return false;
        };
        if let Some(head) = conn.head.as_mut() {
            head.extend_from_slice(data);
            let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                return head.len() <= MAX_HEAD;
            };
            let Some(reply) = upgrade_reply(&head[..end + 4], conn.n) else {
                return false;
            };
            let rest = head.split_off(end + 4);
            conn.head = None;
            self.send(slot, &reply);
            self.arm_ping(slot, now);
            return rest.is_empty() || self.frames(slot, &rest, now);
        }
        self.frames(slot, data, now)
    }

    /// Takes the complete client frames of `data` (after any kept partial frame).
    fn frames(&mut self, slot: u32, data: &[u8], now: Instant) -> bool {
        let Some(conn) = self.slots[slot as usize].conn.as_mut() else {
            return false;
        };
        let mut kept = std::mem::take(&mut conn.partial);
        let bytes: &[u8] = if kept.is_empty() {
            data
        } else {
            kept.extend_from_slice(data);
            &kept
        };
        let mut at = 0;
        while let Some((opcode, payload, used)) = parse_frame(&bytes[at..]) {
            if payload.len() > MAX_FRAME {
                return false;
            }
            at += used;
            match on_frame(opcode, &payload, self.slots[slot as usize].conn.as_ref()) {
                Reply::None if opcode == 0x1 && payload == b"3" => self.pong(slot, now),
                Reply::None => {}
                Reply::Bytes(b) => self.send(slot, &b),
                Reply::Close => return false,
            }
        }
        if at < bytes.len() {
            if bytes.len() - at > MAX_FRAME + 14 {
                return false;
            }
            let rest = bytes[at..].to_vec();
            if let Some(conn) = self.slots[slot as usize].conn.as_mut() {
                conn.partial = rest;
            }
        }
        true
    }

    /// Schedules the next ping of `slot`, an interval from now.
    fn arm_ping(&mut self, slot: u32, now: Instant) {
        let s = &mut self.slots[slot as usize];
        s.generation = s.generation.wrapping_add(1);
        self.pings
            .push_back((now + PING_INTERVAL, slot, s.generation));
    }

    fn pong(&mut self, slot: u32, now: Instant) {
        let Some(conn) = self.slots[slot as usize].conn.as_mut() else {
            return;
        };
        if conn.awaiting_pong {
            conn.awaiting_pong = false;
            self.arm_ping(slot, now);
        }
    }

    /// Sends the pings due and closes the connections whose pong is overdue.
    fn expire(&mut self, now: Instant) {
        while let Some(&(due, slot, generation)) = self.pings.front() {
            if due > now {
                break;
            }
            self.pings.pop_front();
            let s = &mut self.slots[slot as usize];
            if s.generation != generation {
                continue;
            }
            let Some(conn) = s.conn.as_mut() else {
                continue;
            };
            conn.awaiting_pong = true;
            s.generation = s.generation.wrapping_add(1);
            self.timeouts
                .push_back((now + PING_TIMEOUT, slot, s.generation));
            self.send(slot, &PING);
        }
        while let Some(&(due, slot, generation)) = self.timeouts.front() {
            if due > now {
                break;
            }
            self.timeouts.pop_front();
            let s = &self.slots[slot as usize];
            if s.generation == generation && s.conn.as_ref().is_some_and(|c| c.awaiting_pong) {
                // Ping timeout.
                self.close(slot);
            }
        }
    }

    /// How long until the next deadline.
    fn next_timeout(&self, now: Instant) -> Option<Duration> {
        let next = match (self.pings.front(), self.timeouts.front()) {
            (Some(p), Some(t)) => p.0.min(t.0),
            (Some(p), None) => p.0,
            (None, Some(t)) => t.0,
            (None, None) => return None,
        };
        Some(next.saturating_duration_since(now))
    }
}

/// The answer to a client frame (`3`, the pong, is handled by the caller).
fn on_frame(opcode: u8, payload: &[u8], conn: Option<&Conn>) -> Reply {
    match opcode {
        0x1 if payload == b"40" || payload.starts_with(b"40{") => {
            let n = conn.map_or(0, |c| c.n);
            let mut out = Vec::with_capacity(32);
            text_frame(
                &mut out,
                format!(r#"40{{"sid":"{}"}}"#, sid('s', n)).as_bytes(),
            );
            Reply::Bytes(out)
        }
        0x8 => Reply::Close,
        0x9 => {
            let mut out = vec![0x8a, payload.len() as u8];
            out.extend_from_slice(payload);
            Reply::Bytes(out)
        }
        _ => Reply::None,
    }
}

/// One complete frame at the start of `data`: opcode, unmasked payload, bytes used.
fn parse_frame(data: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let (&b0, &b1) = (data.first()?, data.get(1)?);
    let (len, mut at) = match b1 & 0x7f {
        126 => (
            u16::from_be_bytes([*data.get(2)?, *data.get(3)?]) as usize,
            4,
        ),
        127 => {
            let b: [u8; 8] = data.get(2..10)?.try_into().ok()?;
            (
                usize::try_from(u64::from_be_bytes(b)).unwrap_or(usize::MAX),
                10,
            )
        }
        n => (n as usize, 2),
    };
    let mask = if b1 & 0x80 != 0 {
        let m: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        m
    } else {
        [0; 4]
    };
    if len > MAX_FRAME {
        // Refused by the caller without waiting for it.
        return Some((b0 & 0x0f, vec![0; MAX_FRAME + 1], data.len()));
    }
    let payload = data.get(at..at + len)?;
    let payload = payload
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect();
    Some((b0 & 0x0f, payload, at + len))
}

/// The `101` and the Engine.IO open packet, for an upgrade request head.
fn upgrade_reply(head: &[u8], n: u64) -> Option<Vec<u8>> {
    let head = std::str::from_utf8(head).ok()?;
    let key = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("sec-websocket-key")
            .then(|| value.trim())
    })?;
    let mut out = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    )
    .into_bytes();
    let open = format!(
        r#"0{{"sid":"{}","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}}"#,
        sid('e', n)
    );
    text_frame(&mut out, open.as_bytes());
    Some(out)
}

fn main() -> io::Result<()> {
    let port = sockio_bench_ceiling::port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut listener = TcpListener::bind(addr).inspect_err(|e| {
        eprintln!("cannot listen on {addr}: {e}");
    })?;
    let poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    eprintln!("held-ceiling-server (mio, one thread, heartbeats only) listening on {addr}");
    let mut server = Server {
        poll,
        slots: Vec::new(),
        free: Vec::new(),
        pings: VecDeque::new(),
        timeouts: VecDeque::new(),
        next_n: 0,
    };
    let mut events = Events::with_capacity(1024);
    // SIGTERM's default action ends the process (bench/run.sh stops servers with it).
    loop {
        let timeout = server.next_timeout(Instant::now());
        match server.poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        // One clock read per wake-up: a pong handled now re-arms from a time at or after
        // its arrival, so a ping is never early.
        let now = Instant::now();
        for event in events.iter() {
            match event.token() {
                LISTENER => server.accept(&listener, now),
                Token(slot) => {
                    let slot = slot as u32;
                    if event.is_writable() {
                        server.writable(slot);
                    }
                    if event.is_readable() || event.is_read_closed() || event.is_error() {
                        server.readable(slot, now);
                    }
                }
            }
        }
        server.expire(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_frame(payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut f = vec![0x81, 0x80 | payload.len() as u8];
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        f
    }

    #[test]
    fn frames_parse_whole_or_not_at_all() {
        let mut wire = client_frame(b"3", [1, 2, 3, 4]);
        wire.extend(client_frame(b"40", [5, 6, 7, 8]));
        let (op, p, used) = parse_frame(&wire).unwrap();
        assert_eq!((op, p.as_slice(), used), (1, &b"3"[..], 7));
        let (_, p, used2) = parse_frame(&wire[used..]).unwrap();
        assert_eq!((p.as_slice(), used + used2), (&b"40"[..], wire.len()));
        assert!(parse_frame(&wire[..5]).is_none());
    }

    #[test]
    fn upgrade_reply_answers_the_key_and_opens() {
        let head = b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        let reply = String::from_utf8_lossy(&upgrade_reply(head, 7).unwrap()).into_owned();
        assert!(reply.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"));
        assert!(
            reply.contains(r#"0{"sid":"e0000000000000000007","upgrades":[],"pingInterval":25000"#)
        );
    }
}
