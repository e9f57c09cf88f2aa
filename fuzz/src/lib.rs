//! What each fuzz target does with its input, as plain functions: the targets in
//! `fuzz_targets/` call them under libFuzzer, and `tests/fuzz_seeds.rs` (in the project's
//! normal test suite) runs every committed seed through them. Each function decodes
//! arbitrary bytes and checks what must hold: no panic, and what decodes re-encodes to
//! something that decodes the same.

use bytes::Bytes;
use sockio_protocol::engine::payload::{self, EncodedPacket};
use sockio_protocol::engine::{Packet as EnginePacket, ProtocolVersion as Eio};
use sockio_protocol::socket::{
    decode_msgpack, encode_msgpack, encode_with, Decoder, DecoderConfig, ProtocolVersion,
};
use sockio_protocol::Utf8Bytes;

/// One Engine.IO packet: a WebSocket text or binary frame, a base64 item.
pub fn engine_packet(data: &[u8]) {
    for version in [Eio::V3, Eio::V4] {
        if let Ok(text) = std::str::from_utf8(data) {
            if let Ok(p) = EnginePacket::decode_text(Utf8Bytes::from(text.to_owned()), version) {
                let again = match EncodedPacket::from_packet(&p) {
                    EncodedPacket::Text(t) => EnginePacket::decode_text(t, version),
                    EncodedPacket::Binary(b) => Ok(EnginePacket::Message(
                        sockio_protocol::engine::Message::Binary(b),
                    )),
                };
                assert_eq!(again.as_ref(), Ok(&p), "text packet re-encodes");
            }
            let _ = EnginePacket::decode_base64(text, version);
        }
        let _ = EnginePacket::decode_binary(Bytes::copy_from_slice(data), version);
    }
}

/// A polling request body in every form: v4 (`\x1e`), v3 text (`len:`), v3 XHR2 binary,
/// a JSONP form.
pub fn engine_payload(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    if let Ok(packets) = payload::decode_v4(body.clone()).collect::<Result<Vec<_>, _>>() {
        let encoded: Vec<EncodedPacket> = packets.iter().map(EncodedPacket::from_packet).collect();
        let again = payload::decode_v4(payload::encode_v4(&encoded)).collect::<Result<Vec<_>, _>>();
        // Text holding the separator cannot travel in v4; anything else comes back.
        if packets.iter().all(|p| !format!("{p:?}").contains('\u{1e}')) {
            assert_eq!(again.as_ref(), Ok(&packets), "v4 payload re-encodes");
        }
    }
    if let Ok(packets) = payload::decode_v3_text(body.clone()).collect::<Result<Vec<_>, _>>() {
        let encoded: Vec<EncodedPacket> = packets.iter().map(EncodedPacket::from_packet).collect();
        let again = payload::decode_v3_text(Bytes::from(payload::encode_v3_text(&encoded)))
            .collect::<Result<Vec<_>, _>>();
        assert_eq!(again.as_ref(), Ok(&packets), "v3 text payload re-encodes");
    }
    let _ = payload::decode_v3_binary(body).collect::<Vec<_>>();
    let _ = payload::decode_jsonp_form(data);
}

/// A connection's Socket.IO messages: the first byte picks the dialect, `0xff` splits
/// the rest into messages (valid UTF-8 ones as text, others as binary attachments).
pub fn socket_decoder(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let version = if first & 1 == 0 {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V4
    };
    let mut config = DecoderConfig::new(version);
    config.max_depth = 32;
    let mut decoder = Decoder::with_config(config);
    for message in rest.split(|&b| b == 0xff) {
        let decoded = match std::str::from_utf8(message) {
            Ok(text) => {
                let utf8 = Utf8Bytes::from(text.to_owned());
                if let Some(event) = decoder.decode_event_text(&utf8) {
                    // The raw path's arguments parse: they were validated.
                    let _ = event.args.parse();
                    continue;
                }
                decoder.decode_text(text)
            }
            Err(_) => decoder.decode_binary(Bytes::copy_from_slice(message)),
        };
        if let Ok(Some(packet)) = decoded {
            if ambiguous(&packet) {
                continue;
            }
            // What decoded re-encodes in the same dialect, and decodes the same again.
            let encoded = encode_with(&packet, version);
            let mut again = Decoder::with_config(config);
            let mut out = again.decode_text(&encoded.text).expect("re-encoded header");
            for a in encoded.attachments {
                out = again.decode_binary(a).expect("re-encoded attachment");
            }
            assert_eq!(
                out.map(|p| normalized(p, version)),
                Some(normalized(packet, version)),
                "packet re-encodes"
            );
        }
    }
}

