//! Packet -> wire text (+ binary attachments).

use bytes::Bytes;

use super::json::{self, BinaryMode};
use super::packet::{Packet, PacketData, PacketType};
use super::query;
use super::value::Value;
use super::ProtocolVersion;

/// An encoded packet: one text message, then each attachment as its own binary message,
/// in order.
///
/// Encoding does not consume or mutate the packet, and the attachments share the
/// packet's buffers (cloning [`Bytes`] does not copy), so a broadcast encodes once and
/// hands the same `Encoded` to every recipient.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encoded {
    /// The packet text, e.g. `2/chat,13["msg",{"a":1}]`; carried by one Engine.IO
    /// `message` packet (so `42/chat,...` on the wire).
    pub text: String,
    /// The binary attachments, in placeholder order (`num` 0, 1, ...); empty unless the
    /// packet is a BINARY_EVENT or BINARY_ACK.
    pub attachments: Vec<Bytes>,
}

impl Encoded {
    /// Whether the packet has binary attachments (was encoded as type 5 or 6).
    pub fn is_binary(&self) -> bool {
        !self.attachments.is_empty()
    }
}

/// Encodes a packet for protocol v5, exactly as socket.io-parser 4.2 does.
///
/// ```text
/// <type>[<attachments>-][<nsp>,][<ack id>][<JSON payload>]
/// ```
///
/// The namespace is written only when it is not `/`. EVENT and ACK arguments are
/// searched depth-first (array order, object key order) for [`Value::Binary`]; each is
/// replaced by `{"_placeholder":true,"num":N}` and moved to
/// [`attachments`](Encoded::attachments), and the type becomes BINARY_EVENT /
/// BINARY_ACK with the attachment count. The JSON is what `JSON.stringify` writes. Binary
/// inside a CONNECT or CONNECT_ERROR payload (which cannot carry attachments) is written
/// the way Node.js serializes a `Buffer`, `{"type":"Buffer","data":[...]}`.
///
/// ```
/// use bytes::Bytes;
/// use sockio_protocol::socket::{encode, Packet, Value};
///
/// let e = encode(&Packet::ack("/", 1, vec![Value::from("ack-reply"), Value::from(Bytes::from_static(&[1, 2]))]));
/// assert_eq!(e.text, r#"61-1["ack-reply",{"_placeholder":true,"num":0}]"#);
/// assert_eq!(e.attachments, vec![Bytes::from_static(&[1, 2])]);
/// ```
pub fn encode(packet: &Packet) -> Encoded {
    encode_with(packet, ProtocolVersion::V5)
}

/// Encodes a packet for the given protocol version.
///
/// [`ProtocolVersion::V5`] is [`encode`]. [`ProtocolVersion::V4`] differs in one place,
/// the CONNECT sent by a v4 *client*: a non-empty object payload is written as the
/// namespace's query string (`0/admin?token=abc&x=1,`, values percent-encoded like
/// `encodeURIComponent`), which is how socket.io-client 2.x transmits its `query`
/// option; an empty object or `None` gives `0/admin,`. Everything else is written as in
/// v5: a v4 server's CONNECT reply is simply a CONNECT with no payload (`0/admin,`), and
/// a v4 CONNECT_ERROR carries whatever value it is given (socket.io 4.8 sends
/// `err.data || err.message`).
///
/// ```
/// use sockio_protocol::socket::{encode_with, Packet, ProtocolVersion, Value};
///
/// let auth = Value::object([("x", "1"), ("y", "two")]);
/// let e = encode_with(&Packet::connect("/custom", Some(auth)), ProtocolVersion::V4);
/// assert_eq!(e.text, "0/custom?x=1&y=two,");
/// let reply = encode_with(&Packet::connect("/custom", None), ProtocolVersion::V4);
/// assert_eq!(reply.text, "0/custom,");
/// ```
pub fn encode_with(packet: &Packet, version: ProtocolVersion) -> Encoded {
    encode_after(packet, version, "")
}

