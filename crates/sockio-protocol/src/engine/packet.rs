use bytes::{BufMut, Bytes, BytesMut};

use super::ProtocolVersion;
use crate::Utf8Bytes;

/// The seven Engine.IO packet types, by their wire digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`: server → client, first packet of a session.
    Open,
    /// `1`: either side asks to close the transport.
    Close,
    /// `2`: heartbeat request (server → client in v4, client → server in v3), or `2probe`.
    Ping,
    /// `3`: heartbeat answer, or `3probe`.
    Pong,
    /// `4`: application data.
    Message,
    /// `5`: client → server on the new transport, completes an upgrade.
    Upgrade,
    /// `6`: server → client on polling, releases a pending GET during an upgrade.
    Noop,
}

impl PacketType {
    /// The type of wire digit/byte `b` (`b'0'..=b'6'` or `0..=6`).
    pub fn from_digit(b: u8) -> Option<Self> {
        Some(match b {
            b'0' | 0 => Self::Open,
            b'1' | 1 => Self::Close,
            b'2' | 2 => Self::Ping,
            b'3' | 3 => Self::Pong,
            b'4' | 4 => Self::Message,
            b'5' | 5 => Self::Upgrade,
            b'6' | 6 => Self::Noop,
            _ => return None,
        })
    }

    /// The ASCII digit of this type.
    pub fn digit(self) -> u8 {
        b'0' + self as u8
    }
}

/// Application data of a `message` packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A string.
    Text(Utf8Bytes),
    /// Raw bytes.
    Binary(Bytes),
}

/// One Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0<json>`: the handshake.
    Open(Utf8Bytes),
    /// `1`.
    Close,
    /// `2[payload]` (`payload` is `probe` during an upgrade, else empty).
    Ping(Utf8Bytes),
    /// `3[payload]`.
    Pong(Utf8Bytes),
    /// `4<data>` or a binary frame.
    Message(Message),
    /// `5`.
    Upgrade,
    /// `6`.
    Noop,
}

/// Why bytes could not be decoded as Engine.IO packets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// An empty packet (no type digit).
    #[error("empty packet")]
    Empty,
    /// The first character is not a packet type digit `0`–`6`.
    #[error("unknown packet type {0:#04x}")]
    UnknownType(u8),
    /// A binary packet whose type is not `message` (v3 binary frames/items).
    #[error("binary packet of type {0:?}; only messages may be binary")]
    BinaryNotMessage(PacketType),
    /// A `b…` item whose base64 does not decode.
    #[error("invalid base64 in binary packet")]
    InvalidBase64,
    /// Text that is not UTF-8.
    #[error("payload is not valid UTF-8")]
    InvalidUtf8,
    /// A v3 `len:` prefix that is missing, not a number, or longer than what follows.
    #[error("invalid length prefix in payload")]
    InvalidLength,
    /// A malformed v3 XHR2 binary payload.
    #[error("malformed binary payload")]
    InvalidBinaryFraming,
    /// A malformed JSONP form body.
    #[error("malformed JSONP body")]
    InvalidJsonp,
}

