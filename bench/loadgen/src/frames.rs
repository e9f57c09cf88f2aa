//! The few Engine.IO / Socket.IO text frames the load generator writes and reads.
//!
//! Decoding is deliberately shallow: prefix checks, and two integers pulled out of a `msg`
//! payload. Nothing here allocates on the receive path.

use std::fmt::Write as _;

/// Engine.IO ping from the server.
pub const PING: &str = "2";
/// Engine.IO pong, our answer to [`PING`].
pub const PONG: &str = "3";
/// Socket.IO CONNECT to namespace `/`.
pub const CONNECT: &str = "40";
/// `join` event with ack id 1.
pub const JOIN: &str = r#"421["join","bench"]"#;

/// Engine.IO OPEN packet: `0{"sid":...}`.
pub fn is_open(frame: &str) -> bool {
    frame.starts_with("0{")
}

/// Socket.IO CONNECT ack for `/`: `40{"sid":"..."}`.
pub fn is_connect_ack(frame: &str) -> bool {
    frame.starts_with("40{")
}

/// Socket.IO CONNECT_ERROR for `/`: `44{...}`.
pub fn is_connect_error(frame: &str) -> bool {
    frame.starts_with("44")
}

/// The ack of [`JOIN`]: `431["ok"]` (any payload is accepted, the id must be 1).
pub fn is_join_ack(frame: &str) -> bool {
    frame.starts_with("431[")
}

/// Length of `{"t":T,"s":S,"p":""}` for these numbers.
fn broadcast_skeleton_len(t: u64, s: u64) -> usize {
    r#"{"t":,"s":,"p":""}"#.len() + decimal_len(t) + decimal_len(s)
}

fn decimal_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

