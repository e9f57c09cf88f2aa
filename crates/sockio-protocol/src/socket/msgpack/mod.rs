//! The msgpack parser: Socket.IO packets as msgpack maps, compatible with
//! `socket.io-msgpack-parser` 3.0.2 (which uses notepack.io 2.2).
//!
//! Both sides of a connection must be configured with this parser; it is not negotiated.
//! Each packet is **one** msgpack map, sent as one Engine.IO binary message:
//!
//! ```text
//! {type: <int 0..=4>, nsp: <string>, id?: <int>, data?: <payload>}
//! ```
//!
//! There are no attachments and no BINARY_EVENT / BINARY_ACK types: binary data stays
//! inline as msgpack `bin`, and an EVENT or ACK with binary arguments keeps type 2 or 3.
//!
//! * [`encode_msgpack`] writes the map with its keys in the order `type`, `nsp`, `id`
//!   (only with an ack id), `data` (omitted for DISCONNECT and for a CONNECT without
//!   payload), values encoded as notepack.io does (smallest integer encoding, other
//!   numbers as float64, `str`/`bin`/`array`/`map` in their smallest form).
//! * [`decode_msgpack`] reads one packet (keys in any order, unknown keys such as the
//!   `options` socket.io-client adds are ignored) and validates it like the default
//!   [`Decoder`](super::Decoder) validates text packets, refusing everything malformed
//!   with a [`DecodeError`] (msgpack-level problems as
//!   [`DecodeError::InvalidMsgpack`] with a [`MsgpackError`]).
//!
//! ```
//! use bytes::Bytes;
//! use sockio_protocol::socket::{decode_msgpack, encode_msgpack, Packet, Value};
//!
//! let packet = Packet::event("/chat", "bin", vec![Value::Binary(Bytes::from_static(&[1, 2]))])
//!     .with_id(3);
//! let bytes = encode_msgpack(&packet);
//! assert_eq!(
//!     &bytes[..],
//!     b"\x84\xa4type\x02\xa3nsp\xa5/chat\xa2id\x03\xa4data\x92\xa3bin\xc4\x02\x01\x02"
//! );
//! assert_eq!(decode_msgpack(&bytes), Ok(packet));
//! ```

use bytes::Bytes;
use serde_json::Number;

mod read;

use read::Reader;

use super::error::{DecodeError, MsgpackError};
use super::packet::{Packet, PacketData, PacketType};
use super::value::Value;
use super::DEFAULT_MAX_DEPTH;

// --------------------------------------------------------------------------------------
// Encoding
// --------------------------------------------------------------------------------------

/// Encodes a packet as one msgpack map, byte for byte as socket.io-msgpack-parser 3.0.2
/// (notepack.io 2.2) writes it.
///
/// The keys are written in the order `type`, `nsp` (always, `/` too), `id` (only with
/// an ack id), `data` (absent for DISCONNECT and for a CONNECT without payload). EVENT
/// and ACK keep types 2 and 3 whatever their arguments hold: [`Value::Binary`] is written
/// inline as msgpack `bin` (8/16/32). Integers take their smallest encoding (positive /
/// negative fixint, `uint 8..64`, `int 8..64`); other numbers are written as float64, as
/// notepack.io does (an integral `f64` that fits in `u64` or `i64` counts as an integer;
/// one beyond — which notepack.io would mangle — is written as float64). Strings, arrays
/// and objects (keys in their order) use the smallest `fixstr`/`str 8..32`,
/// `fixarray`/`array 16/32`, `fixmap`/`map 16/32` header.
///
/// msgpack lengths are 32-bit: strings, binaries, arrays and objects longer than
/// `u32::MAX` cannot be represented (their length would be truncated).
///
/// ```
/// use sockio_protocol::socket::{encode_msgpack, Packet};
///
/// assert_eq!(
///     &encode_msgpack(&Packet::disconnect("/"))[..],
///     b"\x82\xa4type\x01\xa3nsp\xa1/"
/// );
/// ```
pub fn encode_msgpack(packet: &Packet) -> Bytes {
    let (kind, data_size) = match &packet.data {
        PacketData::Connect(None) => (PacketType::Connect, None),
        PacketData::Connect(Some(v)) => (PacketType::Connect, Some(value_size(v))),
        PacketData::Disconnect => (PacketType::Disconnect, None),
        PacketData::Event { event, args } => (
            PacketType::Event,
            Some(
                container_header_size(args.len() + 1)
                    + str_size(event.len())
                    + args.iter().map(value_size).sum::<usize>(),
            ),
        ),
        PacketData::Ack { args } => (
            PacketType::Ack,
            Some(container_header_size(args.len()) + args.iter().map(value_size).sum::<usize>()),
        ),
        PacketData::ConnectError(v) => (PacketType::ConnectError, Some(value_size(v))),
    };
    let entries = 2 + usize::from(packet.id.is_some()) + usize::from(data_size.is_some());
    // Map header, "type" + int, "nsp" + string, "id" + uint (<= 12), "data" + payload.
    let size = 1 + 6 + 4 + str_size(packet.nsp.len()) + 12 + 5 + data_size.unwrap_or(0);

    let mut out = Vec::with_capacity(size);
    write_map_header(&mut out, entries);
    write_str(&mut out, "type");
    write_uint(&mut out, u64::from(kind.as_u8()));
    write_str(&mut out, "nsp");
    write_str(&mut out, &packet.nsp);
    if let Some(id) = packet.id {
        write_str(&mut out, "id");
        write_uint(&mut out, id);
    }
    match &packet.data {
        PacketData::Connect(None) | PacketData::Disconnect => {}
        PacketData::Connect(Some(v)) | PacketData::ConnectError(v) => {
            write_str(&mut out, "data");
            write_value(&mut out, v);
        }
        PacketData::Event { event, args } => {
            write_str(&mut out, "data");
            write_array_header(&mut out, args.len() + 1);
            write_str(&mut out, event);
            args.iter().for_each(|a| write_value(&mut out, a));
        }
        PacketData::Ack { args } => {
            write_str(&mut out, "data");
            write_array_header(&mut out, args.len());
            args.iter().for_each(|a| write_value(&mut out, a));
        }
    }
    Bytes::from(out)
}

fn str_size(len: usize) -> usize {
    len + match len {
        0..=0x1f => 1,
        0x20..=0xff => 2,
        0x100..=0xffff => 3,
        _ => 5,
    }
}

fn bin_size(len: usize) -> usize {
    len + match len {
        0..=0xff => 2,
        0x100..=0xffff => 3,
        _ => 5,
    }
}

fn container_header_size(len: usize) -> usize {
    match len {
        0..=0x0f => 1,
        0x10..=0xffff => 3,
        _ => 5,
    }
}

/// An upper bound of the encoded size of `value` (numbers count 9 bytes).
fn value_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 1,
        Value::Number(_) => 9,
        Value::String(s) => str_size(s.len()),
        Value::Binary(b) => bin_size(b.len()),
        Value::Array(items) => {
            container_header_size(items.len()) + items.iter().map(value_size).sum::<usize>()
        }
        Value::Object(entries) => {
            container_header_size(entries.len())
                + entries
                    .iter()
                    .map(|(k, v)| str_size(k.len()) + value_size(v))
                    .sum::<usize>()
        }
    }
}

// The bytes themselves are rmp's writers: notepack.io's choices are msgpack's smallest
// encodings, which is what `write_uint`, `write_sint`, `write_str`, `write_bin` and the
// length headers pick. Writing into a `Vec` cannot fail, so their results are dropped.

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => drop(rmp::encode::write_nil(out)),
        Value::Bool(b) => drop(rmp::encode::write_bool(out, *b)),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_str(out, s),
        Value::Binary(b) => drop(rmp::encode::write_bin(out, b)),
        Value::Array(items) => {
            write_array_header(out, items.len());
            items.iter().for_each(|v| write_value(out, v));
        }
        Value::Object(entries) => {
            drop(rmp::encode::write_map_len(out, entries.len() as u32));
            for (key, v) in entries {
                write_str(out, key);
                write_value(out, v);
            }
        }
    }
}

