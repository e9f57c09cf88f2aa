//! Polling payloads: the bodies of Engine.IO long-polling requests and responses.
//!
//! | revision | form | layout |
//! |---|---|---|
//! | v4 | text | packets joined by `\x1e`; binary as `b<base64>` |
//! | v3 | text (`b64=1`, or no binary) | `<utf16-len>:<packet>` repeated; binary as `b4<base64>` |
//! | v3 | XHR2 binary (`application/octet-stream`) | `<0|1> <len digits as bytes> 0xFF <bytes>` repeated |
//! | v3 | JSONP (`j=<n>`) | `___eio[n]("<text payload as a JS string>");` / form field `d` |
//!
//! ```
//! use sockio_protocol::engine::payload::{self, EncodedPacket};
//! use sockio_protocol::engine::{Message, Packet, ProtocolVersion};
//! use bytes::Bytes;
//!
//! let out = [EncodedPacket::text("4hi"), EncodedPacket::Binary(Bytes::from_static(&[1, 2, 3]))];
//! assert_eq!(&payload::encode_v4(&out)[..], b"4hi\x1ebAQID");
//! assert_eq!(payload::encode_v3_text(&out), "3:4hi6:b4AQID");
//!
//! let packets: Result<Vec<_>, _> = payload::decode_v4(Bytes::from_static(b"4a\x1e2")).collect();
//! assert_eq!(packets.unwrap()[1], Packet::Ping("".into()));
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use super::packet::{base64_encode_into, DecodeError, Message, Packet};
use super::ProtocolVersion;
use crate::Utf8Bytes;

/// The v4 packet separator, ASCII "record separator".
pub const SEPARATOR: u8 = 0x1e;

/// A packet ready for the wire: text already encoded as `<digit><data>`, or the raw data
/// of a binary message. This is what a session queues, so that one encoding can be shared
/// by every recipient of a broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodedPacket {
    /// `<digit><data>`.
    Text(Utf8Bytes),
    /// The data of a binary `message` packet.
    Binary(Bytes),
}

impl EncodedPacket {
    /// An encoded text packet from a static string such as `"6"`.
    pub fn text(s: &'static str) -> Self {
        Self::Text(Utf8Bytes::from_static(s))
    }

    /// Encodes `packet`.
    pub fn from_packet(packet: &Packet) -> Self {
        match packet {
            Packet::Message(Message::Binary(b)) => Self::Binary(b.clone()),
            other => match other.encode_text(ProtocolVersion::V4) {
                Some(t) => Self::Text(t),
                None => Self::Binary(Bytes::new()),
            },
        }
    }

    /// Bytes this packet takes in memory (its data), for queue accounting.
    pub fn len(&self) -> usize {
        match self {
            Self::Text(t) => t.len(),
            Self::Binary(b) => b.len(),
        }
    }

    /// Whether the packet holds no bytes at all (never true for a valid text packet).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this is a binary message.
    pub fn is_binary(&self) -> bool {
        matches!(self, Self::Binary(_))
    }
}

impl From<Packet> for EncodedPacket {
    fn from(p: Packet) -> Self {
        Self::from_packet(&p)
    }
}

/// A binary message as a base64 text item: `b<base64>` in v4, `b4<base64>` in v3 (the
/// form of polling payloads, and of v3 WebSocket frames for `b64=1` clients).
pub fn base64_item(data: &[u8], version: ProtocolVersion) -> String {
    let mut s = String::with_capacity(2 + data.len().div_ceil(3) * 4);
    s.push('b');
    if version == ProtocolVersion::V3 {
        s.push('4');
    }
    base64_encode_into(data, &mut s);
    s
}

// ---------------------------------------------------------------------------------------
// v4

