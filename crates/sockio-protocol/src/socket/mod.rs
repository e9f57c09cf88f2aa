//! Socket.IO packets: the layer above Engine.IO.
//!
//! Every Socket.IO packet travels as Engine.IO `message`s: one text message holding the
//! packet, then — for packets with binary data — one binary message per attachment. This
//! module converts between those messages and [`Packet`]s, byte-compatible with
//! socket.io-parser 4.2 (socket.io 4.8), protocol v5 and the v4 dialect spoken to
//! socket.io-client 2.x over Engine.IO v3. It does no I/O.
//!
//! * [`Value`] is the payload type: JSON plus binary ([`Value::Binary`]), with object keys
//!   in order. [`to_value`] / [`from_value`] convert typed data through serde, with
//!   `bytes::Bytes` fields becoming binary.
//! * [`Packet`] / [`PacketData`] model the seven packet types; EVENT and ACK become
//!   BINARY_EVENT / BINARY_ACK automatically when their arguments contain binary.
//! * [`encode`] / [`encode_with`] write a packet: `<type>[<n>-][<nsp>,][<id>][<json>]`
//!   plus the attachments (see [`Encoded`]).
//! * [`Decoder`] reads a connection's messages back into packets, reassembles binary
//!   packets and refuses every malformed input socket.io refuses ([`DecodeError`]).
//!
//! ```
//! use bytes::Bytes;
//! use sockio_protocol::socket::{encode, Decoder, Packet, Value};
//!
//! // An event on /chat with ack id 7 and one binary argument.
//! let packet = Packet::event("/chat", "file", vec![
//!     Value::from("a.bin"),
//!     Value::Binary(Bytes::from_static(&[1, 2, 3])),
//! ])
//! .with_id(7);
//!
//! let encoded = encode(&packet);
//! assert_eq!(encoded.text, r#"51-/chat,7["file","a.bin",{"_placeholder":true,"num":0}]"#);
//! assert_eq!(encoded.attachments, vec![Bytes::from_static(&[1, 2, 3])]);
//!
//! // The receiving side: the text announces one attachment, the binary completes it.
//! let mut decoder = Decoder::new();
//! assert_eq!(decoder.decode_text(&encoded.text).unwrap(), None);
//! let decoded = decoder.decode_binary(encoded.attachments[0].clone()).unwrap();
//! assert_eq!(decoded, Some(packet));
//!
//! // Malformed input is refused with a precise error.
//! assert!(decoder.decode_text(r#"2["disconnect"]"#).is_err());
//! ```

// Modules from the lowest layer up: each one uses only modules listed above it.
mod de; // Value -> typed data (serde)
mod decode; // text + attachments -> packet
mod encode; // packet -> text + attachments
mod error; // the decoders' errors
pub(crate) mod json; // JSON text <-> Value
mod msgpack;
mod packet; // the packet model
mod payload; // payload rules shared by both decoders
mod query; // v4 namespace query strings
mod raw; // arguments kept as JSON text
mod ser; // typed data -> Value (serde)
#[cfg(test)]
mod test_rng; // the randomized tests' PRNG
mod value; // the payload type // packet <-> msgpack (socket.io-msgpack-parser)

pub use de::from_value;
pub use decode::{Decoder, DecoderConfig};
pub use encode::{encode, encode_after, encode_with, Encoded};
pub use error::{DecodeError, MsgpackError};
pub use json::JsonError;
pub use msgpack::{decode_msgpack, decode_msgpack_value, encode_msgpack, encode_msgpack_value};
pub use packet::{Packet, PacketData, PacketType};
pub use raw::{encode_raw_after, RawArgs, RawEvent};
pub use ser::{to_value, ValueError};
pub use value::Value;

/// The Socket.IO protocol revision, which follows from the Engine.IO revision of the
/// connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ProtocolVersion {
    /// Protocol v4, spoken by socket.io 2.x over Engine.IO v3 (`EIO=3`): the server
    /// connects clients to `/` on its own and replies to CONNECT without payload, clients
    /// put their auth in the namespace query string (`0/admin?token=x,`), and
    /// CONNECT_ERROR ("ERROR") carries any JSON value.
    V4,
    /// Protocol v5 (socket.io 3 and 4, Engine.IO v4, `EIO=4`): auth and `{"sid"}` as
    /// CONNECT payloads, CONNECT_ERROR as `{"message","data"?}`.
    #[default]
    V5,
}