/// Writes `42["broadcast",{"t":T,"s":S,"p":"xxx…"}]` into `out` (cleared first), the payload
/// object padded with `x` to `size` bytes (or the bare skeleton if that is already longer).
pub fn broadcast_frame(out: &mut String, t: u64, s: u64, size: usize) {
    out.clear();
    let pad = size.saturating_sub(broadcast_skeleton_len(t, s));
    // `write!` to a String cannot fail.
    let _ = write!(out, r#"42["broadcast",{{"t":{t},"s":{s},"p":""#);
    out.extend(std::iter::repeat_n('x', pad));
    out.push_str("\"}]");
}

/// `{"p":"xxx…"}` padded to `size` bytes (at least the 8-byte skeleton).
pub fn echo_payload(size: usize) -> String {
    let skeleton = r#"{"p":""}"#;
    let mut p = String::with_capacity(size.max(skeleton.len()));
    p.push_str(r#"{"p":""#);
    p.extend(std::iter::repeat_n(
        'x',
        size.saturating_sub(skeleton.len()),
    ));
    p.push_str("\"}");
    p
}

/// Writes `42<id>["echo",PAYLOAD]` into `out` (cleared first).
pub fn echo_frame(out: &mut String, id: u64, payload: &str) {
    out.clear();
    let _ = write!(out, r#"42{id}["echo",{payload}]"#);
}

/// What an incoming frame is, for an echo client waiting for ack `id`.
#[derive(Debug, PartialEq, Eq)]
pub enum EchoReply {
    /// `43<id>[PAYLOAD]` with the payload sent.
    Ok,
    /// An ack for this id whose payload differs.
    WrongPayload,
    /// An ack for another id.
    WrongId,
    /// Not an ack at all.
    NotAck,
}

/// Checks `frame` against the expected `43<id>[PAYLOAD]`, without allocating.
pub fn check_echo_reply(frame: &[u8], id: u64, payload: &[u8]) -> EchoReply {
    let Some(rest) = frame.strip_prefix(b"43") else {
        return EchoReply::NotAck;
    };
    match leading_u64(rest) {
        Some((got, rest)) if got == id => {
            match rest.strip_prefix(b"[").and_then(|r| r.strip_suffix(b"]")) {
                Some(p) if p == payload => EchoReply::Ok,
                _ => EchoReply::WrongPayload,
            }
        }
        _ => EchoReply::WrongId,
    }
}

/// A broadcast delivery `42["msg",{"t":T,"s":S,...}]`: returns `(t, s)`.
///
/// Fast path for the key order sent; any other order is found by search (`p` holds only `x`s,
/// so a key search cannot hit it).
pub fn parse_msg(frame: &[u8]) -> Option<(u64, u64)> {
    let body = frame.strip_prefix(br#"42["msg",{"#)?;
    if let Some((t, rest)) = body.strip_prefix(br#""t":"#).and_then(leading_u64) {
        if let Some((s, _)) = rest.strip_prefix(br#","s":"#).and_then(leading_u64) {
            return Some((t, s));
        }
    }
    Some((u64_after(body, br#""t":"#)?, u64_after(body, br#""s":"#)?))
}

/// The unsigned decimal integer at the start of `b`, and what follows it.
fn leading_u64(b: &[u8]) -> Option<(u64, &[u8])> {
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &b[..digits] {
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some((v, &b[digits..]))
}

/// The unsigned integer right after the first occurrence of `key` in `hay`.
fn u64_after(hay: &[u8], key: &[u8]) -> Option<u64> {
    let i = hay.windows(key.len()).position(|w| w == key)?;
    leading_u64(&hay[i + key.len()..]).map(|(v, _)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_frame_is_padded_to_size() {
        let mut f = String::new();
        broadcast_frame(&mut f, 123_456_789, 42, 100);
        let payload = f
            .strip_prefix(r#"42["broadcast","#)
            .and_then(|r| r.strip_suffix(']'))
            .unwrap();
        assert_eq!(payload.len(), 100);
        assert!(payload.starts_with(r#"{"t":123456789,"s":42,"p":"xxx"#));
        let v: serde_json::Value = serde_json::from_str(payload).unwrap();
        assert_eq!(v["t"], 123_456_789);
        assert_eq!(v["s"], 42);
    }

    #[test]
    fn broadcast_frame_smaller_than_skeleton() {
        let mut f = String::new();
        broadcast_frame(&mut f, 1, 2, 0);
        assert_eq!(f, r#"42["broadcast",{"t":1,"s":2,"p":""}]"#);
    }

    #[test]
    fn msg_parses_as_reencoded_by_servers() {
        assert_eq!(
            parse_msg(br#"42["msg",{"t":987654321012,"s":7,"p":"xxxx"}]"#),
            Some((987_654_321_012, 7))
        );
        // Other key order, or spaces, still parse.
        assert_eq!(
            parse_msg(br#"42["msg",{"p":"xx","s":3,"t":9}]"#),
            Some((9, 3))
        );
        assert_eq!(parse_msg(br#"42["msg",{"t":5, "s":6}]"#), Some((5, 6)));
        assert_eq!(parse_msg(br#"42["other",{"t":1,"s":2}]"#), None);
        assert_eq!(parse_msg(br#"42["msg",{"t":1}]"#), None);
        assert_eq!(parse_msg(br#"42["msg",{"t":"1","s":2}]"#), None);
        assert_eq!(
            parse_msg(br#"42["msg",{"t":99999999999999999999,"s":2}]"#),
            None
        );
    }

    #[test]
    fn echo_roundtrip_check() {
        let p = echo_payload(20);
        assert_eq!(p.len(), 20);
        assert_eq!(p, r#"{"p":"xxxxxxxxxxxx"}"#);
        let mut f = String::new();
        echo_frame(&mut f, 17, &p);
        assert_eq!(f, format!(r#"4217["echo",{p}]"#));
        let check = |f: &str| check_echo_reply(f.as_bytes(), 17, p.as_bytes());
        assert_eq!(check(&format!("4317[{p}]")), EchoReply::Ok);
        assert_eq!(check(&format!("4318[{p}]")), EchoReply::WrongId);
        assert_eq!(check("43[]"), EchoReply::WrongId);
        assert_eq!(check(r#"4317[{"p":"x"}]"#), EchoReply::WrongPayload);
        assert_eq!(check(&format!("4317[{p}")), EchoReply::WrongPayload);
        assert_eq!(check("2"), EchoReply::NotAck);
    }

    #[test]
    fn handshake_frames() {
        assert!(is_open(
            r#"0{"sid":"a","upgrades":[],"pingInterval":25000}"#
        ));
        assert!(is_connect_ack(r#"40{"sid":"b"}"#));
        assert!(!is_connect_ack("40"));
        assert!(is_join_ack(r#"431["ok"]"#));
        assert!(!is_join_ack(r#"4312["ok"]"#));
        assert!(is_connect_error(r#"44{"message":"no"}"#));
    }

    #[test]
    fn decimal_lengths() {
        for v in [0u64, 9, 10, 99, 100, 12345, u64::MAX] {
            assert_eq!(decimal_len(v), v.to_string().len());
        }
    }
}