fn write_number(out: &mut Vec<u8>, n: &Number) {
    if let Some(u) = n.as_u64() {
        write_uint(out, u);
    } else if let Some(i) = n.as_i64() {
        drop(rmp::encode::write_sint(out, i));
    } else {
        let f = n.as_f64().unwrap_or(0.0);
        // JavaScript has one number type: an integral float is an integer (-0 too).
        if f.fract() == 0.0 {
            if (0.0..18_446_744_073_709_551_616.0).contains(&f) {
                return write_uint(out, f as u64);
            }
            if (-9_223_372_036_854_775_808.0..0.0).contains(&f) {
                return drop(rmp::encode::write_sint(out, f as i64));
            }
        }
        drop(rmp::encode::write_f64(out, f));
    }
}

fn write_uint(out: &mut Vec<u8>, u: u64) {
    drop(rmp::encode::write_uint(out, u));
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    drop(rmp::encode::write_str(out, s));
}

fn write_array_header(out: &mut Vec<u8>, len: usize) {
    drop(rmp::encode::write_array_len(out, len as u32));
}

fn write_map_header(out: &mut Vec<u8>, len: usize) {
    drop(rmp::encode::write_map_len(out, len as u32));
}

/// Encodes one value as notepack.io writes it (`notepack.io` 2.2 and 3.x agree for every
/// [`Value`]): the same choices as [`encode_msgpack`] makes for a packet's payload —
/// smallest integer, string, binary, array and map encodings, float64 for other numbers,
/// object keys in their order.
///
/// This is what travels between cluster nodes (the Redis adapters and emitter publish
/// notepack-encoded arrays and maps that are not Socket.IO packets).
///
/// ```
/// use sockio_protocol::socket::{encode_msgpack_value, Value};
///
/// let v = Value::from_json(r#"{"rooms":[],"flags":{}}"#).unwrap();
/// assert_eq!(&encode_msgpack_value(&v)[..], b"\x82\xa5rooms\x90\xa5flags\x80");
/// ```
pub fn encode_msgpack_value(value: &Value) -> Bytes {
    let mut out = Vec::with_capacity(value_size(value));
    write_value(&mut out, value);
    Bytes::from(out)
}

/// Decodes one msgpack value (the whole input, no trailing bytes), as
/// [`decode_msgpack`] reads a packet's payload: `bin` → [`Value::Binary`], timestamps and
/// notepack.io 2.2 dates → milliseconds, `undefined` → left out of maps, `null` in
/// arrays (and `null` for the whole value). Nesting is limited to
/// [`DEFAULT_MAX_DEPTH`] + 2 levels. Never panics, whatever the input.
///
/// ```
/// use sockio_protocol::socket::{decode_msgpack_value, MsgpackError, Value};
///
/// assert_eq!(decode_msgpack_value(b"\x92\x01\xa1x"), Ok(Value::from_json(r#"[1,"x"]"#).unwrap()));
/// assert_eq!(decode_msgpack_value(b"\x92\x01"), Err(MsgpackError::UnexpectedEnd));
/// ```
pub fn decode_msgpack_value(data: &[u8]) -> Result<Value, MsgpackError> {
    let mut reader = Reader {
        input: data,
        pos: 0,
        depth: 0,
        max_depth: DEFAULT_MAX_DEPTH + 2,
    };
    let value = reader.value()?;
    if reader.pos != data.len() {
        return Err(MsgpackError::TrailingBytes(data.len() - reader.pos));
    }
    Ok(value.unwrap_or(Value::Null))
}

// --------------------------------------------------------------------------------------
// Decoding
// --------------------------------------------------------------------------------------

/// Decodes one msgpack-encoded packet, as socket.io-msgpack-parser 3.0.2 reads it, with
/// the payload checks of the default [`Decoder`](super::Decoder).
///
/// The input must be exactly one msgpack map (no trailing bytes) whose keys are strings,
/// in any order; keys other than `type`, `nsp`, `data` and `id` are ignored
/// (socket.io-client sends an `options` entry), and a repeated key keeps its last value.
///
/// * `type`: an integer `0..=4` (types 5 and 6 do not exist with this parser);
/// * `nsp`: a string;
/// * `data`, by type — CONNECT: absent or an object; DISCONNECT: absent; EVENT: a
///   non-empty array whose first element is a string that is not a
///   [reserved name](super::is_reserved_event), or a number (stored as its decimal
///   string, as the default decoder does); ACK: an array; CONNECT_ERROR: a string or an
///   object;
/// * `id`: absent or a non-negative integer.
///
/// Values: `nil` → [`Value::Null`], `bin` → [`Value::Binary`], integers exactly (64-bit,
/// where JavaScript would round beyond 2^53), floats like [`Value::from_f64`] (an
/// integral float is an integer, NaN and infinities become `null`), strings with invalid
/// UTF-8 sequences replaced by U+FFFD (as Node.js decodes them). Map keys must be strings;
/// a repeated key keeps its first position and its last value, like a JavaScript object.
/// Nesting is limited to [`DEFAULT_MAX_DEPTH`] levels below the packet map, the limit of
/// the default decoder's JSON payloads.
///
/// Extension types, besides `bin`:
///
/// * type −1, the msgpack timestamp (32, 64 and 96-bit forms; what notepack.io 3 writes
///   for a `Date`): decoded to the **number of milliseconds since the Unix epoch**,
///   truncated toward zero like `new Date(ms)` does, or `null` beyond the ±8.64e15 ms a
///   JavaScript `Date` can hold (an invalid date, which `JSON.stringify` writes as
///   `null`);
/// * what notepack.io 2.2 — the version socket.io-msgpack-parser 3.0.2 depends on —
///   writes: a `Date` as `fixext 8` type 0 (signed 64-bit milliseconds), decoded to a
///   number of milliseconds as above; `undefined` as `fixext 1` type 0, decoded as
///   JavaScript serializes `undefined` to JSON: `null` in an array, the entry left out in
///   a map (so `{"sid":..,"pid":undefined}` from a socket.io server gives `{"sid":..}`,
///   and an undefined `data` or `id` counts as absent); an `ArrayBuffer` or typed array as
///   `ext 8/16/32` type 0, decoded to [`Value::Binary`];
/// * every other extension is refused ([`MsgpackError::UnsupportedExtension`]).
///
/// Never panics, whatever the input.
///
/// ```
/// use sockio_protocol::socket::{decode_msgpack, DecodeError, MsgpackError, Packet, Value};
///
/// let bytes = b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa5hello\x01";
/// assert_eq!(
///     decode_msgpack(bytes),
///     Ok(Packet::event("/", "hello", vec![Value::from(1)]))
/// );
/// assert_eq!(
///     decode_msgpack(&bytes[..10]),
///     Err(DecodeError::InvalidMsgpack(MsgpackError::UnexpectedEnd))
/// );
/// ```
pub fn decode_msgpack(data: &[u8]) -> Result<Packet, DecodeError> {
    let mut reader = Reader {
        input: data,
        pos: 0,
        depth: 0,
        // The packet map is one level more than the payload.
        max_depth: DEFAULT_MAX_DEPTH + 1,
    };
    let top = reader.value()?;
    if reader.pos != data.len() {
        return Err(MsgpackError::TrailingBytes(data.len() - reader.pos).into());
    }
    let entries = match top {
        Some(Value::Object(entries)) => entries,
        Some(other) => return Err(MsgpackError::NotAMap(other.type_name()).into()),
        None => return Err(MsgpackError::NotAMap("undefined").into()),
    };

    let (mut kind, mut nsp, mut id, mut payload) = (None, None, None, None);
    for (key, value) in entries {
        match key.as_str() {
            "type" => kind = Some(value),
            "nsp" => nsp = Some(value),
            "id" => id = Some(value),
            "data" => payload = Some(value),
            _ => {}
        }
    }

    // Checked in socket.io-msgpack-parser's order: type, nsp, data, id.
    let kind = kind
        .as_ref()
        .and_then(Value::as_u64)
        .filter(|&t| t <= 4)
        .and_then(|t| PacketType::from_u8(t as u8))
        .ok_or(MsgpackError::InvalidPacketType)?;
    let nsp = match nsp {
        Some(Value::String(nsp)) => nsp,
        _ => return Err(MsgpackError::InvalidNamespace.into()),
    };
    let data = packet_data(kind, payload)?;
    let id = match id {
        None => None,
        Some(id) => Some(id.as_u64().ok_or(MsgpackError::InvalidAckId)?),
    };
    Ok(Packet { nsp, id, data })
}