/// A v4-dialect CONNECT_ERROR whose payload is a number that starts with a digit
/// (`4\t1`) re-encodes as `41`, which every decoder, socket.io-parser's included, reads
/// as ack id 1 with no payload: the packet format cannot say it (found by fuzzing).
fn ambiguous(packet: &sockio_protocol::socket::Packet) -> bool {
    use sockio_protocol::socket::{PacketData, Value};
    match &packet.data {
        PacketData::ConnectError(Value::Number(n)) => n.as_f64().is_some_and(|f| f >= 0.0),
        _ => false,
    }
}

/// In the v4 dialect a CONNECT's payload travels as its namespace's query string: an
/// empty one (`0/admin?`) is the same as none, and a JSON payload (which socket.io 2.x
/// clients never send) comes back as strings. Only its namespace is compared.
fn normalized(
    mut packet: sockio_protocol::socket::Packet,
    version: ProtocolVersion,
) -> sockio_protocol::socket::Packet {
    use sockio_protocol::socket::PacketData;
    if version == ProtocolVersion::V5 {
        return packet;
    }
    if let PacketData::Connect(Some(_)) = &packet.data {
        packet.data = PacketData::Connect(None);
    }
    packet
}

/// A msgpack-format Socket.IO packet (socket.io-msgpack-parser).
pub fn msgpack(data: &[u8]) {
    if let Ok(packet) = decode_msgpack(data) {
        let again = decode_msgpack(&encode_msgpack(&packet));
        assert_eq!(again.as_ref(), Ok(&packet), "msgpack packet re-encodes");
    }
}

/// A handshake query string.
pub fn query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let pairs: Vec<(String, String)> = sockio_protocol::urlencoded::pairs(&text).collect();
    for (name, _) in pairs.iter().take(4) {
        let _ = sockio_protocol::urlencoded::get(&text, name);
    }
    let _ = sockio_protocol::urlencoded::decode_strict(data);
}

/// A connection's first bytes, as the direct WebSocket path reads them.
pub fn http_head(data: &[u8]) {
    let _ = sockio_engine::fuzz_first_request(data);
}

/// RFC 6455 framing as `sockio-ws` reads it, for the server and the client alike: the
/// first byte picks the role (bit 0: server, reading masked frames; client otherwise)
/// and the message limit (bits 1–2: 64 KiB, 125 bytes, none at all, 1 KiB); the rest is
/// the peer's bytes, read frame by frame until they run out or break a rule. What must
/// hold: `Need` asks for more than there is, a frame is there whole (one byte less is
/// `Need`), re-encoded it reads back the same, messages stay within the limit, a close
/// is answered with a code an endpoint may send, nothing is read after an error.
pub fn ws_frames(data: &[u8]) {
    use sockio_ws::{parse, write_frame, Event, Message, Parse, Reassembler, Role};
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let role = if first & 1 == 1 {
        Role::Server
    } else {
        Role::Client
    };
    let max = [64 * 1024, 125, 0, 1024][usize::from(first >> 1 & 3)];
    let mut messages = Reassembler::new();
    while !rest.is_empty() {
        let frame = match parse(rest, role, max) {
            Parse::Need(n) => {
                assert!(n > rest.len(), "Need({n}) with {} bytes there", rest.len());
                return;
            }
            Parse::Error(e) => {
                assert!(matches!(e.close_code(), 1002 | 1009));
                return;
            }
            Parse::Frame(frame) => frame,
        };
        assert!(frame.len >= 2 && frame.len <= rest.len());
        assert!(frame.payload.len() <= max);
        assert!(matches!(
            parse(&rest[..frame.len - 1], role, max),
            Parse::Need(_)
        ));
        // Re-encoded (the same mask, FIN as it was) it reads back the same.
        let mut again = Vec::new();
        write_frame(&mut again, frame.opcode, &frame.to_bytes(), frame.mask);
        if !frame.fin {
            again[0] &= 0x7f;
        }
        let Parse::Frame(back) = parse(&again, role, max) else {
            panic!("a re-encoded frame does not read back");
        };
        assert_eq!(
            (back.fin, back.opcode, back.mask, back.to_bytes()),
            (frame.fin, frame.opcode, frame.mask, frame.to_bytes())
        );
        rest = &rest[frame.len..];
        match messages.push(&frame, max) {
            Ok(Some(Event::Message(Message::Text(t)))) => assert!(t.len() <= max),
            Ok(Some(Event::Message(Message::Binary(b)))) => assert!(b.len() <= max),
            Ok(Some(Event::Ping(p))) => assert!(p.len() <= 125),
            Ok(Some(Event::Close(code))) => assert!(code.is_none_or(|c| matches!(
                c,
                1000..=1003 | 1007..=1014 | 3000..=4999
            ))),
            Ok(Some(Event::Pong) | None) => {}
            Err(e) => {
                assert!(!messages.in_message(), "fragments dropped on an error");
                assert!(matches!(e.close_code(), 1002 | 1007 | 1009));
                return;
            }
        }
    }
}