/// [`encode_with`], the text starting with `prefix`: `"4"` gives the Engine.IO
/// `message` packet that carries it, in one allocation.
///
/// ```
/// use sockio_protocol::socket::{encode_after, Packet, ProtocolVersion, Value};
///
/// let e = encode_after(&Packet::ack("/", 3, vec![Value::from("ok")]), ProtocolVersion::V5, "4");
/// assert_eq!(e.text, r#"433["ok"]"#);
/// ```
pub fn encode_after(packet: &Packet, version: ProtocolVersion, prefix: &str) -> Encoded {
    let mut binaries = 0;
    let payload_len = match &packet.data {
        PacketData::Connect(Some(v)) | PacketData::ConnectError(v) => {
            // Binary here is written inline (Node Buffer form), not as attachments.
            let mut ignored = 0;
            json::measure(v, &mut ignored)
        }
        PacketData::Connect(None) | PacketData::Disconnect => 0,
        PacketData::Event { event, args } => {
            event.len()
                + 3
                + args
                    .iter()
                    .map(|a| json::measure(a, &mut binaries) + 1)
                    .sum::<usize>()
        }
        PacketData::Ack { args } => {
            2 + args
                .iter()
                .map(|a| json::measure(a, &mut binaries) + 1)
                .sum::<usize>()
        }
    };
    let kind = match (&packet.data, binaries > 0) {
        (PacketData::Connect(_), _) => PacketType::Connect,
        (PacketData::Disconnect, _) => PacketType::Disconnect,
        (PacketData::Event { .. }, false) => PacketType::Event,
        (PacketData::Event { .. }, true) => PacketType::BinaryEvent,
        (PacketData::Ack { .. }, false) => PacketType::Ack,
        (PacketData::Ack { .. }, true) => PacketType::BinaryAck,
        (PacketData::ConnectError(_), _) => PacketType::ConnectError,
    };

    let mut text = String::with_capacity(prefix.len() + payload_len + packet.nsp.len() + 24);
    let mut attachments = Vec::with_capacity(binaries);
    text.push_str(prefix);
    text.push(kind.as_char());
    if binaries > 0 {
        text.push_str(itoa::Buffer::new().format(binaries));
        text.push('-');
    }

    // v4 client CONNECT: an object payload goes into the namespace query (none if empty).
    let (v4_query, v4_object) = match (&packet.data, version) {
        (PacketData::Connect(Some(Value::Object(auth))), ProtocolVersion::V4) => {
            ((!auth.is_empty()).then_some(auth), true)
        }
        _ => (None, false),
    };
    if let Some(auth) = v4_query {
        // socket.io-client 2.x: `packet.nsp += '?' + query`, so "/" is written too.
        text.push_str(&packet.nsp);
        text.push('?');
        query::encode_query(&mut text, auth);
        text.push(',');
    } else if !packet.nsp.is_empty() && packet.nsp != "/" {
        text.push_str(&packet.nsp);
        text.push(',');
    }

    if let Some(id) = packet.id {
        text.push_str(itoa::Buffer::new().format(id));
    }

    match &packet.data {
        PacketData::Connect(Some(payload)) if !v4_object => {
            json::write_value(&mut text, payload, &mut BinaryMode::NodeBuffer);
        }
        PacketData::Connect(_) | PacketData::Disconnect => {}
        PacketData::ConnectError(payload) => {
            json::write_value(&mut text, payload, &mut BinaryMode::NodeBuffer);
        }
        PacketData::Event { event, args } => {
            let mut mode = BinaryMode::Placeholders(&mut attachments);
            text.push('[');
            json::write_str(&mut text, event);
            for arg in args {
                text.push(',');
                json::write_value(&mut text, arg, &mut mode);
            }
            text.push(']');
        }
        PacketData::Ack { args } => {
            let mut mode = BinaryMode::Placeholders(&mut attachments);
            text.push('[');
            for (i, arg) in args.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                json::write_value(&mut text, arg, &mut mode);
            }
            text.push(']');
        }
    }

    Encoded { text, attachments }
}

impl Packet {
    /// Encodes the packet for protocol v5 ([`encode`](super::encode)).
    pub fn encode(&self) -> Encoded {
        encode_with(self, ProtocolVersion::V5)
    }