/// Validates the payload for the packet type, as the default decoder does (except that
/// an ACK needs its array, as socket.io-msgpack-parser demands).
fn packet_data(kind: PacketType, payload: Option<Value>) -> Result<PacketData, DecodeError> {
    let data = match kind {
        PacketType::Connect => match payload {
            None => PacketData::Connect(None),
            Some(object @ Value::Object(_)) => PacketData::Connect(Some(object)),
            Some(other) => return Err(DecodeError::InvalidConnectPayload(other.type_name())),
        },
        PacketType::Disconnect => match payload {
            None => PacketData::Disconnect,
            Some(_) => return Err(DecodeError::UnexpectedPayload(kind)),
        },
        PacketType::Event | PacketType::BinaryEvent => {
            super::payload::event_payload(kind, payload)?
        }
        PacketType::Ack | PacketType::BinaryAck => match payload {
            None => return Err(DecodeError::MissingPayload(kind)),
            Some(Value::Array(args)) => PacketData::Ack { args },
            Some(other) => {
                return Err(DecodeError::NotAnArray {
                    packet_type: kind,
                    found: other.type_name(),
                })
            }
        },
        PacketType::ConnectError => match payload {
            None => return Err(DecodeError::MissingPayload(kind)),
            Some(v @ (Value::String(_) | Value::Object(_))) => PacketData::ConnectError(v),
            Some(other) => return Err(DecodeError::InvalidConnectErrorPayload(other.type_name())),
        },
    };
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::Decoder;

    type E = DecodeError;
    type M = MsgpackError;

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    fn to_hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn bin(b: &[u8]) -> Value {
        Value::Binary(Bytes::copy_from_slice(b))
    }

    fn json(text: &str) -> Value {
        Value::from_json(text).unwrap()
    }

    /// The msgpack encoding of one value.
    fn enc(value: impl Into<Value>) -> Vec<u8> {
        let mut out = Vec::new();
        write_value(&mut out, &value.into());
        out
    }

    /// A map of raw entries, in the given order.
    fn raw_map(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        write_map_header(&mut out, entries.len());
        for (key, raw) in entries {
            write_str(&mut out, key);
            out.extend_from_slice(raw);
        }
        out
    }

    fn err(e: MsgpackError) -> Result<Packet, DecodeError> {
        Err(DecodeError::InvalidMsgpack(e))
    }

    /// The captured encodings of the spec (§12).
    fn captures() -> Vec<(Packet, &'static str)> {
        vec![
            (
                Packet::connect("/", Some(json(r#"{"token":"x"}"#))),
                "83 a4 74797065 00 a3 6e7370 a1 2f a4 64617461 81 a5 746f6b656e a1 78",
            ),
            (
                Packet::event("/", "hello", vec![Value::from(1)]),
                "83a47479706502a36e7370a12fa46461746192a568656c6c6f01",
            ),
            (
                Packet::event("/chat", "bin", vec![bin(&[1, 2])]).with_id(3),
                "84a47479706502a36e7370a52f63686174a2696403a46461746192a362696ec4020102",
            ),
            (
                Packet::ack("/", 3, vec![Value::from("ok")]),
                "84a47479706503a36e7370a12fa2696403a46461746191a26f6b",
            ),
            (Packet::disconnect("/"), "82a47479706501a36e7370a12f"),
            (
                Packet::connect_error_message("/", "nope", None),
                "83a47479706504a36e7370a12fa46461746181a76d657373616765a46e6f7065",
            ),
        ]
    }

    /// Values notepack.io 3.0.1 wrote, as @socket.io/redis-adapter 8.3 and
    /// @socket.io/redis-emitter 5.1 published them.
    #[test]
    fn values_byte_exact_with_notepack() {
        let cases = [
            (
                r#"["SZ640M",{"type":2,"data":["hello",1,"two",{"three":3}],"nsp":"/"},{"rooms":[],"except":[],"flags":{}}]"#,
                "93a6535a3634304d83a47479706502a46461746194a568656c6c6f01a374776f81a5746872656503a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380",
            ),
            (
                r#"["emitter",{"type":2,"data":["from-emitter",{"x":1}],"nsp":"/"},{"rooms":[],"flags":{},"except":[]}]"#,
                "93a7656d697474657283a47479706502a46461746192ac66726f6d2d656d697474657281a17801a36e7370a12f83a5726f6f6d7390a5666c61677380a665786365707490",
            ),
            (
                r#"{"uid":"SZ640M","requestId":"u6cnVn","type":7,"packet":{"type":2,"data":["ackme","q"],"nsp":"/"},"opts":{"rooms":[],"except":[],"flags":{"timeout":1000}}}"#,
                "85a3756964a6535a3634304da9726571756573744964a67536636e566ea47479706507a67061636b657483a47479706502a46461746192a561636b6d65a171a36e7370a12fa46f70747383a5726f6f6d7390a665786365707490a5666c61677381a774696d656f7574cd03e8",
            ),
            (
                r#"{"type":9,"requestId":"u6cnVn","packet":"client ack B"}"#,
                "83a47479706509a9726571756573744964a67536636e566ea67061636b6574ac636c69656e742061636b2042",
            ),
        ];
        for (text, captured) in cases {
            let value = json(text);
            assert_eq!(to_hex(&encode_msgpack_value(&value)), captured, "{text}");
            assert_eq!(decode_msgpack_value(&hex(captured)), Ok(value));
        }
        // Binary stays binary.
        let captured = "93a6535a3634304d83a47479706502a46461746192a362696ec403010203a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380";
        let mut value = json(
            r#"["SZ640M",{"type":2,"data":["bin",null],"nsp":"/"},{"rooms":[],"except":[],"flags":{}}]"#,
        );
        value.as_array_mut().unwrap()[1]
            .get_mut("data")
            .unwrap()
            .as_array_mut()
            .unwrap()[1] = bin(&[1, 2, 3]);
        assert_eq!(to_hex(&encode_msgpack_value(&value)), captured);
        assert_eq!(decode_msgpack_value(&hex(captured)), Ok(value));
    }

    #[test]
    fn value_decoding_refuses_garbage() {
        assert_eq!(decode_msgpack_value(b""), Err(MsgpackError::UnexpectedEnd));
        assert_eq!(
            decode_msgpack_value(b"\x01\x02"),
            Err(MsgpackError::TrailingBytes(1))
        );
        assert!(decode_msgpack_value(b"\xc1").is_err());
        assert_eq!(decode_msgpack_value(b"\xd4\x00\x00"), Ok(Value::Null));
        let deep = [&[0x91u8; 200][..], &[0x01]].concat();
        assert!(decode_msgpack_value(&deep).is_err());
    }

    #[test]
    fn captured_encodings_byte_exact() {
        for (packet, expected) in captures() {
            let expected = hex(expected);
            assert_eq!(
                to_hex(&encode_msgpack(&packet)),
                to_hex(&expected),
                "{packet:?}"
            );
            assert_eq!(decode_msgpack(&expected), Ok(packet));
        }
    }

    /// Also cross-checked against socket.io-msgpack-parser 3.0.2 (notepack.io 2.2.0).
    #[test]
    fn encodes_every_type() {
        let cases = [
            // CONNECT without payload: no data key.
            (
                Packet::connect("/admin", None),
                "82a474797065 00 a36e7370 a6 2f61646d696e",
            ),
            // The server's CONNECT reply.
            (
                Packet::connect("/", Some(json(r#"{"sid":"ab"}"#))),
                "83a47479706500a36e7370a12fa464617461 81 a3736964 a26162",
            ),
            // CONNECT_ERROR with a string.
            (
                Packet::connect_error("/x", Value::from("no")),
                "83a47479706504a36e7370a22f78a464617461a26e6f",
            ),
            // ACK with binary stays type 3; id 0 is written.
            (
                Packet::ack("/", 0, vec![bin(&[0xff])]),
                "84a47479706503a36e7370a12fa2696400a46461746191c401ff",
            ),
            // An EVENT without arguments, large id.
            (
                Packet::event("/", "e", vec![]).with_id(u64::MAX),
                "84a47479706502a36e7370a12fa26964cfffffffffffffffffa46461746191a165",
            ),
            // An id on a DISCONNECT is written too (before the absent data).
            (
                Packet::disconnect("/").with_id(300),
                "83a47479706501a36e7370a12fa26964cd012c",
            ),
        ];
        for (packet, expected) in cases {
            assert_eq!(to_hex(&encode_msgpack(&packet)), to_hex(&hex(expected)));
            assert_eq!(decode_msgpack(&hex(expected)), Ok(packet));
        }
    }

    /// The same bytes as notepack.io 2.2.0 writes (cross-checked with Node.js).
    #[test]
    fn integers_take_the_smallest_encoding() {
        let cases: [(i128, &str); 24] = [
            (0, "00"),
            (1, "01"),
            (127, "7f"),
            (128, "cc80"),
            (255, "ccff"),
            (256, "cd0100"),
            (65535, "cdffff"),
            (65536, "ce00010000"),
            (4_294_967_295, "ceffffffff"),
            (4_294_967_296, "cf0000000100000000"),
            (9_007_199_254_740_993, "cf0020000000000001"),
            (u64::MAX as i128, "cfffffffffffffffff"),
            (-1, "ff"),
            (-32, "e0"),
            (-33, "d0df"),
            (-128, "d080"),
            (-129, "d1ff7f"),
            (-32768, "d18000"),
            (-32769, "d2ffff7fff"),
            (-2_147_483_648, "d280000000"),
            (-2_147_483_649, "d3ffffffff7fffffff"),
            (i64::MIN as i128, "d38000000000000000"),
            (i64::MAX as i128, "cf7fffffffffffffff"),
            (-9_007_199_254_740_993, "d3ffdfffffffffffff"),
        ];
        for (n, expected) in cases {
            let value = if n >= 0 {
                Value::from(n as u64)
            } else {
                Value::from(n as i64)
            };
            assert_eq!(to_hex(&enc(value.clone())), expected, "{n}");
            // Also as a positive i64 (stored differently by serde_json? same encoding).
            if (0..=i64::MAX as i128).contains(&n) {
                assert_eq!(to_hex(&enc(Value::from(n as i64))), expected, "{n}");
            }
            let packet = Packet::ack("/", 1, vec![value]);
            assert_eq!(decode_msgpack(&encode_msgpack(&packet)), Ok(packet));
        }
    }

    #[test]
    fn floats_are_float64_unless_integral() {
        assert_eq!(to_hex(&enc(0.5)), "cb3fe0000000000000");
        assert_eq!(to_hex(&enc(-1.5)), "cbbff8000000000000");
        assert_eq!(to_hex(&enc(1e300)), "cb7e37e43c8800759c");
        assert_eq!(to_hex(&enc(f64::MIN_POSITIVE)), "cb0010000000000000");
        // Integral floats are integers, whatever their representation in the Number.
        let float = |f: f64| Value::Number(Number::from_f64(f).unwrap());
        assert_eq!(to_hex(&enc(float(2.0))), "02");
        assert_eq!(to_hex(&enc(float(-0.0))), "00");
        assert_eq!(to_hex(&enc(float(-200.0))), "d1ff38");
        assert_eq!(to_hex(&enc(float(4_294_967_296.0))), "cf0000000100000000");
        // Beyond 64-bit integers: float64 (notepack.io 2.2 writes a wrong uint 64:
        // `cf 0000000000000000` for 1e300, `cf 6bc75e2d63100000` for 1e20).
        assert_eq!(to_hex(&enc(float(1e20))), "cb4415af1d78b58c40");
        assert_eq!(to_hex(&enc(float(-1e19))), "cbc3e158e460913d00");
        // NaN and infinities can't be in a Value: they are null.
        assert_eq!(to_hex(&enc(f64::NAN)), "c0");
        for f in [0.1, -2.5e-300, 1e20, -1e19, 123.456, f64::MAX] {
            let packet = Packet::ack("/", 1, vec![Value::from(f)]);
            assert_eq!(decode_msgpack(&encode_msgpack(&packet)), Ok(packet), "{f}");
        }
    }

    #[test]
    fn lengths_take_the_smallest_header() {
        let header = |bytes: Vec<u8>, payload: usize| to_hex(&bytes[..bytes.len() - payload]);
        for (len, expected) in [
            (0, "a0"),
            (31, "bf"),
            (32, "d920"),
            (255, "d9ff"),
            (256, "da0100"),
            (65535, "daffff"),
            (65536, "db00010000"),
        ] {
            assert_eq!(header(enc("x".repeat(len)), len), expected, "str {len}");
        }
        // Multi-byte characters count in bytes.
        assert_eq!(to_hex(&enc("é😀")), "a6c3a9f09f9880");
        assert_eq!(header(enc("é".repeat(16)), 32), "d920");
        for (len, expected) in [
            (0, "c400"),
            (255, "c4ff"),
            (256, "c50100"),
            (65535, "c5ffff"),
            (65536, "c600010000"),
        ] {
            assert_eq!(header(enc(vec![7u8; len]), len), expected, "bin {len}");
        }
        for (len, expected) in [
            (0, "90"),
            (15, "9f"),
            (16, "dc0010"),
            (65535, "dcffff"),
            (65536, "dd00010000"),
        ] {
            let array = Value::Array(vec![Value::Null; len]);
            assert_eq!(header(enc(array), len), expected, "array {len}");
        }
        for (len, expected) in [(0, "80"), (15, "8f"), (16, "de0010"), (65536, "df00010000")] {
            let object =
                Value::Object((0..len).map(|i| (format!("{i:05}"), Value::Null)).collect());
            assert_eq!(header(enc(object), len * 7), expected, "map {len}");
        }
        // Object keys keep their order; other scalars.
        assert_eq!(
            to_hex(&enc(Value::object([
                ("b", Value::Bool(true)),
                ("a", Value::Bool(false))
            ]))),
            "82a162c3a161c2"
        );
        assert_eq!(to_hex(&enc(Value::Null)), "c0");
    }

    #[test]
    fn large_containers_round_trip() {
        let big_string = "ü".repeat(40_000);
        let packet = Packet::event(
            "/big",
            "e".repeat(300),
            vec![
                Value::from(big_string),
                bin(&vec![9u8; 70_000]),
                Value::Array((0..70_000).map(Value::from).collect()),
                Value::Object(
                    (0..300)
                        .map(|i| (format!("k{i}"), Value::from(i)))
                        .collect(),
                ),
            ],
        )
        .with_id(1 << 40);
        let bytes = encode_msgpack(&packet);
        assert_eq!(decode_msgpack(&bytes), Ok(packet));
    }

    #[test]
    fn round_trips_every_packet_type() {
        let nested = json(
            r#"{"a":[1,-1,-129,70000,-70000,4294967296,-4294967297,1.5,-0.25,1e-7,
                 true,false,null,"é日😀\u0000\n",{"deep":[[[]]],"":{}}],
                 "big":18446744073709551615,"small":-9223372036854775808}"#,
        );
        let packets = vec![
            Packet::connect("/", None),
            Packet::connect("/admin", Some(json(r#"{"token":"t","n":[1,2.5,null]}"#))),
            Packet::connect("/", Some(json(r#"{"sid":"abc","pid":"def"}"#))),
            Packet::disconnect("/"),
            Packet::disconnect("/dyn-1"),
            Packet::event("/", "e", vec![]),
            Packet::event("/n", "ünïcödé 😀", vec![nested.clone()]).with_id(42),
            Packet::event(
                "/n",
                "bin",
                vec![
                    bin(b""),
                    bin(&[0, 1, 255]),
                    Value::object([("k", Value::Array(vec![bin(b"x"), nested.clone()]))]),
                ],
            )
            .with_id(0),
            Packet::event(
                "/",
                "disconnect ",
                vec![Value::from("reserved as argument: connect")],
            ),
            Packet::ack("/", 3, vec![]),
            Packet::ack(
                "/n",
                u64::MAX,
                vec![Value::object([("b", bin(b"\x00"))]), nested],
            ),
            Packet::connect_error_message("/", "m", Some(json(r#"{"code":4001}"#))),
            Packet::connect_error("/n", Value::from("plain")),
            Packet::connect_error("/", Value::Object(vec![])),
            Packet::new("", PacketData::Disconnect),
        ];
        for packet in packets {
            let bytes = encode_msgpack(&packet);
            assert_eq!(decode_msgpack(&bytes), Ok(packet), "{}", to_hex(&bytes));
        }
    }

    #[test]
    fn decodes_keys_in_any_order_and_ignores_unknown_ones() {
        // What socket.io-client 4.8 emits: type, data, options, id, nsp.
        let client_emit = raw_map(&[
            ("type", enc(2)),
            ("data", enc(json(r#"["hello",{"a":1}]"#))),
            ("options", enc(json(r#"{"compress":true}"#))),
            ("id", enc(7)),
            ("nsp", enc("/chat")),
        ]);
        assert_eq!(
            decode_msgpack(&client_emit),
            Ok(Packet::event("/chat", "hello", vec![json(r#"{"a":1}"#)]).with_id(7))
        );
        let reversed = raw_map(&[
            ("data", enc(json(r#"["x"]"#))),
            ("nsp", enc("/")),
            ("type", enc(3)),
        ]);
        assert_eq!(
            decode_msgpack(&reversed),
            Ok(Packet::new(
                "/",
                PacketData::Ack {
                    args: vec![Value::from("x")]
                }
            ))
        );
        // A repeated key keeps its last value.
        let repeated = raw_map(&[
            ("type", enc(9)),
            ("nsp", enc("/a")),
            ("type", enc(1)),
            ("nsp", enc("/b")),
        ]);
        assert_eq!(decode_msgpack(&repeated), Ok(Packet::disconnect("/b")));
    }

    #[test]
    fn decodes_non_minimal_encodings() {
        let cases = [
            ("cc05", json("5")),
            ("cd0005", json("5")),
            ("ce00000005", json("5")),
            ("cf0000000000000005", json("5")),
            ("d005", json("5")),
            ("d1fffb", json("-5")),
            ("d2fffffffb", json("-5")),
            ("d3fffffffffffffffb", json("-5")),
            ("ca3fc00000", json("1.5")),
            ("ca40000000", json("2")),
            ("cb4000000000000000", json("2")),
            ("cb8000000000000000", json("0")),
            // NaN and infinity: null.
            ("cb7ff8000000000000", Value::Null),
            ("ca7f800000", Value::Null),
            // float32 0.1 is widened exactly, as JavaScript's getFloat32 does.
            ("ca3dcccccd", Value::from(f64::from(0.1f32))),
            ("d90161", json(r#""a""#)),
            ("da000161", json(r#""a""#)),
            ("db0000000161", json(r#""a""#)),
            ("c5000101", bin(&[1])),
            ("c60000000101", bin(&[1])),
            ("dc000101", json("[1]")),
            ("dd0000000101", json("[1]")),
            ("de0001a16101", json(r#"{"a":1}"#)),
            ("df00000001a16101", json(r#"{"a":1}"#)),
            ("df00000001d90161c0", json(r#"{"a":null}"#)),
            // Invalid UTF-8 is replaced, as Node.js does.
            ("a3 61 ff 62", Value::from("a\u{fffd}b")),
        ];
        for (raw, expected) in cases {
            let bytes = raw_map(&[
                ("type", enc(3)),
                ("nsp", enc("/")),
                ("data", [vec![0x91], hex(raw)].concat()),
            ]);
            assert_eq!(
                decode_msgpack(&bytes),
                Ok(Packet::new(
                    "/",
                    PacketData::Ack {
                        args: vec![expected]
                    }
                )),
                "{raw}"
            );
        }
        // Integral floats count as integers for type and id; a numeric event name.
        let bytes = raw_map(&[
            ("type", hex("cb4000000000000000")),
            ("nsp", enc("/")),
            ("id", hex("ca40400000")),
            ("data", enc(json("[1.5,2]"))),
        ]);
        assert_eq!(
            decode_msgpack(&bytes),
            Ok(Packet::event("/", "1.5", vec![Value::from(2)]).with_id(3))
        );
        let bytes = raw_map(&[
            ("type", enc(2)),
            ("nsp", enc("/")),
            ("data", enc(json("[-12]"))),
        ]);
        assert_eq!(
            decode_msgpack(&bytes),
            Ok(Packet::event("/", "-12", vec![]))
        );
    }

    #[test]
    fn repeated_keys_in_payload_objects() {
        let mut object = vec![0x83];
        for (k, v) in [("a", 1), ("b", 2), ("a", 3)] {
            write_str(&mut object, k);
            write_uint(&mut object, v);
        }
        let bytes = raw_map(&[("type", enc(0)), ("nsp", enc("/")), ("data", object)]);
        assert_eq!(
            decode_msgpack(&bytes),
            Ok(Packet::connect("/", Some(json(r#"{"a":3,"b":2}"#))))
        );
        // Beyond the linear-scan limit too.
        let mut object = hex("de0028");
        for i in 0..40u64 {
            write_str(&mut object, &format!("k{}", i % 20));
            write_uint(&mut object, i);
        }
        let bytes = raw_map(&[("type", enc(0)), ("nsp", enc("/")), ("data", object)]);
        let expected = Value::Object(
            (0..20)
                .map(|i| (format!("k{i}"), Value::from(i + 20)))
                .collect(),
        );
        assert_eq!(
            decode_msgpack(&bytes),
            Ok(Packet::connect("/", Some(expected)))
        );
    }

    #[test]
    fn notepack_2_2_extensions() {
        let undefined = hex("d40000");
        // A socket.io server's CONNECT reply without connection state recovery:
        // {type: 0, data: {sid, pid: undefined}, nsp}.
        let mut data = vec![0x82];
        write_str(&mut data, "sid");
        write_str(&mut data, "abc");
        write_str(&mut data, "pid");
        data.extend_from_slice(&undefined);
        let reply = raw_map(&[("type", enc(0)), ("data", data), ("nsp", enc("/"))]);
        assert_eq!(
            decode_msgpack(&reply),
            Ok(Packet::connect("/", Some(json(r#"{"sid":"abc"}"#))))
        );
        // undefined in an array is null; an undefined data or id is absent; a key set to
        // undefined after a value is gone.
        let mut data = vec![0x93];
        write_str(&mut data, "e");
        data.extend_from_slice(&undefined);
        data.extend_from_slice(&hex("81a161d4007f"));
        let bytes = raw_map(&[
            ("type", enc(2)),
            ("nsp", enc("/")),
            ("id", undefined.clone()),
            ("data", data),
        ]);
        assert_eq!(
            decode_msgpack(&bytes),
            Ok(Packet::event(
                "/",
                "e",
                vec![Value::Null, Value::Object(vec![])]
            ))
        );
        let bytes = raw_map(&[
            ("type", enc(0)),
            ("nsp", enc("/")),
            ("data", undefined.clone()),
        ]);
        assert_eq!(decode_msgpack(&bytes), Ok(Packet::connect("/", None)));
        let bytes = raw_map(&[
            ("type", enc(1)),
            ("nsp", enc("/")),
            ("data", undefined.clone()),
        ]);
        assert_eq!(decode_msgpack(&bytes), Ok(Packet::disconnect("/")));
        let mut object = vec![0x82];
        write_str(&mut object, "a");
        write_uint(&mut object, 1);
        write_str(&mut object, "a");
        object.extend_from_slice(&undefined);
        let bytes = raw_map(&[("type", enc(0)), ("nsp", enc("/")), ("data", object)]);
        assert_eq!(
            decode_msgpack(&bytes),
            Ok(Packet::connect("/", Some(Value::Object(vec![]))))
        );
        // An undefined type or namespace is missing.
        let bytes = raw_map(&[("type", undefined.clone()), ("nsp", enc("/"))]);
        assert_eq!(decode_msgpack(&bytes), err(M::InvalidPacketType));
        let bytes = raw_map(&[("type", enc(1)), ("nsp", undefined.clone())]);
        assert_eq!(decode_msgpack(&bytes), err(M::InvalidNamespace));

        // ArrayBuffer / typed arrays: ext 8/16/32 type 0 -> binary.
        let ack = |raw: &str| {
            raw_map(&[
                ("type", enc(3)),
                ("nsp", enc("/")),
                ("data", [vec![0x91], hex(raw)].concat()),
            ])
        };
        let one = |v: Value| Ok(Packet::new("/", PacketData::Ack { args: vec![v] }));
        assert_eq!(decode_msgpack(&ack("c7030001 0203")), one(bin(&[1, 2, 3])));
        assert_eq!(decode_msgpack(&ack("c7 00 00")), one(bin(&[])));
        assert_eq!(decode_msgpack(&ack("c8000100ff")), one(bin(&[0xff])));
        assert_eq!(decode_msgpack(&ack("c9000000020061 62")), one(bin(b"ab")));
        // Date: fixext 8 type 0, signed milliseconds.
        assert_eq!(
            decode_msgpack(&ack("d7 00 00 00 00 df b7 62 9c 00")),
            one(Value::from(960_854_400_000u64)) // 2000-06-13T00:00:00Z
        );
        assert_eq!(
            decode_msgpack(&ack("d700ffffffffffffffff")),
            one(Value::from(-1))
        );
        assert_eq!(
            decode_msgpack(&ack("d700 001eb208c2dc0000")),
            one(Value::from(8_640_000_000_000_000u64))
        );
        assert_eq!(
            decode_msgpack(&ack("d700 001eb208c2dc0001")),
            one(Value::Null)
        );
    }

    #[test]
    fn timestamps_are_milliseconds() {
        let ack = |raw: &str| {
            raw_map(&[
                ("type", enc(3)),
                ("nsp", enc("/")),
                ("data", [vec![0x91], hex(raw)].concat()),
            ])
        };
        let one = |v: Value| Ok(Packet::new("/", PacketData::Ack { args: vec![v] }));
        // timestamp 32 (notepack.io 3 writes `new Date("2000-06-13T00:00:00.000Z")` so).
        assert_eq!(
            decode_msgpack(&ack("d6 ff 39 45 79 80")),
            one(Value::from(960_854_400_000u64))
        );
        assert_eq!(
            decode_msgpack(&ack("d6ff ffffffff")),
            one(Value::from(4_294_967_295_000u64))
        );
        // timestamp 64: nanoseconds << 34 | seconds; 1.5 s, and sub-millisecond truncated.
        let ts64 = |s: u64, ns: u64| format!("d7ff{:016x}", (ns << 34) | s);
        assert_eq!(
            decode_msgpack(&ack(&ts64(1, 500_000_000))),
            one(Value::from(1500))
        );
        assert_eq!(
            decode_msgpack(&ack(&ts64(2, 999_999))),
            one(Value::from(2000))
        );
        assert_eq!(
            decode_msgpack(&ack(&ts64(0x3_ffff_ffff, 999_999_999))),
            one(Value::from(17_179_869_183_999u64))
        );
        // timestamp 96: nanoseconds, signed seconds; negative dates truncate toward 0.
        let ts96 = |s: i64, ns: u32| format!("c70cff{ns:08x}{s:016x}");
        assert_eq!(decode_msgpack(&ack(&ts96(-1, 0))), one(Value::from(-1000)));
        assert_eq!(
            decode_msgpack(&ack(&ts96(-1, 500_000_000))),
            one(Value::from(-500))
        );
        assert_eq!(
            decode_msgpack(&ack(&ts96(-2, 999_999_999))),
            one(Value::from(-1000))
        );
        assert_eq!(
            decode_msgpack(&ack(&ts96(-8_640_000_000_000, 0))),
            one(Value::from(-8_640_000_000_000_000i64))
        );
        assert_eq!(
            decode_msgpack(&ack(&ts96(8_640_000_000_001, 0))),
            one(Value::Null)
        );
        assert_eq!(decode_msgpack(&ack(&ts96(i64::MIN, 0))), one(Value::Null));
        // Invalid timestamps.
        let offset = 19; // map header, type, nsp, "data", array header
        for raw in [
            "d4ff00",
            "d5ff0000",
            "c705ff0000000000",
            "d8ff00000000000000000000000000000000",
            &ts96(0, 1_000_000_000),
            &format!("d7ff{:016x}", 1_000_000_000u64 << 34),
        ] {
            assert_eq!(
                decode_msgpack(&ack(raw)),
                err(M::InvalidTimestamp(offset)),
                "{raw}"
            );
        }
    }

    #[test]
    fn refuses_invalid_packets() {
        let nsp = || ("nsp", enc("/"));
        let ty = |t: u64| ("type", enc(t));
        let data = |v: Value| ("data", enc(v));
        let valid = encode_msgpack(&Packet::event("/", "e", vec![]));
        let cases: Vec<(Vec<u8>, Result<Packet, DecodeError>)> = vec![
            // msgpack level
            (vec![], err(M::UnexpectedEnd)),
            (valid[..valid.len() - 1].to_vec(), err(M::UnexpectedEnd)),
            (hex("82a47479706501"), err(M::UnexpectedEnd)),
            (hex("a561"), err(M::UnexpectedEnd)),
            (hex("c4"), err(M::UnexpectedEnd)),
            (hex("c5 00"), err(M::UnexpectedEnd)),
            (hex("cf 00000000"), err(M::UnexpectedEnd)),
            (hex("d7 00 0000"), err(M::UnexpectedEnd)),
            (hex("c9 ffffffff 00"), err(M::UnexpectedEnd)),
            (hex("dd ffffffff"), err(M::UnexpectedEnd)),
            (hex("df ffffffff a0"), err(M::UnexpectedEnd)),
            (hex("db ffffffff"), err(M::UnexpectedEnd)),
            ([&valid[..], &[0]].concat(), err(M::TrailingBytes(1))),
            (
                [&valid[..], &valid[..]].concat(),
                err(M::TrailingBytes(valid.len())),
            ),
            (hex("c1"), err(M::InvalidTypeByte(0))),
            (hex("81 a1 61 c1"), err(M::InvalidTypeByte(3))),
            (hex("81 01 02"), err(M::NonStringKey(1))),
            (hex("81 c401 61 01"), err(M::NonStringKey(1))),
            (hex("82 a161 01 c0 01"), err(M::NonStringKey(4))),
            (
                hex("81 a1 61 d5 05 0000"),
                err(M::UnsupportedExtension {
                    ext_type: 5,
                    offset: 3,
                }),
            ),
            (
                hex("81 a1 61 d4 01 00"),
                err(M::UnsupportedExtension {
                    ext_type: 1,
                    offset: 3,
                }),
            ),
            (
                hex("81 a1 61 d5 00 0000"),
                err(M::UnsupportedExtension {
                    ext_type: 0,
                    offset: 3,
                }),
            ),
            (
                hex("81 a1 61 d6 00 00000000"),
                err(M::UnsupportedExtension {
                    ext_type: 0,
                    offset: 3,
                }),
            ),
            (
                hex("81 a1 61 d8 7f 00000000000000000000000000000000"),
                err(M::UnsupportedExtension {
                    ext_type: 127,
                    offset: 3,
                }),
            ),
            (
                hex("81 a1 61 c7 01 80 00"),
                err(M::UnsupportedExtension {
                    ext_type: -128,
                    offset: 3,
                }),
            ),
            // not a map
            (hex("c0"), err(M::NotAMap("null"))),
            (hex("92 02 a12f"), err(M::NotAMap("array"))),
            (hex("a3 616263"), err(M::NotAMap("string"))),
            (hex("c4 00"), err(M::NotAMap("binary"))),
            (hex("d4 00 00"), err(M::NotAMap("undefined"))),
            (hex("80"), err(M::InvalidPacketType)),
            // type
            (raw_map(&[nsp()]), err(M::InvalidPacketType)),
            (
                raw_map(&[ty(5), nsp(), data(json(r#"["e"]"#))]),
                err(M::InvalidPacketType),
            ),
            (
                raw_map(&[ty(6), nsp(), data(json("[]"))]),
                err(M::InvalidPacketType),
            ),
            (raw_map(&[ty(256), nsp()]), err(M::InvalidPacketType)),
            (
                raw_map(&[("type", enc(-1)), nsp()]),
                err(M::InvalidPacketType),
            ),
            (
                raw_map(&[("type", enc(2.5)), nsp()]),
                err(M::InvalidPacketType),
            ),
            (
                raw_map(&[("type", enc("1")), nsp()]),
                err(M::InvalidPacketType),
            ),
            (
                raw_map(&[("type", enc(Value::Null)), nsp()]),
                err(M::InvalidPacketType),
            ),
            (
                raw_map(&[("TYPE", enc(1)), nsp()]),
                err(M::InvalidPacketType),
            ),
            // nsp (checked after the type)
            (raw_map(&[ty(1)]), err(M::InvalidNamespace)),
            (raw_map(&[ty(1), ("nsp", enc(1))]), err(M::InvalidNamespace)),
            (
                raw_map(&[ty(1), ("nsp", enc(Value::Null))]),
                err(M::InvalidNamespace),
            ),
            (
                raw_map(&[ty(1), ("nsp", enc(bin(b"/")))]),
                err(M::InvalidNamespace),
            ),
            (raw_map(&[ty(9)]), err(M::InvalidPacketType)),
            // payloads, as the default decoder
            (
                raw_map(&[ty(0), nsp(), data(Value::from("x"))]),
                Err(E::InvalidConnectPayload("string")),
            ),
            (
                raw_map(&[ty(0), nsp(), data(Value::Null)]),
                Err(E::InvalidConnectPayload("null")),
            ),
            (
                raw_map(&[ty(0), nsp(), data(json("[]"))]),
                Err(E::InvalidConnectPayload("array")),
            ),
            (
                raw_map(&[ty(0), nsp(), data(bin(b"x"))]),
                Err(E::InvalidConnectPayload("binary")),
            ),
            (
                raw_map(&[ty(1), nsp(), data(json("{}"))]),
                Err(E::UnexpectedPayload(PacketType::Disconnect)),
            ),
            (
                raw_map(&[ty(1), nsp(), data(Value::Null)]),
                Err(E::UnexpectedPayload(PacketType::Disconnect)),
            ),
            (
                raw_map(&[ty(2), nsp()]),
                Err(E::MissingPayload(PacketType::Event)),
            ),
            (
                raw_map(&[ty(2), nsp(), data(json(r#"{"0":"e"}"#))]),
                Err(E::NotAnArray {
                    packet_type: PacketType::Event,
                    found: "object",
                }),
            ),
            (
                raw_map(&[ty(2), nsp(), data(Value::from("e"))]),
                Err(E::NotAnArray {
                    packet_type: PacketType::Event,
                    found: "string",
                }),
            ),
            (
                raw_map(&[ty(2), nsp(), data(json("[]"))]),
                Err(E::MissingEventName),
            ),
            (
                raw_map(&[ty(2), nsp(), data(json("[null]"))]),
                Err(E::InvalidEventName("null")),
            ),
            (
                raw_map(&[ty(2), nsp(), data(json(r#"[["e"]]"#))]),
                Err(E::InvalidEventName("array")),
            ),
            (
                raw_map(&[ty(2), nsp(), data(json("[true]"))]),
                Err(E::InvalidEventName("boolean")),
            ),
            (
                raw_map(&[ty(2), nsp(), data(Value::Array(vec![bin(b"e")]))]),
                Err(E::InvalidEventName("binary")),
            ),
            (
                raw_map(&[ty(3), nsp()]),
                Err(E::MissingPayload(PacketType::Ack)),
            ),
            (
                raw_map(&[ty(3), nsp(), data(Value::from("x"))]),
                Err(E::NotAnArray {
                    packet_type: PacketType::Ack,
                    found: "string",
                }),
            ),
            (
                raw_map(&[ty(3), nsp(), data(Value::Null)]),
                Err(E::NotAnArray {
                    packet_type: PacketType::Ack,
                    found: "null",
                }),
            ),
            (
                raw_map(&[ty(4), nsp()]),
                Err(E::MissingPayload(PacketType::ConnectError)),
            ),
            (
                raw_map(&[ty(4), nsp(), data(Value::from(1))]),
                Err(E::InvalidConnectErrorPayload("number")),
            ),
            (
                raw_map(&[ty(4), nsp(), data(json("[]"))]),
                Err(E::InvalidConnectErrorPayload("array")),
            ),
            (
                raw_map(&[ty(4), nsp(), data(Value::Null)]),
                Err(E::InvalidConnectErrorPayload("null")),
            ),
            // id (checked after the payload)
            (
                raw_map(&[ty(1), nsp(), ("id", enc(-1))]),
                err(M::InvalidAckId),
            ),
            (
                raw_map(&[ty(1), nsp(), ("id", enc(1.5))]),
                err(M::InvalidAckId),
            ),
            (
                raw_map(&[ty(1), nsp(), ("id", enc(1e20))]),
                err(M::InvalidAckId),
            ),
            (
                raw_map(&[ty(1), nsp(), ("id", enc("1"))]),
                err(M::InvalidAckId),
            ),
            (
                raw_map(&[ty(1), nsp(), ("id", enc(Value::Null))]),
                err(M::InvalidAckId),
            ),
            (
                raw_map(&[ty(3), nsp(), ("id", enc(json("[1]"))), data(json("[]"))]),
                err(M::InvalidAckId),
            ),
            (
                raw_map(&[ty(3), nsp(), ("id", enc(-1)), data(json("{}"))]),
                Err(E::NotAnArray {
                    packet_type: PacketType::Ack,
                    found: "object",
                }),
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(decode_msgpack(&bytes), expected, "{}", to_hex(&bytes));
        }
        // Reserved event names, as in the default decoder; fine as arguments and in ACKs.
        for name in crate::socket::RESERVED_EVENTS {
            let bytes = encode_msgpack(&Packet::event("/", name, vec![Value::from(1)]));
            assert_eq!(
                decode_msgpack(&bytes),
                Err(E::ReservedEventName(name.to_owned()))
            );
            let ok = Packet::event("/", "x", vec![Value::from(name)]);
            assert_eq!(decode_msgpack(&encode_msgpack(&ok)), Ok(ok));
            let ok = Packet::ack("/", 1, vec![Value::from(name)]);
            assert_eq!(decode_msgpack(&encode_msgpack(&ok)), Ok(ok));
        }
    }

    #[test]
    fn nesting_limit_matches_the_default_decoder() {
        // data = ["e", [[...]]] with `inner` nested arrays: 1 + inner levels.
        for inner in [DEFAULT_MAX_DEPTH - 1, DEFAULT_MAX_DEPTH] {
            let mut nested = Value::Array(vec![]);
            for _ in 1..inner {
                nested = Value::Array(vec![nested]);
            }
            let packet = Packet::event("/", "e", vec![nested.clone()]);
            let bytes = encode_msgpack(&packet);
            let text = format!(r#"2["e",{}]"#, nested.to_json());
            let default = Decoder::new().decode_text(&text);
            if inner < DEFAULT_MAX_DEPTH {
                assert!(default.is_ok());
                assert_eq!(decode_msgpack(&bytes), Ok(packet));
            } else {
                assert!(default.is_err());
                // The innermost array starts after the map, its header, keys and "e".
                let offset = 1 + 5 + 1 + 4 + 2 + 5 + 1 + 2 + (inner - 1);
                assert_eq!(decode_msgpack(&bytes), err(M::TooDeep(offset)));
            }
        }
        // Objects count too, and so do values of ignored keys.
        let mut deep = vec![0x91; DEFAULT_MAX_DEPTH + 1];
        deep.push(0x80);
        let bytes = raw_map(&[("type", enc(1)), ("nsp", enc("/")), ("x", deep)]);
        assert!(matches!(
            decode_msgpack(&bytes),
            Err(E::InvalidMsgpack(M::TooDeep(_)))
        ));
        // Deeply nested input can't exhaust the stack.
        let bytes = [vec![0x81, 0xa1, b'x'], vec![0x91; 1_000_000]].concat();
        assert!(matches!(
            decode_msgpack(&bytes),
            Err(E::InvalidMsgpack(M::TooDeep(_)))
        ));
    }

    #[test]
    fn errors_display() {
        assert_eq!(
            DecodeError::from(M::UnsupportedExtension {
                ext_type: -5,
                offset: 3
            })
            .to_string(),
            "invalid msgpack packet: unsupported msgpack extension type -5 at offset 3"
        );
        assert_eq!(
            M::TrailingBytes(2).to_string(),
            "2 trailing byte(s) after the msgpack packet"
        );
        assert_eq!(
            M::NotAMap("array").to_string(),
            "msgpack packet must be a map, found array"
        );
    }

    use crate::socket::test_rng::Rng;

    fn random_string(rng: &mut Rng) -> String {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            "0",
            " ",
            "\"",
            "/",
            "\n",
            "\u{0}",
            "é",
            "日",
            "😀",
            "\u{fffd}",
            "type",
            "nsp",
            "data",
            "id",
            "__proto__",
        ];
        let n = if rng.below(20) == 0 { 40 } else { rng.below(6) };
        (0..n).map(|_| PIECES[rng.below(PIECES.len())]).collect()
    }

    fn random_value(rng: &mut Rng, depth: usize) -> Value {
        match rng.below(if depth > 4 { 8 } else { 11 }) {
            0 => Value::Null,
            1 => Value::Bool(rng.below(2) == 0),
            2 => Value::from(rng.next() as i64 >> rng.below(64)),
            3 => Value::from(rng.next() >> rng.below(64)),
            4 => Value::from(f64::from_bits(rng.next())), // NaN/inf -> null
            5 => Value::from((rng.next() % 2000) as f64 / 8.0 - 100.0),
            6 => Value::from(random_string(rng)),
            7 => Value::Binary(Bytes::from(
                (0..rng.below(300))
                    .map(|_| rng.next() as u8)
                    .collect::<Vec<u8>>(),
            )),
            8 | 9 => {
                let n = if rng.below(10) == 0 { 20 } else { rng.below(4) };
                Value::Array((0..n).map(|_| random_value(rng, depth + 1)).collect())
            }
            _ => {
                let mut object = crate::socket::value::ObjectBuilder::with_capacity(0);
                let n = if rng.below(10) == 0 { 20 } else { rng.below(4) };
                for _ in 0..n {
                    object.insert(random_string(rng), random_value(rng, depth + 1));
                }
                object.finish()
            }
        }
    }

    fn random_packet(rng: &mut Rng) -> Packet {
        let nsp = ["/", "/chat", "/ü"][rng.below(3)];
        let args: Vec<Value> = (0..rng.below(4)).map(|_| random_value(rng, 0)).collect();
        let mut packet = match rng.below(7) {
            0 => Packet::connect(nsp, None),
            1 => match random_value(rng, 4) {
                object @ Value::Object(_) => Packet::connect(nsp, Some(object)),
                _ => Packet::connect(nsp, Some(Value::Object(vec![]))),
            },
            2 => Packet::disconnect(nsp),
            3 | 4 => {
                let name = random_string(rng);
                if super::super::is_reserved_event(&name) {
                    return Packet::event(nsp, "ok", args);
                }
                Packet::event(nsp, name, args)
            }
            5 => Packet::ack(nsp, rng.next() >> rng.below(64), args),
            _ => match rng.below(2) {
                0 => Packet::connect_error(nsp, Value::from(random_string(rng))),
                _ => {
                    Packet::connect_error_message(nsp, random_string(rng), args.into_iter().next())
                }
            },
        };
        if rng.below(3) == 0 {
            packet.id = Some(rng.next() >> rng.below(64));
        }
        packet
    }

    /// A micro loop over the two msgpack decoders, for instruction counts (run it under
    /// `valgrind --tool=callgrind` on a release test binary with `--ignored decode_loop`).
    #[test]
    #[ignore]
    fn decode_loop() {
        let args = vec![
            Value::from("hello"),
            Value::object([
                ("n", Value::from(1)),
                ("b", Value::Binary(Bytes::from_static(&[1, 2]))),
            ]),
        ];
        let packet = encode_msgpack(&Packet::event("/chat", "chat", args.clone()));
        let value = encode_msgpack_value(&Value::Array(args));
        let mut decoded = 0usize;
        for _ in 0..20_000 {
            decoded += usize::from(decode_msgpack(&packet).is_ok());
            decoded += usize::from(decode_msgpack_value(&value).is_ok());
        }
        assert_eq!(decoded, 40_000);
    }

    #[test]
    fn random_packets_round_trip() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..3_000 {
            let packet = random_packet(&mut rng);
            let bytes = encode_msgpack(&packet);
            assert_eq!(
                decode_msgpack(&bytes).as_ref(),
                Ok(&packet),
                "{}",
                to_hex(&bytes)
            );
        }
    }

    #[test]
    fn never_panics_on_random_and_mutated_input() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut seeds: Vec<Vec<u8>> = captures().iter().map(|(_, h)| hex(h)).collect();
        for _ in 0..30 {
            seeds.push(encode_msgpack(&random_packet(&mut rng)).to_vec());
        }
        seeds.push(hex("83 a474797065 03 a36e7370 a12f a464617461 94 d40000 d700000000dfb7629c00 c7030001 0203 c70cff0000000000000000000000ff"));
        seeds.push(hex(
            "83 a474797065 03 a36e7370 a12f a464617461 92 d6ff39457980 d7ff0000000100000001",
        ));
        const INTERESTING: &[u8] = &[
            0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc4, 0xc5, 0xc6, 0xc7,
            0xc8, 0xc9, 0xca, 0xcb, 0xcf, 0xd3, 0xd4, 0xd7, 0xd8, 0xd9, 0xdb, 0xdc, 0xdd, 0xde,
            0xdf, 0xe0, 0xff,
        ];
        let mut accepted = 0;
        for round in 0..100_000 {
            let mut bytes: Vec<u8> = if round % 5 == 0 {
                (0..rng.below(40)).map(|_| rng.next() as u8).collect()
            } else {
                seeds[rng.below(seeds.len())].clone()
            };
            for _ in 0..1 + rng.below(3) {
                if bytes.is_empty() {
                    break;
                }
                let at = rng.below(bytes.len());
                let byte = if rng.below(2) == 0 {
                    rng.next() as u8
                } else {
                    INTERESTING[rng.below(INTERESTING.len())]
                };
                match rng.below(5) {
                    0 | 1 => bytes[at] = byte,
                    2 => {
                        bytes.remove(at);
                    }
                    3 => bytes.insert(at, byte),
                    _ => bytes.truncate(at),
                }
            }
            if let Ok(packet) = decode_msgpack(&bytes) {
                accepted += 1;
                // Whatever is accepted encodes, and decodes back to itself.
                let again = encode_msgpack(&packet);
                assert_eq!(
                    decode_msgpack(&again).as_ref(),
                    Ok(&packet),
                    "{}",
                    to_hex(&bytes)
                );
            }
        }
        assert!(accepted > 5_000, "only {accepted} inputs accepted");
    }
}