/// Encodes a v4 polling payload: items joined by `\x1e`, binary as `b<base64>`.
pub fn encode_v4(packets: &[EncodedPacket]) -> Bytes {
    // One text packet (a poll answering one message): its bytes are the payload, shared.
    if let [EncodedPacket::Text(t)] = packets {
        return t.as_bytes().clone();
    }
    let cap: usize = packets
        .iter()
        .map(|p| match p {
            EncodedPacket::Text(t) => t.len() + 1,
            EncodedPacket::Binary(b) => b.len().div_ceil(3) * 4 + 2,
        })
        .sum();
    let mut out = String::with_capacity(cap);
    for (i, p) in packets.iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR as char);
        }
        match p {
            EncodedPacket::Text(t) => out.push_str(t),
            EncodedPacket::Binary(b) => {
                out.push('b');
                base64_encode_into(b, &mut out);
            }
        }
    }
    Bytes::from(out)
}

/// Decodes a v4 polling payload. The iterator yields packets in order and stops after
/// the first error (Engine.IO closes the session on it).
pub fn decode_v4(body: Bytes) -> impl Iterator<Item = Result<Packet, DecodeError>> {
    let text = Utf8Bytes::try_from(body).map_err(|_| DecodeError::InvalidUtf8);
    items(text, next_v4_item)
}

/// The packets of a payload in order: `item` decodes the one at a position and sets where
/// the next starts (left `None` after the last); nothing follows an error, nor a payload
/// that could not be read (`body` an error).
#[inline(always)]
fn items<B>(
    body: Result<B, DecodeError>,
    item: impl Fn(&B, usize, &mut Option<usize>) -> Result<Packet, DecodeError>,
) -> impl Iterator<Item = Result<Packet, DecodeError>> {
    let mut state = body.map(|b| (b, Some(0))).map_err(Some);
    std::iter::from_fn(move || match &mut state {
        Err(e) => e.take().map(Err),
        Ok((body, next)) => {
            let pos = next.take()?;
            let result = item(body, pos, next);
            if result.is_err() {
                *next = None;
            }
            Some(result)
        }
    })
}

/// The v4 item at `pos`: up to the next separator, or the end.
#[inline(always)]
fn next_v4_item(
    text: &Utf8Bytes,
    pos: usize,
    next: &mut Option<usize>,
) -> Result<Packet, DecodeError> {
    let rest = &text.as_bytes()[pos..];
    let end = rest
        .iter()
        .position(|&b| b == SEPARATOR)
        .unwrap_or(rest.len());
    let item_end = pos + end;
    let item = text.slice_from(pos);
    let item = if item_end >= text.len() {
        item
    } else {
        *next = Some(item_end + 1);
        // `item_end` is a separator byte (ASCII), so a character boundary.
        Utf8Bytes::try_from(item.as_bytes().slice(..end)).unwrap_or_default()
    };
    Packet::decode_text(item, ProtocolVersion::V4)
}

// ---------------------------------------------------------------------------------------
// v3 text

/// The length of `s` as JavaScript counts it: UTF-16 code units.
pub fn utf16_len(s: &str) -> usize {
    if s.is_ascii() {
        return s.len();
    }
    s.chars().map(char::len_utf16).sum()
}

/// Encodes a v3 text payload: `<len>:<packet>` per packet, binary as `b4<base64>`, the
/// length in UTF-16 code units. No packets encode as `0:`.
pub fn encode_v3_text(packets: &[EncodedPacket]) -> String {
    if packets.is_empty() {
        return String::from("0:");
    }
    let mut out = String::new();
    for p in packets {
        match p {
            EncodedPacket::Text(t) => {
                push_decimal(&mut out, utf16_len(t));
                out.push(':');
                out.push_str(t);
            }
            EncodedPacket::Binary(b) => {
                let item = base64_item(b, ProtocolVersion::V3);
                push_decimal(&mut out, item.len());
                out.push(':');
                out.push_str(&item);
            }
        }
    }
    out
}

