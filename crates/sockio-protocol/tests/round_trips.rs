//! Property tests: whatever the encoders write, the decoders read back as it was —
//! Engine.IO packets in every payload form, Socket.IO packets with binary attachments in
//! the default and the msgpack formats. (Byte-exactness with the JS implementations is
//! tested with captured vectors beside the code; this covers the space between them.)

use bytes::Bytes;
use proptest::prelude::*;
use sockio_protocol::engine::payload::{self, EncodedPacket};
use sockio_protocol::engine::{Message, Packet as EnginePacket, ProtocolVersion as Eio};
use sockio_protocol::socket::{
    decode_msgpack, encode, encode_msgpack, Decoder, Packet, ProtocolVersion, Value,
};
use sockio_protocol::Utf8Bytes;

/// Text a JS client may send (any Unicode; the v4 payload separator `\x1e` excluded,
/// as engine.io-client never writes it inside a message).
fn text() -> impl Strategy<Value = String> {
    "[^\u{1e}]{0,40}"
}

fn engine_packet() -> impl Strategy<Value = EnginePacket> {
    prop_oneof![
        text().prop_map(|t| EnginePacket::Message(Message::Text(Utf8Bytes::from(t)))),
        proptest::collection::vec(any::<u8>(), 0..64)
            .prop_map(|b| EnginePacket::Message(Message::Binary(Bytes::from(b)))),
        Just(EnginePacket::Ping(Utf8Bytes::from_static(""))),
        Just(EnginePacket::Pong(Utf8Bytes::from_static("probe"))),
        Just(EnginePacket::Close),
        Just(EnginePacket::Noop),
        Just(EnginePacket::Upgrade),
    ]
}

fn encoded(packets: &[EnginePacket]) -> Vec<EncodedPacket> {
    packets.iter().map(EncodedPacket::from_packet).collect()
}

fn decoded(
    it: impl Iterator<Item = Result<EnginePacket, sockio_protocol::engine::DecodeError>>,
) -> Vec<EnginePacket> {
    it.collect::<Result<Vec<_>, _>>().expect("decodes")
}

/// JSON values with binary anywhere, as a Socket.IO argument may hold.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            // Whole floats are integers in JSON and in notepack alike: generated as such.
            .prop_filter("finite, not whole", |f| f.is_finite() && f.fract() != 0.0)
            .prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(|b| Value::Binary(Bytes::from(b))),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Decodes what `encode` wrote, attachments included, with no bound on their number: a
/// generated packet may hold more binary values than the default limit of 10, which
/// bounds input and is tested on its own.
fn decode_default(packet: &Packet) -> Packet {
    let encoded = encode(packet);
    let mut decoder = Decoder::with_config(sockio_protocol::socket::DecoderConfig {
        max_attachments: usize::MAX,
        ..Default::default()
    });
    let mut out = decoder.decode_text(&encoded.text).expect("header decodes");
    for a in encoded.attachments {
        assert!(out.is_none(), "packet complete before its attachments");
        out = decoder.decode_binary(a).expect("attachment decodes");
    }
    out.expect("a complete packet")
}

proptest! {
    #[test]
    fn engine_v4_payloads(packets in proptest::collection::vec(engine_packet(), 1..12)) {
        let body = payload::encode_v4(&encoded(&packets));
        prop_assert_eq!(decoded(payload::decode_v4(body)), packets);
    }

    #[test]
    fn engine_v3_text_payloads(packets in proptest::collection::vec(engine_packet(), 1..12)) {
        let body = payload::encode_v3_text(&encoded(&packets));
        prop_assert_eq!(decoded(payload::decode_v3_text(Bytes::from(body))), packets);
    }

    #[test]
    fn engine_v3_binary_payloads(packets in proptest::collection::vec(engine_packet(), 1..12)) {
        let body = payload::encode_v3_binary(&encoded(&packets));
        prop_assert_eq!(decoded(payload::decode_v3_binary(body)), packets);
    }

    #[test]
    fn engine_websocket_frames(packet in engine_packet()) {
        let back = match EncodedPacket::from_packet(&packet) {
            EncodedPacket::Text(t) => EnginePacket::decode_text(t, Eio::V4),
            EncodedPacket::Binary(b) => EnginePacket::decode_binary(
                EnginePacket::encode_binary_frame(&b, Eio::V3), Eio::V3),
        };
        prop_assert_eq!(back.expect("decodes"), packet);
    }

    #[test]
    fn socketio_events_with_binary_anywhere(
        nsp in prop_oneof![Just("/".to_owned()), "/[a-z]{1,8}"],
        event in "[a-zA-Z0-9 ]{1,12}",
        args in proptest::collection::vec(value(), 0..5),
        id in proptest::option::of(0u64..1_000_000),
    ) {
        let mut packet = Packet::event(nsp, event, args);
        packet.id = id;
        prop_assert_eq!(&decode_default(&packet), &packet);
        prop_assert_eq!(decode_msgpack(&encode_msgpack(&packet)).expect("msgpack decodes"), packet);
    }

    #[test]
    fn socketio_acks(args in proptest::collection::vec(value(), 0..5), id in 0u64..1_000_000) {
        let packet = Packet::ack("/chat", id, args);
        prop_assert_eq!(&decode_default(&packet), &packet);
        prop_assert_eq!(decode_msgpack(&encode_msgpack(&packet)).expect("msgpack decodes"), packet);
    }
}

#[test]
fn the_v4_dialect_reads_what_it_writes() {
    let packet = Packet::event("/", "x", vec![Value::from(1)]);
    let text = sockio_protocol::socket::encode_with(&packet, ProtocolVersion::V4).text;
    let mut decoder = Decoder::with_config(sockio_protocol::socket::DecoderConfig::new(
        ProtocolVersion::V4,
    ));
    assert_eq!(decoder.decode_text(&text).unwrap(), Some(packet));
}