impl Packet {
    /// The type of this packet.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Self::Open(_) => PacketType::Open,
            Self::Close => PacketType::Close,
            Self::Ping(_) => PacketType::Ping,
            Self::Pong(_) => PacketType::Pong,
            Self::Message(_) => PacketType::Message,
            Self::Upgrade => PacketType::Upgrade,
            Self::Noop => PacketType::Noop,
        }
    }

    /// Decodes a text packet `<digit><payload>` (a WebSocket text frame or one item of a
    /// polling payload), or a base64 binary message `b…` (see [`Packet::decode_base64`]).
    /// The payload shares `text`'s buffer.
    pub fn decode_text(text: Utf8Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let first = *text.as_bytes().first().ok_or(DecodeError::Empty)?;
        if first == b'b' {
            return Self::decode_base64(&text, version);
        }
        let kind = match first {
            b'0'..=b'6' => PacketType::from_digit(first).ok_or(DecodeError::UnknownType(first))?,
            other => return Err(DecodeError::UnknownType(other)),
        };
        let data = text.slice_from(1);
        Ok(match kind {
            PacketType::Open => Self::Open(data),
            PacketType::Close => Self::Close,
            PacketType::Ping => Self::Ping(data),
            PacketType::Pong => Self::Pong(data),
            PacketType::Message => Self::Message(Message::Text(data)),
            PacketType::Upgrade => Self::Upgrade,
            PacketType::Noop => Self::Noop,
        })
    }

    /// Decodes a binary WebSocket frame: in v4 the whole frame is message data; in v3 the
    /// first byte is the packet type (only `message`, `0x04`, may carry bytes).
    pub fn decode_binary(frame: Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        match version {
            ProtocolVersion::V4 => Ok(Self::Message(Message::Binary(frame))),
            ProtocolVersion::V3 => {
                let first = *frame.first().ok_or(DecodeError::Empty)?;
                match PacketType::from_digit(first) {
                    Some(PacketType::Message) if first == 4 => {
                        Ok(Self::Message(Message::Binary(frame.slice(1..))))
                    }
                    Some(kind) if first < 10 => Err(DecodeError::BinaryNotMessage(kind)),
                    _ => Err(DecodeError::UnknownType(first)),
                }
            }
        }
    }

    /// Decodes a `b<base64>` polling item (v4) or `b<digit><base64>` item (v3).
    pub fn decode_base64(item: &str, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let rest = item.strip_prefix('b').ok_or(DecodeError::InvalidBase64)?;
        let b64 = match version {
            ProtocolVersion::V4 => rest,
            ProtocolVersion::V3 => {
                let first = *rest.as_bytes().first().ok_or(DecodeError::Empty)?;
                match PacketType::from_digit(first) {
                    Some(PacketType::Message) if first == b'4' => &rest[1..],
                    Some(kind) if first.is_ascii_digit() => {
                        return Err(DecodeError::BinaryNotMessage(kind))
                    }
                    _ => return Err(DecodeError::UnknownType(first)),
                }
            }
        };
        let bytes = base64_decode(b64)?;
        Ok(Self::Message(Message::Binary(bytes)))
    }

    /// Encodes a text packet as `<digit><payload>`, or `None` for a binary message
    /// (those go as binary frames or base64 items, see [`Packet::encode_binary_frame`]).
    pub fn encode_text(&self, _version: ProtocolVersion) -> Option<Utf8Bytes> {
        let (digit, data): (u8, &str) = match self {
            Self::Open(d) => (b'0', d),
            Self::Close => (b'1', ""),
            Self::Ping(d) => (b'2', d),
            Self::Pong(d) => (b'3', d),
            Self::Message(Message::Text(d)) => (b'4', d),
            Self::Message(Message::Binary(_)) => return None,
            Self::Upgrade => (b'5', ""),
            Self::Noop => (b'6', ""),
        };
        let mut s = String::with_capacity(1 + data.len());
        s.push(digit as char);
        s.push_str(data);
        Some(Utf8Bytes::from(s))
    }

    /// The WebSocket binary frame of a binary message: the raw bytes in v4 (no copy),
    /// `0x04` + bytes in v3.
    pub fn encode_binary_frame(data: &Bytes, version: ProtocolVersion) -> Bytes {
        match version {
            ProtocolVersion::V4 => data.clone(),
            ProtocolVersion::V3 => {
                let mut b = BytesMut::with_capacity(1 + data.len());
                b.put_u8(4);
                b.extend_from_slice(data);
                b.freeze()
            }
        }
    }
}

pub(crate) fn base64_decode(s: &str) -> Result<Bytes, DecodeError> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map(Bytes::from)
        .map_err(|_| DecodeError::InvalidBase64)
}