fn push_decimal(out: &mut String, n: usize) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Decodes a v3 text payload (`<len>:<packet>`…). Yields packets in order and stops after
/// the first error; an empty body is an error.
pub fn decode_v3_text(body: Bytes) -> impl Iterator<Item = Result<Packet, DecodeError>> {
    let text = match Utf8Bytes::try_from(body) {
        Ok(t) if t.is_empty() => Err(DecodeError::InvalidLength),
        Ok(t) => Ok(t),
        Err(_) => Err(DecodeError::InvalidUtf8),
    };
    items(text, |text, mut pos, next| {
        let result = next_v3_item(text, &mut pos);
        if pos < text.len() {
            *next = Some(pos);
        }
        result
    })
}

#[inline(always)]
fn next_v3_item(text: &Utf8Bytes, pos: &mut usize) -> Result<Packet, DecodeError> {
    let rest = &text.as_str()[*pos..];
    let colon = rest.find(':').ok_or(DecodeError::InvalidLength)?;
    let digits = &rest[..colon];
    if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecodeError::InvalidLength);
    }
    let units: usize = digits.parse().map_err(|_| DecodeError::InvalidLength)?;
    let body = &rest[colon + 1..];
    // Walk `units` UTF-16 code units; they must end on a character boundary.
    let mut counted = 0usize;
    let mut byte_len = 0usize;
    for c in body.chars() {
        if counted >= units {
            break;
        }
        counted += c.len_utf16();
        byte_len += c.len_utf8();
    }
    if counted != units || units == 0 {
        return Err(DecodeError::InvalidLength);
    }
    let start = *pos + colon + 1;
    *pos = start + byte_len;
    let item = text.slice_from(start);
    let item = Utf8Bytes::try_from(item.as_bytes().slice(..byte_len))
        .map_err(|_| DecodeError::InvalidUtf8)?;
    Packet::decode_text(item, ProtocolVersion::V3)
}

// ---------------------------------------------------------------------------------------
// v3 XHR2 binary

/// Encodes a v3 XHR2 binary payload (`application/octet-stream`): per packet a marker
/// byte (0 text, 1 binary), the decimal length as one byte per digit, `0xFF`, then the
/// bytes (binary packets start with their type byte `0x04`).
pub fn encode_v3_binary(packets: &[EncodedPacket]) -> Bytes {
    let cap: usize = packets.iter().map(|p| p.len() + 14).sum();
    let mut out = BytesMut::with_capacity(cap);
    for p in packets {
        let (marker, len) = match p {
            EncodedPacket::Text(t) => (0u8, t.len()),
            EncodedPacket::Binary(b) => (1u8, b.len() + 1),
        };
        out.put_u8(marker);
        for d in len.to_string().bytes() {
            out.put_u8(d - b'0');
        }
        out.put_u8(0xff);
        match p {
            EncodedPacket::Text(t) => out.extend_from_slice(t.as_bytes()),
            EncodedPacket::Binary(b) => {
                out.put_u8(4);
                out.extend_from_slice(b);
            }
        }
    }
    out.freeze()
}

/// Most length digits a v3 binary payload item may announce (as engine.io-parser).
const MAX_LENGTH_DIGITS: usize = 310;

/// Decodes a v3 XHR2 binary payload. Yields packets in order and stops after the first
/// error.
pub fn decode_v3_binary(body: Bytes) -> impl Iterator<Item = Result<Packet, DecodeError>> {
    items(Ok(body), |body, mut pos, next| {
        let result = next_binary_item(body, &mut pos);
        if pos < body.len() {
            *next = Some(pos);
        }
        result
    })
}

#[inline(always)]
fn next_binary_item(body: &Bytes, pos: &mut usize) -> Result<Packet, DecodeError> {
    let bad = DecodeError::InvalidBinaryFraming;
    let marker = *body.get(*pos).ok_or(bad.clone())?;
    if marker > 1 {
        return Err(bad);
    }
    let mut i = *pos + 1;
    let mut len: usize = 0;
    let mut digits = 0usize;
    loop {
        let b = *body.get(i).ok_or(bad.clone())?;
        i += 1;
        if b == 0xff {
            break;
        }
        if b > 9 || digits >= MAX_LENGTH_DIGITS {
            return Err(bad);
        }
        digits += 1;
        len = len
            .checked_mul(10)
            .and_then(|l| l.checked_add(b as usize))
            .ok_or(bad.clone())?;
    }
    if digits == 0 || len == 0 {
        return Err(bad);
    }
    let end = i.checked_add(len).ok_or(bad.clone())?;
    if end > body.len() {
        return Err(bad);
    }
    *pos = end;
    let item = body.slice(i..end);
    if marker == 0 {
        let text = Utf8Bytes::try_from(item).map_err(|_| DecodeError::InvalidUtf8)?;
        Packet::decode_text(text, ProtocolVersion::V3)
    } else {
        Packet::decode_binary(item, ProtocolVersion::V3)
    }
}