// ---- The client's decoders (crates/sockio-client) ----

/// The client's WebSocket frames read from the server (`sockio_client::fuzz_ws`: the
/// first byte cuts the reads, the rest is the server's bytes).
pub fn client_ws(data: &[u8]) {
    sockio_client::fuzz_ws(data);
}

use sockio_client::engine::{
    Action, EngineClient, EngineEvent, EngineOptions, Handshake, Input, TransportError,
};
use sockio_client::TransportKind;
use std::time::{Duration, Instant};

/// The client's options from one byte: Engine.IO revision, first transport, upgrade.
fn client_options(byte: u8) -> EngineOptions {
    EngineOptions {
        version: if byte & 1 == 0 { Eio::V4 } else { Eio::V3 },
        transports: if byte & 2 == 0 {
            vec![TransportKind::Polling, TransportKind::WebSocket]
        } else {
            vec![TransportKind::WebSocket]
        },
        upgrade: byte & 4 == 0,
    }
}

/// Feeds one input and checks what must hold after any input: nothing after the
/// session closed, one `Closed` at most, no timer unless open. Returns whether it closed.
fn feed(engine: &mut EngineClient, input: Input, now: Instant, closed: &mut bool) {
    let actions = engine.handle(input, now);
    if *closed {
        assert!(actions.is_empty(), "actions after the close: {actions:?}");
    }
    for a in &actions {
        if let Action::Event(EngineEvent::Closed { .. }) = a {
            assert!(!*closed, "closed twice");
            *closed = true;
        }
    }
    assert_eq!(
        engine.is_closed(),
        *closed,
        "is_closed agrees with the events"
    );
    if !engine.is_open() {
        assert_eq!(engine.next_deadline(), None, "a timer while not open");
    }
}

/// The client's Engine.IO session (`sockio_client::engine::EngineClient`) driven by the
/// server's answers: the first byte picks the options, the rest is a list of inputs
/// whose tag picks what happened (a polling body, text or binary; a
/// WebSocket frame; transport events; time passing; the application sending or closing).
/// Each input is a tag byte, a length (two bytes, big-endian) and that many bytes.
pub fn client_engine(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let mut engine = EngineClient::new(client_options(first));
    let t0 = Instant::now();
    let mut now = t0;
    let mut closed = false;
    feed(&mut engine, Input::Connect, now, &mut closed);
    let mut rest = rest;
    while let [tag, hi, lo, after @ ..] = rest {
        let len = (usize::from(*hi) << 8 | usize::from(*lo)).min(after.len());
        let (body, next) = after.split_at(len);
        rest = next;
        let tag = *tag;
        let bytes = Bytes::copy_from_slice(body);
        let text = std::str::from_utf8(body).ok();
        let input = match tag % 13 {
            0 => Input::PollResponse {
                body: bytes,
                binary: false,
            },
            1 => Input::PollResponse {
                body: bytes,
                binary: true,
            },
            2 => match text {
                Some(t) => Input::WsText(Utf8Bytes::from(t.to_owned())),
                None => Input::WsBinary(bytes),
            },
            3 => Input::WsBinary(bytes),
            4 => Input::WsOpen,
            5 => Input::PostDone,
            6 => Input::PollFailed(TransportError::Io("fuzz".into())),
            7 => Input::PostFailed(TransportError::Timeout),
            8 => Input::WsClosed(None),
            9 => {
                // Time passes: up to 65 535 ms, then the timers are checked.
                let ms = body
                    .iter()
                    .take(2)
                    .fold(0u64, |acc, &b| acc << 8 | u64::from(b));
                now += Duration::from_millis(ms);
                Input::Tick
            }
            10 => Input::Send(sockio_protocol::engine::Message::Binary(bytes)),
            11 => Input::Close,
            // The server's open packet, on whichever transport the session uses.
            _ => match engine.transport() {
                TransportKind::Polling => {
                    let mut open = b"0".to_vec();
                    open.extend_from_slice(body);
                    if first & 1 == 1 {
                        // v3 text framing: `<length>:<packet>` (length in characters).
                        let text = String::from_utf8_lossy(&open).into_owned();
                        let framed = format!("{}:{text}", text.chars().count());
                        Input::PollResponse {
                            body: Bytes::from(framed),
                            binary: false,
                        }
                    } else {
                        Input::PollResponse {
                            body: Bytes::from(open),
                            binary: false,
                        }
                    }
                }
                TransportKind::WebSocket => {
                    let text = String::from_utf8_lossy(body);
                    Input::WsText(Utf8Bytes::from(format!("0{text}")))
                }
            },
        };
        feed(&mut engine, input, now, &mut closed);
        if let Some(deadline) = engine.next_deadline() {
            // The driver would tick at the deadline.
            if deadline <= now {
                feed(&mut engine, Input::Tick, now, &mut closed);
            }
        }
    }
}