    /// Encodes the packet for the given protocol version
    /// ([`encode_with`](super::encode_with)).
    pub fn encode_with(&self, version: ProtocolVersion) -> Encoded {
        encode_with(self, version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(b: &'static [u8]) -> Value {
        Value::Binary(Bytes::from_static(b))
    }

    fn json(text: &str) -> Value {
        Value::from_json(text).unwrap()
    }

    fn text(p: &Packet) -> String {
        let e = encode(p);
        assert!(e.attachments.is_empty());
        e.text
    }

    #[test]
    fn spec_examples_byte_exact() {
        // socket-io.md §2.
        assert_eq!(text(&Packet::connect("/", None)), "0");
        assert_eq!(
            text(&Packet::connect("/", Some(json(r#"{"token":"123"}"#)))),
            r#"0{"token":"123"}"#
        );
        assert_eq!(
            text(&Packet::connect("/admin", Some(json(r#"{"token":"123"}"#)))),
            r#"0/admin,{"token":"123"}"#
        );
        assert_eq!(text(&Packet::connect("/admin", None)), "0/admin,");
        assert_eq!(
            text(&Packet::connect(
                "/",
                Some(json(r#"{"sid":"Igm4dAoHJArRebrlAAAB"}"#))
            )),
            r#"0{"sid":"Igm4dAoHJArRebrlAAAB"}"#
        );
        assert_eq!(
            text(&Packet::connect_error(
                "/admin",
                json(r#"{"message":"not authorized","data":{"reason":"x"}}"#)
            )),
            r#"4/admin,{"message":"not authorized","data":{"reason":"x"}}"#
        );
        assert_eq!(text(&Packet::disconnect("/admin")), "1/admin,");
        assert_eq!(text(&Packet::disconnect("/")), "1");
        assert_eq!(
            text(&Packet::event("/", "hello", vec![Value::from("world")])),
            r#"2["hello","world"]"#
        );
        assert_eq!(
            text(&Packet::event("/", "hello", vec![Value::from("world")]).with_id(1)),
            r#"21["hello","world"]"#
        );
        assert_eq!(
            text(&Packet::event("/chat", "msg", vec![json(r#"{"a":1}"#)]).with_id(13)),
            r#"2/chat,13["msg",{"a":1}]"#
        );
        assert_eq!(
            text(&Packet::ack("/", 1, vec![Value::from("ack-reply")])),
            r#"31["ack-reply"]"#
        );
        assert_eq!(
            text(&Packet::event("/", "e4-ack", vec![]).with_id(0)),
            r#"20["e4-ack"]"#
        );
        assert_eq!(text(&Packet::ack("/", 0, vec![])), "30[]");
    }

    #[test]
    fn binary_event_and_ack() {
        // [captured] 51-["srv",{"a":1},{"_placeholder":true,"num":0}] + de ad
        let e = encode(&Packet::event(
            "/",
            "srv",
            vec![json(r#"{"a":1}"#), bin(&[0xde, 0xad])],
        ));
        assert_eq!(
            e.text,
            r#"51-["srv",{"a":1},{"_placeholder":true,"num":0}]"#
        );
        assert_eq!(e.attachments, vec![Bytes::from_static(&[0xde, 0xad])]);
        assert!(e.is_binary());
        // [captured] 61-1["ack-reply",{"_placeholder":true,"num":0}]
        let e = encode(&Packet::ack(
            "/",
            1,
            vec![Value::from("ack-reply"), bin(&[1, 2])],
        ));
        assert_eq!(e.text, r#"61-1["ack-reply",{"_placeholder":true,"num":0}]"#);
        let e = encode(&Packet::ack("/dyn-x", 7, vec![bin(b"a"), bin(b"b")]));
        assert_eq!(
            e.text,
            r#"62-/dyn-x,7[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
        );
    }

    #[test]
    fn request_binary_example_numbers_depth_first() {
        // conformance-server.md §4.3 `request-binary`.
        let payload = Value::object([
            ("a", bin(&[1, 2, 3])),
            (
                "nested",
                Value::object([
                    (
                        "list",
                        Value::Array(vec![
                            bin(&[4, 5]),
                            Value::from("text"),
                            Value::object([("deep", bin(&[6]))]),
                        ]),
                    ),
                    ("n", Value::from(42)),
                ]),
            ),
            ("last", bin(&[0xff, 0x00, 0x80])),
        ]);
        let e = encode(&Packet::event("/custom", "binary-data", vec![payload]));
        assert_eq!(
            e.text,
            concat!(
                r#"54-/custom,["binary-data",{"a":{"_placeholder":true,"num":0},"#,
                r#""nested":{"list":[{"_placeholder":true,"num":1},"text","#,
                r#"{"deep":{"_placeholder":true,"num":2}}],"n":42},"#,
                r#""last":{"_placeholder":true,"num":3}}]"#
            )
        );
        assert_eq!(
            e.attachments,
            vec![
                Bytes::from_static(&[1, 2, 3]),
                Bytes::from_static(&[4, 5]),
                Bytes::from_static(&[6]),
                Bytes::from_static(&[0xff, 0x00, 0x80]),
            ]
        );
    }

    #[test]
    fn strings_escaped_like_json_stringify() {
        let e = encode(&Packet::event(
            "/",
            "m\"sg",
            vec![Value::from("é日😀\u{2028}\u{2029}\u{7f}\u{0}\u{1b}\n\\/")],
        ));
        assert_eq!(
            e.text,
            "2[\"m\\\"sg\",\"é日😀\u{2028}\u{2029}\u{7f}\\u0000\\u001b\\n\\\\/\"]"
        );
    }

    #[test]
    fn connect_payloads_write_binary_inline() {
        let e = encode(&Packet::connect_error(
            "/",
            Value::object([("b", bin(&[1, 2]))]),
        ));
        assert_eq!(e.text, r#"4{"b":{"type":"Buffer","data":[1,2]}}"#);
        assert!(e.attachments.is_empty());
        let e = encode(&Packet::connect(
            "/",
            Some(Value::object([("b", bin(&[]))])),
        ));
        assert_eq!(e.text, r#"0{"b":{"type":"Buffer","data":[]}}"#);
    }

    #[test]
    fn v4_dialect() {
        let v4 = |p: &Packet| encode_with(p, ProtocolVersion::V4).text;
        // Server side: CONNECT reply without payload, ERROR with a raw value.
        assert_eq!(v4(&Packet::connect("/", None)), "0");
        assert_eq!(v4(&Packet::connect("/admin", None)), "0/admin,");
        assert_eq!(
            v4(&Packet::connect_error(
                "/admin",
                Value::from("not authorized")
            )),
            r#"4/admin,"not authorized""#
        );
        assert_eq!(
            v4(&Packet::connect_error("/admin", json(r#"{"reason":"x"}"#))),
            r#"4/admin,{"reason":"x"}"#
        );
        // Client side: the auth object goes into the namespace query.
        assert_eq!(
            v4(&Packet::connect(
                "/custom",
                Some(json(r#"{"x":"1","y":"two"}"#))
            )),
            "0/custom?x=1&y=two,"
        );
        assert_eq!(
            v4(&Packet::connect("/custom", Some(json("{}")))),
            "0/custom,"
        );
        assert_eq!(
            v4(&Packet::connect("/", Some(json(r#"{"a":"b c"}"#)))),
            "0/?a=b%20c,"
        );
        // Events are the same as v5.
        let p = Packet::event("/custom", "e", vec![bin(&[1])]).with_id(2);
        assert_eq!(encode_with(&p, ProtocolVersion::V4), encode(&p));
        assert_eq!(p.encode_with(ProtocolVersion::V4), p.encode());
    }

    #[test]
    fn empty_namespace_is_main_namespace() {
        assert_eq!(text(&Packet::disconnect("")), "1");
    }

    #[test]
    fn encode_does_not_need_mut_and_shares_buffers() {
        let data = Bytes::from(vec![9u8; 1024]);
        let p = Packet::event("/", "big", vec![Value::Binary(data.clone())]);
        let a = encode(&p);
        let b = encode(&p);
        assert_eq!(a, b);
        assert_eq!(a.attachments[0].as_ptr(), data.as_ptr());
    }

    #[test]
    fn numbers_in_args() {
        let args = vec![
            Value::from(1.0),
            Value::from(-0.0),
            Value::from(1e21),
            Value::from(f64::NAN),
            Value::from(u64::MAX),
            Value::from(i64::MIN),
        ];
        assert_eq!(
            text(&Packet::ack("/", 5, args)),
            "35[1,0,1e+21,null,18446744073709551615,-9223372036854775808]"
        );
    }
}