// ---------------------------------------------------------------------------------------
// v3 JSONP

/// Wraps a v3 text payload for JSONP: `___eio[<index>]("<payload>");`, where `index` keeps
/// only the digits of the `j` query value and U+2028/U+2029 are escaped.
pub fn encode_jsonp(index: &str, text_payload: &str) -> String {
    let digits: String = index.chars().filter(|c| c.is_ascii_digit()).collect();
    let js = serde_json::to_string(text_payload).unwrap_or_else(|_| String::from("\"\""));
    let js = js
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    format!("___eio[{digits}]({js});")
}

/// Extracts the v3 text payload from a JSONP POST body (`application/x-www-form-urlencoded`
/// with field `d`), undoing the client's newline escaping (`\n` → newline, `\\n` kept).
pub fn decode_jsonp_form(body: &[u8]) -> Result<String, DecodeError> {
    let d = form_field(body, b"d").ok_or(DecodeError::InvalidJsonp)??;
    let mut out = String::with_capacity(d.len());
    let mut chars = d.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('\\') => {
                    // An escaped backslash: keep both, and whatever follows is literal.
                    out.push('\\');
                    out.push('\\');
                    chars.next();
                }
                Some('n') => {
                    out.push('\n');
                    chars.next();
                }
                _ => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// The decoded value of the first field `name` of a form body.
fn form_field(body: &[u8], name: &[u8]) -> Option<Result<String, DecodeError>> {
    body.split(|&b| b == b'&').find_map(|pair| {
        let (k, v) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        (crate::urlencoded::decode_strict(k).as_deref() == Some(name)).then(|| {
            let v = crate::urlencoded::decode_strict(v).ok_or(DecodeError::InvalidJsonp)?;
            String::from_utf8(v).map_err(|_| DecodeError::InvalidUtf8)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> EncodedPacket {
        EncodedPacket::Text(Utf8Bytes::from(s))
    }
    fn msg(s: &str) -> Packet {
        Packet::Message(Message::Text(Utf8Bytes::from(s)))
    }
    fn bin(b: &'static [u8]) -> Packet {
        Packet::Message(Message::Binary(Bytes::from_static(b)))
    }
    fn all(
        it: impl Iterator<Item = Result<Packet, DecodeError>>,
    ) -> Vec<Result<Packet, DecodeError>> {
        it.collect()
    }

    #[test]
    fn v4_round_trip_captured() {
        let out = [
            t(r#"40{"sid":"Igm4dAoHJArRebrlAAAB"}"#),
            t(r#"451-["srv",{"a":1},{"_placeholder":true,"num":0}]"#),
            EncodedPacket::Binary(Bytes::from_static(&[0xde, 0xad])),
        ];
        let body = encode_v4(&out);
        assert_eq!(
            &body[..],
            "40{\"sid\":\"Igm4dAoHJArRebrlAAAB\"}\x1e451-[\"srv\",{\"a\":1},{\"_placeholder\":true,\"num\":0}]\x1eb3q0=".as_bytes()
        );
        let back: Vec<Packet> = decode_v4(body).map(Result::unwrap).collect();
        assert_eq!(back[0], msg(r#"0{"sid":"Igm4dAoHJArRebrlAAAB"}"#));
        assert_eq!(back[2], bin(&[0xde, 0xad]));
        assert_eq!(back.len(), 3);
    }

    #[test]
    fn v4_decode_edges() {
        assert_eq!(
            all(decode_v4(Bytes::from_static(
                b"451-[\"bin\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID"
            ))),
            vec![
                Ok(msg("51-[\"bin\",{\"_placeholder\":true,\"num\":0}]")),
                Ok(bin(&[1, 2, 3]))
            ]
        );
        // Stops at the first bad packet, after yielding the good ones.
        assert_eq!(
            all(decode_v4(Bytes::from_static(b"4a\x1eabc\x1e4b"))),
            vec![Ok(msg("a")), Err(DecodeError::UnknownType(b'a'))]
        );
        assert_eq!(all(decode_v4(Bytes::new())), vec![Err(DecodeError::Empty)]);
        assert_eq!(
            all(decode_v4(Bytes::from_static(b"4a\x1e"))),
            vec![Ok(msg("a")), Err(DecodeError::Empty)]
        );
        assert_eq!(
            all(decode_v4(Bytes::from_static(&[b'4', 0xff]))),
            vec![Err(DecodeError::InvalidUtf8)]
        );
        let unicode = "4😀é日\u{2028}\u{2029}";
        assert_eq!(
            all(decode_v4(Bytes::from(unicode.to_owned()))),
            vec![Ok(msg("😀é日\u{2028}\u{2029}"))]
        );
    }

    #[test]
    fn utf16_lengths() {
        assert_eq!(utf16_len("4😀é日"), 5);
        assert_eq!(utf16_len("wörld"), 5);
        assert_eq!(utf16_len("w😀ld"), 5);
        assert_eq!(utf16_len("\u{2028}"), 1);
        assert_eq!(utf16_len(""), 0);
    }

    #[test]
    fn v3_text_captured() {
        let out = [
            t("40"),
            t(r#"451-["srv",{"a":1},{"_placeholder":true,"num":0}]"#),
            EncodedPacket::Binary(Bytes::from_static(&[0xde, 0xad])),
        ];
        let s = encode_v3_text(&out);
        assert_eq!(
            s,
            r#"2:4049:451-["srv",{"a":1},{"_placeholder":true,"num":0}]6:b43q0="#
        );
        let back: Vec<Packet> = decode_v3_text(Bytes::from(s)).map(Result::unwrap).collect();
        assert_eq!(
            back,
            vec![
                msg("0"),
                msg(r#"51-["srv",{"a":1},{"_placeholder":true,"num":0}]"#),
                bin(&[0xde, 0xad])
            ]
        );
        assert_eq!(encode_v3_text(&[]), "0:");
        assert_eq!(encode_v3_text(&[t("4😀é日")]), "5:4😀é日");
        assert_eq!(
            encode_v3_text(&[EncodedPacket::Binary(Bytes::from_static(&[1, 2, 3, 4]))]),
            "10:b4AQIDBA=="
        );
    }

    #[test]
    fn v3_text_decode_edges() {
        assert_eq!(
            all(decode_v3_text(Bytes::from("5:4😀é日1:2".to_owned()))),
            vec![Ok(msg("😀é日")), Ok(Packet::Ping("".into()))]
        );
        // A length that ends inside a surrogate pair, too long, too short, not a number.
        for bad in ["2:4😀", "9:4abc", "x:4a", ":4a", "4a", "0:", "1:"] {
            let r = all(decode_v3_text(Bytes::from(bad.to_owned())));
            assert!(r.last().unwrap().is_err(), "{bad}: {r:?}");
        }
        assert_eq!(
            all(decode_v3_text(Bytes::new())),
            vec![Err(DecodeError::InvalidLength)]
        );
        // A too-short length makes the next item garbage.
        let r = all(decode_v3_text(Bytes::from_static(b"2:4ab")));
        assert_eq!(r[0], Ok(msg("a")));
        assert!(r[1].is_err());
        assert_eq!(
            all(decode_v3_text(Bytes::from_static(
                b"99999999999999999999:4"
            ))),
            vec![Err(DecodeError::InvalidLength)]
        );
    }

    #[test]
    fn v3_binary_captured() {
        let out = [
            t("4hello"),
            EncodedPacket::Binary(Bytes::from_static(&[1, 2, 3, 4])),
        ];
        let body = encode_v3_binary(&out);
        assert_eq!(
            &body[..],
            &[0, 6, 0xff, b'4', b'h', b'e', b'l', b'l', b'o', 1, 5, 0xff, 4, 1, 2, 3, 4]
        );
        let back: Vec<Packet> = decode_v3_binary(body).map(Result::unwrap).collect();
        assert_eq!(back, vec![msg("hello"), bin(&[1, 2, 3, 4])]);
        let long = "4".to_owned() + &"x".repeat(48);
        let body = encode_v3_binary(&[t("40"), t(&long)]);
        assert_eq!(&body[..8], &[0, 2, 0xff, b'4', b'0', 0, 4, 9]);
    }

    #[test]
    fn v3_binary_decode_edges() {
        for bad in [
            &[][..],
            &[2, 1, 0xff, b'4'],
            &[0, 0xff, b'4'],
            &[0, 5, 0xff, b'4'],
            &[0, 1, 10, 0xff, b'4'],
            &[0, 1],
            &[1, 1, 0xff, 2],
            &[0, 1, 0xff, 0xc3],
        ] {
            let r = all(decode_v3_binary(Bytes::copy_from_slice(bad)));
            assert!(r.last().is_some_and(|r| r.is_err()), "{bad:?}: {r:?}");
        }
        let mut huge = vec![0u8];
        huge.extend(std::iter::repeat_n(9u8, 400));
        huge.push(0xff);
        assert!(all(decode_v3_binary(Bytes::from(huge)))[0].is_err());
    }

    /// A micro loop over the three payload decoders, for instruction counts (run it under
    /// `valgrind --tool=callgrind` on a release test binary with `--ignored decode_loop`).
    #[test]
    #[ignore]
    fn decode_loop() {
        let packets = [
            t(r#"42["chat",{"text":"hello","n":1}]"#),
            t("3"),
            EncodedPacket::Binary(Bytes::from_static(&[1, 2, 3, 4, 5, 6, 7, 8])),
            t(r#"42["chat","é😀"]"#),
        ];
        let v4 = encode_v4(&packets);
        let v3_text = Bytes::from(encode_v3_text(&packets));
        let v3_binary = encode_v3_binary(&packets);
        let mut decoded = 0usize;
        for _ in 0..20_000 {
            decoded += decode_v4(v4.clone()).filter(Result::is_ok).count();
            decoded += decode_v3_text(v3_text.clone())
                .filter(Result::is_ok)
                .count();
            decoded += decode_v3_binary(v3_binary.clone())
                .filter(Result::is_ok)
                .count();
        }
        assert_eq!(decoded, 20_000 * 3 * packets.len());
    }

    #[test]
    fn jsonp() {
        assert_eq!(encode_jsonp("1", "2:40"), r#"___eio[1]("2:40");"#);
        assert_eq!(encode_jsonp("a1b2", "x"), r#"___eio[12]("x");"#);
        assert_eq!(
            encode_jsonp("0", "3:4\u{2028}\""),
            "___eio[0](\"3:4\\u2028\\\"\");"
        );
        assert_eq!(decode_jsonp_form(b"d=3%3A4hi").unwrap(), "3:4hi");
        assert_eq!(decode_jsonp_form(b"x=1&d=1%3A2").unwrap(), "1:2");
        assert_eq!(decode_jsonp_form(b"d=4%3A4a%5Cnb").unwrap(), "4:4a\nb");
        assert_eq!(
            decode_jsonp_form(b"d=5%3A4a%5C%5Cnb").unwrap(),
            "5:4a\\\\nb"
        );
        assert_eq!(decode_jsonp_form(b"d=a+b").unwrap(), "a b");
        assert!(decode_jsonp_form(b"e=1").is_err());
        assert!(decode_jsonp_form(b"d=%zz").is_err());
        assert!(decode_jsonp_form(b"d=%f").is_err());
    }
}