pub(crate) fn base64_encode_into(data: &[u8], out: &mut String) {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode_string(data, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4: ProtocolVersion = ProtocolVersion::V4;

    fn text(s: &str) -> Utf8Bytes {
        Utf8Bytes::from(s)
    }

    #[test]
    fn decodes_every_text_type() {
        assert_eq!(
            Packet::decode_text(text("0{}"), V4).unwrap(),
            Packet::Open(text("{}"))
        );
        assert_eq!(Packet::decode_text(text("1"), V4).unwrap(), Packet::Close);
        assert_eq!(
            Packet::decode_text(text("2"), V4).unwrap(),
            Packet::Ping(text(""))
        );
        assert_eq!(
            Packet::decode_text(text("2probe"), V4).unwrap(),
            Packet::Ping(text("probe"))
        );
        assert_eq!(
            Packet::decode_text(text("3probe"), V4).unwrap(),
            Packet::Pong(text("probe"))
        );
        assert_eq!(
            Packet::decode_text(text("4héllo 😀"), V4).unwrap(),
            Packet::Message(Message::Text(text("héllo 😀")))
        );
        assert_eq!(
            Packet::decode_text(text("4"), V4).unwrap(),
            Packet::Message(Message::Text(text("")))
        );
        assert_eq!(Packet::decode_text(text("5"), V4).unwrap(), Packet::Upgrade);
        assert_eq!(Packet::decode_text(text("6"), V4).unwrap(), Packet::Noop);
    }

    #[test]
    fn rejects_bad_text() {
        assert_eq!(Packet::decode_text(text(""), V4), Err(DecodeError::Empty));
        assert_eq!(
            Packet::decode_text(text("abc"), V4),
            Err(DecodeError::UnknownType(b'a'))
        );
        assert_eq!(
            Packet::decode_text(text("9x"), V4),
            Err(DecodeError::UnknownType(b'9'))
        );
        assert_eq!(
            Packet::decode_text(text("é"), V4),
            Err(DecodeError::UnknownType(0xc3))
        );
    }

    #[test]
    fn encodes_every_text_type() {
        let v = ProtocolVersion::V4;
        let cases = [
            (Packet::Open(text("{}")), "0{}"),
            (Packet::Close, "1"),
            (Packet::Ping(text("")), "2"),
            (Packet::Ping(text("probe")), "2probe"),
            (Packet::Pong(text("probe")), "3probe"),
            (Packet::Message(Message::Text(text("hello"))), "4hello"),
            (Packet::Upgrade, "5"),
            (Packet::Noop, "6"),
        ];
        for (p, want) in cases {
            assert_eq!(p.encode_text(v).unwrap(), want);
        }
        assert!(Packet::Message(Message::Binary(Bytes::new()))
            .encode_text(v)
            .is_none());
    }

    #[test]
    fn binary_frames_v4_and_v3() {
        let raw = Bytes::from_static(&[0xde, 0xad]);
        assert_eq!(
            Packet::decode_binary(raw.clone(), ProtocolVersion::V4).unwrap(),
            Packet::Message(Message::Binary(raw.clone()))
        );
        assert_eq!(
            Packet::decode_binary(Bytes::from_static(&[4, 7, 7]), ProtocolVersion::V3).unwrap(),
            Packet::Message(Message::Binary(Bytes::from_static(&[7, 7])))
        );
        assert_eq!(
            Packet::decode_binary(Bytes::from_static(&[2]), ProtocolVersion::V3),
            Err(DecodeError::BinaryNotMessage(PacketType::Ping))
        );
        assert_eq!(
            Packet::decode_binary(Bytes::new(), ProtocolVersion::V3),
            Err(DecodeError::Empty)
        );
        assert_eq!(
            Packet::decode_binary(Bytes::from_static(&[200]), ProtocolVersion::V3),
            Err(DecodeError::UnknownType(200))
        );
        assert_eq!(
            &Packet::encode_binary_frame(&raw, ProtocolVersion::V3)[..],
            &[4, 0xde, 0xad]
        );
        assert_eq!(Packet::encode_binary_frame(&raw, ProtocolVersion::V4), raw);
    }

    #[test]
    fn text_frames_may_carry_base64_binary() {
        assert_eq!(
            Packet::decode_text(text("b4AQID"), ProtocolVersion::V3).unwrap(),
            Packet::Message(Message::Binary(Bytes::from_static(&[1, 2, 3])))
        );
        assert_eq!(
            Packet::decode_text(text("bAQID"), V4).unwrap(),
            Packet::Message(Message::Binary(Bytes::from_static(&[1, 2, 3])))
        );
    }

    #[test]
    fn base64_items() {
        assert_eq!(
            Packet::decode_base64("bAQID", ProtocolVersion::V4).unwrap(),
            Packet::Message(Message::Binary(Bytes::from_static(&[1, 2, 3])))
        );
        assert_eq!(
            Packet::decode_base64("b43q0=", ProtocolVersion::V3).unwrap(),
            Packet::Message(Message::Binary(Bytes::from_static(&[0xde, 0xad])))
        );
        assert_eq!(
            Packet::decode_base64("b!!", ProtocolVersion::V4),
            Err(DecodeError::InvalidBase64)
        );
        assert_eq!(
            Packet::decode_base64("b2AA==", ProtocolVersion::V3),
            Err(DecodeError::BinaryNotMessage(PacketType::Ping))
        );
    }
}