/// The server's handshake (the `open` packet's JSON), on its own and as the client's
/// session receives it first over polling (v4 and v3 framing) and over WebSocket: the
/// session opens exactly when `Handshake::parse` accepts the JSON — in a v4 polling body
/// the JSON up to the first record separator, which ends the packet there (found by
/// fuzzing: the target's own assumption, not a client bug).
pub fn client_handshake(data: &[u8]) {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let now = Instant::now();
    for options in 0..4u8 {
        let mut engine = EngineClient::new(client_options(options));
        let _ = engine.handle(Input::Connect, now);
        let (input, packet) = match (engine.transport(), options & 1) {
            (TransportKind::Polling, 0) => (
                Input::PollResponse {
                    body: Bytes::from(format!("0{json}")),
                    binary: false,
                },
                json.split('\u{1e}').next().unwrap_or_default(),
            ),
            (TransportKind::Polling, _) => (
                Input::PollResponse {
                    body: Bytes::from(format!("{}:0{json}", json.chars().count() + 1)),
                    binary: false,
                },
                json,
            ),
            (TransportKind::WebSocket, _) => {
                let _ = engine.handle(Input::WsOpen, now);
                (Input::WsText(Utf8Bytes::from(format!("0{json}"))), json)
            }
        };
        let parsed = Handshake::parse(packet);
        let actions = engine.handle(input, now);
        let opened = actions
            .iter()
            .any(|a| matches!(a, Action::Event(EngineEvent::Open(_))));
        assert_eq!(opened, parsed.is_ok(), "opens exactly on a valid handshake");
        if packet.len() == json.len() {
            // Nothing after the open packet that could close the session again.
            assert_eq!(engine.is_open(), parsed.is_ok());
        }
        if let Ok(h) = &parsed {
            assert_eq!(engine.handshake(), Some(h));
            if engine.is_open() {
                assert!(
                    engine.next_deadline().is_some(),
                    "a heartbeat timer once open"
                );
            }
            // Much later, the heartbeat times out: the session closes, nothing panics.
            let later = now + Duration::from_secs(3600 * 24 * 365);
            let _ = engine.handle(Input::Tick, later);
        }
    }
}

/// A connection's Socket.IO messages as the client decodes and reads them
/// (`sockio_client::fuzz_messages`: CONNECT and CONNECT_ERROR answers, events, acks,
/// binary attachments reassembled): the first byte picks the dialect (v5 over Engine.IO
/// 4, v4 over Engine.IO 3), `0xff` splits the rest into messages (valid UTF-8 ones as
/// text, others as binary attachments). What decodes re-encodes to the same packet.
pub fn client_socket(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let (eio, version) = if first & 1 == 0 {
        (Eio::V4, ProtocolVersion::V5)
    } else {
        (Eio::V3, ProtocolVersion::V4)
    };
    let messages = rest
        .split(|&b| b == 0xff)
        .map(|m| match std::str::from_utf8(m) {
            Ok(text) => sockio_protocol::engine::Message::Text(Utf8Bytes::from(text.to_owned())),
            Err(_) => sockio_protocol::engine::Message::Binary(Bytes::copy_from_slice(m)),
        });
    for packet in sockio_client::fuzz_messages(eio, "sid", messages) {
        if ambiguous(&packet) {
            continue;
        }
        let encoded = encode_with(&packet, version);
        let mut again = Decoder::with_config(DecoderConfig::new(version));
        let mut out = again.decode_text(&encoded.text).expect("re-encoded header");
        for a in encoded.attachments {
            out = again.decode_binary(a).expect("re-encoded attachment");
        }
        assert_eq!(
            out.map(|p| normalized(p, version)),
            Some(normalized(packet, version)),
            "packet re-encodes"
        );
    }
}

/// A server URL as `ClientBuilder::new` parses it, and the requests built from it.
pub fn client_url(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(url) = sockio_client::fuzz_url(&text) {
        assert!(!url.host.is_empty(), "a host");
        assert!(url.namespace.starts_with('/'), "a namespace: {url:?}");
        assert!(!url.query.contains('#'), "no fragment in the query");
    }
}