impl ProtocolVersion {
    /// The Socket.IO protocol spoken over an Engine.IO revision: 3 -> v4, 4 -> v5.
    pub fn from_engine_revision(eio: u8) -> Option<ProtocolVersion> {
        match eio {
            3 => Some(ProtocolVersion::V4),
            4 => Some(ProtocolVersion::V5),
            _ => None,
        }
    }
}

/// Default for [`DecoderConfig::max_attachments`]: socket.io's `maxAttachments`.
pub const DEFAULT_MAX_ATTACHMENTS: usize = 10;

/// Default for [`DecoderConfig::max_depth`] and the limit of [`Value::from_json`]: the
/// deepest JSON nesting accepted (the same as `serde_json`'s default).
pub const DEFAULT_MAX_DEPTH: usize = 128;

/// Event names with a special meaning, which socket.io refuses to `emit` and its parser
/// refuses to decode.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Whether `name` is one of the [`RESERVED_EVENTS`] (case-sensitive, as in socket.io).
///
/// The [`Decoder`] refuses EVENT packets named so; emitters should refuse to send them.
///
/// ```
/// use sockio_protocol::socket::is_reserved_event;
///
/// assert!(is_reserved_event("disconnect"));
/// assert!(!is_reserved_event("Disconnect"));
/// assert!(!is_reserved_event("connection"));
/// ```
pub fn is_reserved_event(name: &str) -> bool {
    RESERVED_EVENTS.contains(&name)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Deep {
        deep: Bytes,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Nested {
        // A tuple is a JSON array. (Not an untagged enum: serde's `String` accepts UTF-8
        // bytes and `Bytes` accepts strings, so untagged variants can't tell them apart.)
        list: (Bytes, String, Deep),
        n: u32,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct BinaryData {
        a: Bytes,
        nested: Nested,
        last: Bytes,
    }

    /// The conformance server's `request-binary` payload, as a typed struct.
    fn binary_data() -> BinaryData {
        BinaryData {
            a: Bytes::from_static(&[1, 2, 3]),
            nested: Nested {
                list: (
                    Bytes::from_static(&[4, 5]),
                    "text".into(),
                    Deep {
                        deep: Bytes::from_static(&[6]),
                    },
                ),
                n: 42,
            },
            last: Bytes::from_static(&[0xff, 0x00, 0x80]),
        }
    }

    #[test]
    fn typed_payload_to_wire_and_back() {
        let packet = Packet::event("/", "binary-data", vec![to_value(&binary_data()).unwrap()]);
        let encoded = encode(&packet);
        assert_eq!(
            encoded.text,
            concat!(
                r#"54-["binary-data",{"a":{"_placeholder":true,"num":0},"#,
                r#""nested":{"list":[{"_placeholder":true,"num":1},"text","#,
                r#"{"deep":{"_placeholder":true,"num":2}}],"n":42},"#,
                r#""last":{"_placeholder":true,"num":3}}]"#
            )
        );
        let mut decoder = Decoder::new();
        let mut decoded = decoder.decode_text(&encoded.text).unwrap();
        for attachment in &encoded.attachments {
            assert!(decoded.is_none());
            decoded = decoder.decode_binary(attachment.clone()).unwrap();
        }
        let Some(Packet {
            data: PacketData::Event { event, mut args },
            ..
        }) = decoded
        else {
            panic!("not an event")
        };
        assert_eq!(event, "binary-data");
        let typed: BinaryData = from_value(args.remove(0)).unwrap();
        assert_eq!(typed, binary_data());
    }

    #[test]
    fn protocol_versions() {
        assert_eq!(ProtocolVersion::default(), ProtocolVersion::V5);
        assert_eq!(
            ProtocolVersion::from_engine_revision(3),
            Some(ProtocolVersion::V4)
        );
        assert_eq!(
            ProtocolVersion::from_engine_revision(4),
            Some(ProtocolVersion::V5)
        );
        assert_eq!(ProtocolVersion::from_engine_revision(5), None);
    }

    #[test]
    fn reserved_events() {
        for name in RESERVED_EVENTS {
            assert!(is_reserved_event(name));
        }
        for name in [
            "",
            "connection",
            "new_namespace",
            "message",
            "CONNECT",
            "disconnect ",
        ] {
            assert!(!is_reserved_event(name), "{name}");
        }
    }
}
