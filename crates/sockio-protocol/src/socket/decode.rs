//! Wire text (+ binary attachments) -> packets: the streaming [`Decoder`].

use bytes::Bytes;

use super::error::DecodeError;
use super::json;
use super::packet::{Packet, PacketData, PacketType};
use super::payload::event_payload;
use super::query;
use super::raw::{RawArgs, RawEvent};
use super::value::Value;
use super::{is_reserved_event, ProtocolVersion, DEFAULT_MAX_ATTACHMENTS, DEFAULT_MAX_DEPTH};
use crate::Utf8Bytes;

/// Settings of a [`Decoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderConfig {
    /// The protocol dialect: [`ProtocolVersion::V5`] (Engine.IO v4 clients) or
    /// [`ProtocolVersion::V4`] (Engine.IO v3, socket.io-client 2.x).
    pub version: ProtocolVersion,
    /// The largest attachment count a binary packet may announce (socket.io's
    /// `maxAttachments`, default [`DEFAULT_MAX_ATTACHMENTS`] = 10).
    pub max_attachments: usize,
    /// The deepest JSON nesting accepted (default [`DEFAULT_MAX_DEPTH`] = 128).
    pub max_depth: usize,
}

impl DecoderConfig {
    /// The defaults for a protocol version.
    pub fn new(version: ProtocolVersion) -> DecoderConfig {
        DecoderConfig {
            version,
            max_attachments: DEFAULT_MAX_ATTACHMENTS,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

impl Default for DecoderConfig {
    /// Protocol v5, 10 attachments, depth 128.
    fn default() -> Self {
        DecoderConfig::new(ProtocolVersion::V5)
    }
}

/// Decodes the Socket.IO packets of one connection from its Engine.IO messages.
///
/// Feed every text message to [`decode_text`](Self::decode_text) and every binary message
/// to [`decode_binary`](Self::decode_binary), in arrival order. A BINARY_EVENT /
/// BINARY_ACK header yields `None` and the decoder then waits for the announced number of
/// binary messages; the last one yields the packet with the attachments put in place of
/// their placeholders (delivered as [`PacketData::Event`] / [`PacketData::Ack`]).
///
/// Validation mirrors socket.io-parser 4.2 (used by socket.io 4.8 for every client):
///
/// * type digit `0`..=`6`; for types 5/6 a decimal attachment count in
///   `1..=max_attachments` followed by `-`;
/// * namespace: when the next character is `/`, everything up to the first `,` (or the
///   end); otherwise `/`;
/// * ack id: the decimal digits that follow, if any;
/// * payload: the rest, which must be JSON valid for the type — CONNECT: absent or an
///   object; DISCONNECT: absent; EVENT: a non-empty array whose first element is a
///   number or a string that is not a [reserved name](is_reserved_event); ACK: an array
///   (absent is read as no arguments); CONNECT_ERROR: a string or an object;
/// * placeholders (`{"_placeholder":true,"num":N}`, only looked for in binary packets)
///   must have an integer `num` below the attachment count.
///
/// Stricter than the JavaScript parser on a few inputs it accepts by accident: an empty
/// message or a leading space (which `Number()` reads as type 0), non-digit attachment
/// counts and ack ids (` 1`, `1e0`), ack ids beyond 64 bits, an EVENT with no payload
/// (socket.io silently drops it), a CONNECT_ERROR with no payload, and a non-integer
/// placeholder `num` are all refused.
///
/// With [`ProtocolVersion::V4`] the namespace may carry a query string: it is removed from
/// [`Packet::nsp`] on every packet (`/admin?x=1` -> `/admin`), and on a CONNECT it
/// becomes the payload as an object of strings (`{"x":"1"}`, URL-decoded, last duplicate
/// wins), as socket.io 4.8 builds the handshake auth for v2 clients; it takes precedence
/// over a JSON payload (v2 clients send none). A v4 CONNECT_ERROR (v4 "ERROR") may carry
/// any JSON value.
///
/// After an error the decoder forgets any partial packet and is ready for new input
/// (though the connection is normally closed).
///
/// The decoder never panics, whatever the input.
///
/// ```
/// use bytes::Bytes;
/// use sockio_protocol::socket::{Decoder, PacketData, Value};
///
/// let mut decoder = Decoder::new();
/// assert_eq!(decoder.decode_text(r#"51-["bin",{"_placeholder":true,"num":0}]"#).unwrap(), None);
/// let packet = decoder.decode_binary(Bytes::from_static(&[1, 2, 3])).unwrap().unwrap();
/// assert_eq!(
///     packet.data,
///     PacketData::Event {
///         event: "bin".into(),
///         args: vec![Value::Binary(Bytes::from_static(&[1, 2, 3]))],
///     }
/// );
/// ```
#[derive(Debug, Default)]
pub struct Decoder {
    config: DecoderConfig,
    pending: Option<Pending>,
}

/// A binary packet waiting for its attachments.
#[derive(Debug)]
struct Pending {
    packet: Packet,
    expected: usize,
    buffers: Vec<Bytes>,
}

impl Decoder {
    /// A protocol v5 decoder with default limits.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// A decoder with the given settings.
    pub fn with_config(config: DecoderConfig) -> Decoder {
        Decoder {
            config,
            pending: None,
        }
    }

    /// The decoder's settings.
    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// Decodes one text message. `Ok(None)` means a binary packet header was read and
    /// its attachments must follow.
    pub fn decode_text(&mut self, text: &str) -> Result<Option<Packet>, DecodeError> {
        if let Some(pending) = self.pending.take() {
            return Err(DecodeError::UnexpectedText {
                missing: pending.expected - pending.buffers.len(),
            });
        }
        let (packet, attachments) = parse_packet(text, &self.config)?;
        if attachments == 0 {
            return Ok(Some(packet));
        }
        self.pending = Some(Pending {
            packet,
            expected: attachments,
            buffers: Vec::with_capacity(attachments),
        });
        Ok(None)
    }

    /// Reads a plain EVENT (type `2`) without building its arguments: they are checked
    /// exactly as [`decode_text`](Self::decode_text) would check them, and kept as text
    /// ([`RawArgs`], sharing `text`'s bytes).
    ///
    /// `None` for anything else — other packet types, binary events, numeric or escaped
    /// event names, v4 namespaces with a query, invalid or refused packets, or while
    /// attachments are awaited: pass those to [`decode_text`](Self::decode_text), which
    /// decodes them or reports the error.
    ///
    /// ```
    /// use sockio_protocol::socket::Decoder;
    /// use sockio_protocol::Utf8Bytes;
    ///
    /// let mut decoder = Decoder::new();
    /// let event = decoder.decode_event_text(&Utf8Bytes::from(r#"2/chat,3["msg",{"a":1},"b"]"#)).unwrap();
    /// assert_eq!((event.nsp.as_str(), event.id, event.event.as_str()), ("/chat", Some(3), "msg"));
    /// assert_eq!(event.args.as_str(), r#"{"a":1},"b""#);
    /// assert_eq!(decoder.decode_event_text(&Utf8Bytes::from(r#"2["disconnect"]"#)), None);
    /// ```
    pub fn decode_event_text(&mut self, text: &Utf8Bytes) -> Option<RawEvent> {
        if self.pending.is_some() || text.as_bytes().first() != Some(&b'2') {
            return None;
        }
        let (nsp, id, pos) = namespace_and_id(text, 1).ok()?;
        if self.config.version == ProtocolVersion::V4 && nsp.contains('?') {
            return None;
        }
        let nsp_range = if nsp.len() == 1 {
            None
        } else {
            Some(1..1 + nsp.len())
        };
        let payload = text.get(pos..)?;
        let (event, args) = json::scan_event(payload, self.config.max_depth)?;
        if is_reserved_event(&event) {
            return None;
        }
        let event = match event {
            // A slice of `payload`, itself a slice of `text`: share the bytes.
            std::borrow::Cow::Borrowed(name) => {
                let at = (name.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
                text.slice(at..at + name.len())?
            }
            std::borrow::Cow::Owned(name) => Utf8Bytes::from(name),
        };
        let nsp = match nsp_range {
            None => Utf8Bytes::from_static("/"),
            Some(r) => text.slice(r)?,
        };
        let args = text.slice(pos + args.start..pos + args.end)?;
        Some(RawEvent {
            nsp,
            id,
            event,
            args: RawArgs::validated(args),
        })
    }

    /// Decodes one binary message: the next attachment of the pending binary packet.
    /// Returns the packet once its last attachment has arrived, `Ok(None)` before.
    pub fn decode_binary(&mut self, data: Bytes) -> Result<Option<Packet>, DecodeError> {
        let Some(pending) = self.pending.as_mut() else {
            return Err(DecodeError::UnexpectedBinary);
        };
        pending.buffers.push(data);
        if pending.buffers.len() < pending.expected {
            return Ok(None);
        }
        let Some(Pending {
            mut packet,
            buffers,
            ..
        }) = self.pending.take()
        else {
            return Err(DecodeError::UnexpectedBinary);
        };
        if let PacketData::Event { args, .. } | PacketData::Ack { args } = &mut packet.data {
            for arg in args {
                fill_placeholders(arg, &buffers);
            }
        }
        Ok(Some(packet))
    }

    /// Whether a binary packet header was decoded and attachments are still expected.
    pub fn is_awaiting_attachments(&self) -> bool {
        self.pending.is_some()
    }

    /// How many attachments are still expected (0 when not reconstructing).
    pub fn missing_attachments(&self) -> usize {
        self.pending
            .as_ref()
            .map_or(0, |p| p.expected - p.buffers.len())
    }

    /// Drops any partially received binary packet.
    pub fn reset(&mut self) {
        self.pending = None;
    }
}

/// Parses one packet text; returns the packet (placeholders still in place) and its
/// attachment count (0 for non-binary types).
fn parse_packet(text: &str, config: &DecoderConfig) -> Result<(Packet, usize), DecodeError> {
    let bytes = text.as_bytes();
    let first = *bytes.first().ok_or(DecodeError::Empty)?;
    let kind = first
        .checked_sub(b'0')
        .and_then(PacketType::from_u8)
        .ok_or_else(|| DecodeError::UnknownPacketType(text.chars().next().unwrap_or_default()))?;
    let mut pos = 1;

    let mut attachments = 0;
    if kind.is_binary() {
        let start = pos;
        let mut count: u64 = 0;
        while let Some(&d @ b'0'..=b'9') = bytes.get(pos) {
            count = count.saturating_mul(10).saturating_add(u64::from(d - b'0'));
            pos += 1;
        }
        if pos == start || bytes.get(pos) != Some(&b'-') || count == 0 {
            return Err(DecodeError::InvalidAttachmentCount);
        }
        pos += 1;
        attachments = usize::try_from(count)
            .ok()
            .filter(|&n| n <= config.max_attachments)
            .ok_or(DecodeError::TooManyAttachments {
                count,
                max: config.max_attachments,
            })?;
    }

    let (nsp, id, pos) = namespace_and_id(text, pos)?;

    let payload = match text.get(pos..) {
        Some(rest) if !rest.is_empty() => Some(json::parse(rest, config.max_depth)?),
        _ => None,
    };

    let (nsp, query) = match config.version {
        ProtocolVersion::V5 => (nsp, None),
        ProtocolVersion::V4 => query::split_namespace(nsp),
    };

    let data = match kind {
        PacketType::Connect => {
            let payload = match payload {
                None => None,
                Some(object @ Value::Object(_)) => Some(object),
                Some(other) => return Err(DecodeError::InvalidConnectPayload(other.type_name())),
            };
            match query {
                Some(query) => Some(query::parse_query(query)),
                None => payload,
            }
            .map_or(PacketData::Connect(None), |p| PacketData::Connect(Some(p)))
        }
        PacketType::Disconnect => match payload {
            None => PacketData::Disconnect,
            Some(_) => return Err(DecodeError::UnexpectedPayload(kind)),
        },
        PacketType::Event | PacketType::BinaryEvent => event_payload(kind, payload)?,
        PacketType::Ack | PacketType::BinaryAck => match payload {
            None => PacketData::Ack { args: Vec::new() },
            Some(Value::Array(args)) => PacketData::Ack { args },
            Some(other) => {
                return Err(DecodeError::NotAnArray {
                    packet_type: kind,
                    found: other.type_name(),
                })
            }
        },
        PacketType::ConnectError => match (payload, config.version) {
            (None, _) => return Err(DecodeError::MissingPayload(kind)),
            (Some(v @ (Value::String(_) | Value::Object(_))), _) => PacketData::ConnectError(v),
            (Some(v), ProtocolVersion::V4) => PacketData::ConnectError(v),
            (Some(other), ProtocolVersion::V5) => {
                return Err(DecodeError::InvalidConnectErrorPayload(other.type_name()))
            }
        },
    };

    if attachments > 0 {
        if let PacketData::Event { args, .. } | PacketData::Ack { args } = &data {
            for arg in args {
                check_placeholders(arg, attachments)?;
            }
        }
    }

    Ok((
        Packet {
            nsp: nsp.to_owned(),
            id,
            data,
        },
        attachments,
    ))
}

/// Reads the optional namespace (`/...` up to the first `,`) and ack id from `pos`:
/// the namespace (`/` when absent), the id, and the position of the payload.
fn namespace_and_id(text: &str, mut pos: usize) -> Result<(&str, Option<u64>, usize), DecodeError> {
    let bytes = text.as_bytes();
    let mut nsp = "/";
    if bytes.get(pos) == Some(&b'/') {
        let rest = text.get(pos..).unwrap_or_default();
        match rest.find(',') {
            Some(comma) => {
                nsp = &rest[..comma];
                pos += comma + 1;
            }
            None => {
                nsp = rest;
                pos = bytes.len();
            }
        }
    }
    let id_start = pos;
    let mut id: u64 = 0;
    while let Some(&d @ b'0'..=b'9') = bytes.get(pos) {
        id = id
            .checked_mul(10)
            .and_then(|id| id.checked_add(u64::from(d - b'0')))
            .ok_or(DecodeError::AckIdOverflow)?;
        pos += 1;
    }
    Ok((nsp, (pos > id_start).then_some(id), pos))
}

/// If `value` is an attachment placeholder (an object whose `_placeholder` is `true`),
/// its `num` field (`Err` if it is not a non-negative integer).
fn placeholder_num(value: &Value) -> Option<Result<u64, DecodeError>> {
    if value.get("_placeholder")? != &Value::Bool(true) {
        return None;
    }
    Some(
        value
            .get("num")
            .and_then(Value::as_u64)
            .ok_or(DecodeError::InvalidPlaceholder),
    )
}

fn check_placeholders(value: &Value, attachments: usize) -> Result<(), DecodeError> {
    if let Some(num) = placeholder_num(value) {
        let num = num?;
        if num >= attachments as u64 {
            return Err(DecodeError::PlaceholderOutOfRange { num, attachments });
        }
        return Ok(());
    }
    match value {
        Value::Array(items) => items
            .iter()
            .try_for_each(|v| check_placeholders(v, attachments)),
        Value::Object(entries) => entries
            .iter()
            .try_for_each(|(_, v)| check_placeholders(v, attachments)),
        _ => Ok(()),
    }
}

/// Replaces every placeholder by its attachment (all were checked by
/// [`check_placeholders`]).
fn fill_placeholders(value: &mut Value, buffers: &[Bytes]) {
    if let Some(Ok(num)) = placeholder_num(value) {
        if let Some(buffer) = usize::try_from(num).ok().and_then(|n| buffers.get(n)) {
            *value = Value::Binary(buffer.clone());
        }
        return;
    }
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| fill_placeholders(v, buffers)),
        Value::Object(entries) => entries
            .iter_mut()
            .for_each(|(_, v)| fill_placeholders(v, buffers)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::json::JsonError;

    fn decode(text: &str) -> Result<Packet, DecodeError> {
        let mut d = Decoder::new();
        let packet = d.decode_text(text)?;
        Ok(packet.expect("not a binary packet"))
    }

    fn decode_v4(text: &str) -> Result<Packet, DecodeError> {
        let mut d = Decoder::with_config(DecoderConfig::new(ProtocolVersion::V4));
        Ok(d.decode_text(text)?.expect("not a binary packet"))
    }

    fn json(text: &str) -> Value {
        Value::from_json(text).unwrap()
    }

    fn bin(b: &'static [u8]) -> Value {
        Value::Binary(Bytes::from_static(b))
    }

    #[test]
    fn spec_examples() {
        assert_eq!(decode("0").unwrap(), Packet::connect("/", None));
        assert_eq!(
            decode(r#"0{"token":"123"}"#).unwrap(),
            Packet::connect("/", Some(json(r#"{"token":"123"}"#)))
        );
        assert_eq!(
            decode(r#"0/admin,{"token":"123"}"#).unwrap(),
            Packet::connect("/admin", Some(json(r#"{"token":"123"}"#)))
        );
        assert_eq!(decode("0/admin,").unwrap(), Packet::connect("/admin", None));
        assert_eq!(decode("0/admin").unwrap(), Packet::connect("/admin", None));
        assert_eq!(decode("40").ok(), None); // "4" then "0" is not an object
        assert_eq!(
            decode(r#"0{"sid":"0Ir8AAAA","pid":"5_F1AAAB"}"#).unwrap(),
            Packet::connect("/", Some(json(r#"{"sid":"0Ir8AAAA","pid":"5_F1AAAB"}"#)))
        );
        assert_eq!(
            decode(r#"4/admin,{"message":"not authorized","data":{"reason":"x"}}"#).unwrap(),
            Packet::connect_error(
                "/admin",
                json(r#"{"message":"not authorized","data":{"reason":"x"}}"#)
            )
        );
        assert_eq!(
            decode(r#"4"plain""#).unwrap(),
            Packet::connect_error("/", Value::from("plain"))
        );
        assert_eq!(decode("1/admin,").unwrap(), Packet::disconnect("/admin"));
        assert_eq!(decode("1").unwrap(), Packet::disconnect("/"));
        assert_eq!(
            decode(r#"2["hello","world"]"#).unwrap(),
            Packet::event("/", "hello", vec![Value::from("world")])
        );
        assert_eq!(
            decode(r#"21["hello","world"]"#).unwrap(),
            Packet::event("/", "hello", vec![Value::from("world")]).with_id(1)
        );
        assert_eq!(
            decode(r#"2/chat,13["msg",{"a":1}]"#).unwrap(),
            Packet::event("/chat", "msg", vec![json(r#"{"a":1}"#)]).with_id(13)
        );
        assert_eq!(
            decode(r#"31["ack-reply"]"#).unwrap(),
            Packet::ack("/", 1, vec![Value::from("ack-reply")])
        );
        assert_eq!(
            decode(r#"20["e4-ack"]"#).unwrap(),
            Packet::event("/", "e4-ack", vec![]).with_id(0)
        );
        assert_eq!(
            decode(r#"3/custom,4399999["x"]"#).unwrap(),
            Packet::ack("/custom", 4399999, vec![Value::from("x")])
        );
    }

    #[test]
    fn lenient_where_socket_io_is() {
        // Numeric event names are accepted (decoded to their string form).
        assert_eq!(
            decode(r#"2[1,"x"]"#).unwrap(),
            Packet::event("/", "1", vec![Value::from("x")])
        );
        assert_eq!(decode("2[1.5]").unwrap().event_name(), Some("1.5"));
        // ACK without payload, ACK without id, id on CONNECT, whitespace around JSON.
        assert_eq!(decode("35").unwrap(), Packet::ack("/", 5, vec![]));
        assert_eq!(decode("3[]").unwrap().id, None);
        assert_eq!(decode("07{}").unwrap().id, Some(7));
        assert_eq!(
            decode("2 [\"a\"] \n").unwrap(),
            Packet::event("/", "a", vec![])
        );
        // Namespace runs up to the first comma, whatever it contains.
        assert_eq!(decode("2/a b?c=d,[\"e\"]").unwrap().nsp, "/a b?c=d");
        // Leading zeros in the ack id and the attachment count.
        assert_eq!(decode("2007[\"a\"]").unwrap().id, Some(7));
        let mut d = Decoder::new();
        assert_eq!(d.decode_text("501-[\"a\"]").unwrap(), None);
        assert!(d.decode_binary(Bytes::new()).unwrap().is_some());
        // Placeholders are literal objects in non-binary packets.
        let p = decode(r#"2["a",{"_placeholder":true,"num":0}]"#).unwrap();
        assert_eq!(
            p.args().unwrap()[0],
            json(r#"{"_placeholder":true,"num":0}"#)
        );
        // Events named like the reserved ones but different case are fine.
        assert_eq!(
            decode(r#"2["Connect"]"#).unwrap().event_name(),
            Some("Connect")
        );
        // Largest ack id.
        assert_eq!(
            decode("318446744073709551615[]").unwrap().id,
            Some(u64::MAX)
        );
    }

    #[test]
    fn binary_packets() {
        let mut d = Decoder::new();
        assert_eq!(
            d.decode_text(r#"51-["srv",{"a":1},{"_placeholder":true,"num":0}]"#),
            Ok(None)
        );
        assert!(d.is_awaiting_attachments());
        assert_eq!(d.missing_attachments(), 1);
        let p = d
            .decode_binary(Bytes::from_static(&[0xde, 0xad]))
            .unwrap()
            .unwrap();
        assert_eq!(
            p,
            Packet::event("/", "srv", vec![json(r#"{"a":1}"#), bin(&[0xde, 0xad])])
        );
        assert_eq!(p.packet_type(), PacketType::BinaryEvent);
        assert!(!d.is_awaiting_attachments());

        assert_eq!(
            d.decode_text(r#"61-1["ack-reply",{"_placeholder":true,"num":0}]"#),
            Ok(None)
        );
        let p = d
            .decode_binary(Bytes::from_static(&[1, 2]))
            .unwrap()
            .unwrap();
        assert_eq!(
            p,
            Packet::ack("/", 1, vec![Value::from("ack-reply"), bin(&[1, 2])])
        );

        // Out-of-order placeholders, reused placeholder, namespace and id.
        assert_eq!(
            d.decode_text(
                r#"52-/chat,9["x",{"_placeholder":true,"num":1},[{"_placeholder":true,"num":0}],{"_placeholder":true,"num":1}]"#
            ),
            Ok(None)
        );
        assert_eq!(d.decode_binary(Bytes::from_static(b"zero")), Ok(None));
        assert_eq!(d.missing_attachments(), 1);
        let p = d
            .decode_binary(Bytes::from_static(b"one"))
            .unwrap()
            .unwrap();
        assert_eq!(
            p,
            Packet::event(
                "/chat",
                "x",
                vec![bin(b"one"), Value::Array(vec![bin(b"zero")]), bin(b"one")]
            )
            .with_id(9)
        );
    }

    #[test]
    fn request_binary_example_roundtrip() {
        let text = concat!(
            r#"54-/custom,["binary-data",{"a":{"_placeholder":true,"num":0},"#,
            r#""nested":{"list":[{"_placeholder":true,"num":1},"text","#,
            r#"{"deep":{"_placeholder":true,"num":2}}],"n":42},"#,
            r#""last":{"_placeholder":true,"num":3}}]"#
        );
        let mut d = Decoder::new();
        assert_eq!(d.decode_text(text), Ok(None));
        for b in [&[1u8, 2, 3][..], &[4, 5], &[6]] {
            assert_eq!(d.decode_binary(Bytes::copy_from_slice(b)), Ok(None));
        }
        let p = d
            .decode_binary(Bytes::from_static(&[0xff, 0x00, 0x80]))
            .unwrap()
            .unwrap();
        let arg = &p.args().unwrap()[0];
        assert_eq!(arg.get("a"), Some(&bin(&[1, 2, 3])));
        let list = arg
            .get("nested")
            .unwrap()
            .get("list")
            .unwrap()
            .as_array()
            .unwrap();
        assert_eq!(list[0], bin(&[4, 5]));
        assert_eq!(list[2].get("deep"), Some(&bin(&[6])));
        assert_eq!(arg.get("last"), Some(&bin(&[0xff, 0x00, 0x80])));
        // And it encodes back to the same text and attachments.
        let e = p.encode();
        assert_eq!(e.text, text);
        assert_eq!(e.attachments.len(), 4);
    }

    #[test]
    fn conformance_malformed_packets() {
        use DecodeError as E;
        // conformance-server.md §4.2 (the leading Engine.IO `4` removed).
        let cases: &[(&str, DecodeError)] = &[
            ("abc", E::UnknownPacketType('a')),
            ("{}", E::UnknownPacketType('{')),
            ("2abc[\"a\"]", E::InvalidJson(JsonError::for_test(0))),
            ("2[]", E::MissingEventName),
            ("2[{}]", E::InvalidEventName("object")),
            ("2[null]", E::InvalidEventName("null")),
            ("2[[\"a\"]]", E::InvalidEventName("array")),
            ("2[true]", E::InvalidEventName("boolean")),
            ("2[\"a\"", E::InvalidJson(JsonError::for_test(4))),
            (
                "2{\"a\":1}",
                E::NotAnArray {
                    packet_type: PacketType::Event,
                    found: "object",
                },
            ),
            (
                "2{}",
                E::NotAnArray {
                    packet_type: PacketType::Event,
                    found: "object",
                },
            ),
            (
                "2\"x\"",
                E::NotAnArray {
                    packet_type: PacketType::Event,
                    found: "string",
                },
            ),
            ("2", E::MissingPayload(PacketType::Event)),
            ("2/chat,", E::MissingPayload(PacketType::Event)),
            ("1{\"x\":1}", E::UnexpectedPayload(PacketType::Disconnect)),
            ("1/admin,{}", E::UnexpectedPayload(PacketType::Disconnect)),
            ("5x-[\"a\"]", E::InvalidAttachmentCount),
            ("5-[\"a\"]", E::InvalidAttachmentCount),
            ("50-[\"a\"]", E::InvalidAttachmentCount),
            ("51[\"a\"]", E::InvalidAttachmentCount),
            ("5", E::InvalidAttachmentCount),
            ("6 1-[]", E::InvalidAttachmentCount),
            ("511-[\"a\"]", E::TooManyAttachments { count: 11, max: 10 }),
            (
                "699999999999999999999999-[]",
                E::TooManyAttachments {
                    count: u64::MAX,
                    max: 10,
                },
            ),
            ("0\"str\"", E::InvalidConnectPayload("string")),
            ("0[1,2]", E::InvalidConnectPayload("array")),
            ("0null", E::InvalidConnectPayload("null")),
            ("0/custom,true", E::InvalidConnectPayload("boolean")),
            ("0/custom, 5", E::InvalidConnectPayload("number")),
            ("0{bad", E::InvalidJson(JsonError::for_test(1))),
            ("4", E::MissingPayload(PacketType::ConnectError)),
            ("4[1]", E::InvalidConnectErrorPayload("array")),
            ("41", E::MissingPayload(PacketType::ConnectError)), // 1 is the ack id
            ("4 1", E::InvalidConnectErrorPayload("number")),
            ("4null", E::InvalidConnectErrorPayload("null")),
            (
                "3{}",
                E::NotAnArray {
                    packet_type: PacketType::Ack,
                    found: "object",
                },
            ),
            (
                "31\"x\"",
                E::NotAnArray {
                    packet_type: PacketType::Ack,
                    found: "string",
                },
            ),
            ("7", E::UnknownPacketType('7')),
            ("9[\"a\"]", E::UnknownPacketType('9')),
            ("", E::Empty),
            (" 0", E::UnknownPacketType(' ')),
            ("é", E::UnknownPacketType('é')),
            ("218446744073709551616[\"a\"]", E::AckIdOverflow),
            ("2999999999999999999999999[\"a\"]", E::AckIdOverflow),
            (
                "51-[\"a\",{\"_placeholder\":true,\"num\":1}]",
                E::PlaceholderOutOfRange {
                    num: 1,
                    attachments: 1,
                },
            ),
            (
                "51-[\"a\",{\"_placeholder\":true,\"num\":-1}]",
                E::InvalidPlaceholder,
            ),
            (
                "51-[\"a\",{\"_placeholder\":true,\"num\":0.5}]",
                E::InvalidPlaceholder,
            ),
            (
                "51-[\"a\",{\"_placeholder\":true,\"num\":\"0\"}]",
                E::InvalidPlaceholder,
            ),
            ("51-[\"a\",{\"_placeholder\":true}]", E::InvalidPlaceholder),
            (
                "61-[[{\"_placeholder\":true,\"num\":3}]]",
                E::PlaceholderOutOfRange {
                    num: 3,
                    attachments: 1,
                },
            ),
            (
                "51-[{\"_placeholder\":true,\"num\":0}]",
                E::InvalidEventName("object"),
            ),
            ("51-[]", E::MissingEventName),
            ("51-", E::MissingPayload(PacketType::BinaryEvent)),
        ];
        for (text, expected) in cases {
            let got = decode(text);
            match (&got, expected) {
                (Err(E::InvalidJson(_)), E::InvalidJson(_)) => {}
                (Err(e), expected) => assert_eq!(e, expected, "input {text:?}"),
                (Ok(p), _) => panic!("accepted {text:?} as {p:?}"),
            }
        }
    }

    #[test]
    fn reserved_event_names_are_refused() {
        for name in [
            "connect",
            "connect_error",
            "disconnect",
            "disconnecting",
            "newListener",
            "removeListener",
        ] {
            let text = format!(r#"2["{name}","x"]"#);
            assert_eq!(
                decode(&text),
                Err(DecodeError::ReservedEventName(name.to_owned()))
            );
            let text = format!(r#"51-["{name}",{{"_placeholder":true,"num":0}}]"#);
            assert_eq!(
                Decoder::new().decode_text(&text),
                Err(DecodeError::ReservedEventName(name.to_owned()))
            );
            // Also in the v4 dialect (socket.io 4.8 uses the same parser for v2 clients).
            assert!(decode_v4(&format!(r#"2["{name}"]"#)).is_err());
        }
        // Reserved names are fine as arguments and in ACKs.
        assert!(decode(r#"2["x","disconnect"]"#).is_ok());
        assert!(decode(r#"31["connect"]"#).is_ok());
    }

    #[test]
    fn state_machine_errors() {
        let mut d = Decoder::new();
        assert_eq!(
            d.decode_binary(Bytes::from_static(b"x")),
            Err(DecodeError::UnexpectedBinary)
        );
        assert_eq!(
            d.decode_text(r#"52-["a",{"_placeholder":true,"num":0}]"#),
            Ok(None)
        );
        assert_eq!(d.decode_binary(Bytes::from_static(b"1")), Ok(None));
        assert_eq!(
            d.decode_text(r#"2["b"]"#),
            Err(DecodeError::UnexpectedText { missing: 1 })
        );
        // The partial packet was dropped: the decoder works again.
        assert!(!d.is_awaiting_attachments());
        assert_eq!(
            d.decode_text(r#"2["b"]"#).unwrap(),
            Some(Packet::event("/", "b", vec![]))
        );
        // reset() drops a pending packet.
        assert_eq!(
            d.decode_text(r#"51-["a",{"_placeholder":true,"num":0}]"#),
            Ok(None)
        );
        d.reset();
        assert_eq!(
            d.decode_binary(Bytes::from_static(b"x")),
            Err(DecodeError::UnexpectedBinary)
        );
        // An error in a header leaves the decoder idle.
        assert!(d.decode_text("5x-[]").is_err());
        assert_eq!(d.missing_attachments(), 0);
    }

    #[test]
    fn configurable_limits() {
        let config = DecoderConfig {
            max_attachments: 2,
            max_depth: 3,
            ..DecoderConfig::default()
        };
        assert_eq!(config.version, ProtocolVersion::V5);
        let mut d = Decoder::with_config(config);
        assert_eq!(d.config().max_attachments, 2);
        assert_eq!(
            d.decode_text("53-[\"a\"]"),
            Err(DecodeError::TooManyAttachments { count: 3, max: 2 })
        );
        assert_eq!(d.decode_text("52-[\"a\"]"), Ok(None));
        d.reset();
        assert!(d.decode_text(r#"2["a",[[1]]]"#).is_ok());
        assert!(matches!(
            d.decode_text(r#"2["a",[[[1]]]]"#),
            Err(DecodeError::InvalidJson(e)) if e.reason() == "nesting too deep"
        ));
        let default = DecoderConfig::default();
        assert_eq!(default.max_attachments, 10);
        assert_eq!(default.max_depth, 128);
        assert!(Decoder::new().decode_text("510-[\"a\"]").is_ok());
    }

    #[test]
    fn v4_dialect() {
        // Namespace query -> CONNECT auth object of strings.
        assert_eq!(
            decode_v4("0/custom?x=1&y=two,").unwrap(),
            Packet::connect("/custom", Some(json(r#"{"x":"1","y":"two"}"#)))
        );
        assert_eq!(
            decode_v4("0/custom?x=1&y=two").unwrap(),
            Packet::connect("/custom", Some(json(r#"{"x":"1","y":"two"}"#)))
        );
        assert_eq!(
            decode_v4("0/a?q=%C3%A9+b&q=2,").unwrap(),
            Packet::connect("/a", Some(json(r#"{"q":"2"}"#)))
        );
        assert_eq!(
            decode_v4("0/custom,").unwrap(),
            Packet::connect("/custom", None)
        );
        assert_eq!(decode_v4("0").unwrap(), Packet::connect("/", None));
        assert_eq!(
            decode_v4("0/x?,").unwrap(),
            Packet::connect("/x", Some(json("{}")))
        );
        // The query is stripped from every packet's namespace.
        assert_eq!(
            decode_v4(r#"2/custom?x=1,3["e"]"#).unwrap(),
            Packet::event("/custom", "e", vec![]).with_id(3)
        );
        // v5 keeps the namespace verbatim.
        assert_eq!(decode("0/custom?x=1,").unwrap().nsp, "/custom?x=1");
        // The server's v4 replies.
        assert_eq!(
            decode_v4("0/admin,").unwrap(),
            Packet::connect("/admin", None)
        );
        assert_eq!(
            decode_v4(r#"4/admin,"not authorized""#).unwrap(),
            Packet::connect_error("/admin", Value::from("not authorized"))
        );
        assert_eq!(
            decode_v4(r#"4/admin,{"reason":"x"}"#).unwrap(),
            Packet::connect_error("/admin", json(r#"{"reason":"x"}"#))
        );
        // v4 ERROR may carry any JSON value.
        assert_eq!(
            decode_v4("4[1]").unwrap(),
            Packet::connect_error("/", json("[1]"))
        );
        assert_eq!(
            decode_v4("4true").unwrap(),
            Packet::connect_error("/", Value::Bool(true))
        );
        assert_eq!(
            decode_v4("4 42").unwrap(),
            Packet::connect_error("/", Value::from(42))
        );
        assert_eq!(
            decode_v4("4null").unwrap(),
            Packet::connect_error("/", Value::Null)
        );
        // The rest is validated as in v5.
        assert!(decode_v4("0\"str\"").is_err());
        assert!(decode_v4("1{}").is_err());
        assert!(decode_v4("2[]").is_err());
        // Encoding the client CONNECT and decoding it gives the auth back.
        let auth = json(r#"{"token":"a b&c=d","n":"1"}"#);
        let text = Packet::connect("/admin", Some(auth.clone()))
            .encode_with(ProtocolVersion::V4)
            .text;
        assert_eq!(
            decode_v4(&text).unwrap(),
            Packet::connect("/admin", Some(auth))
        );
    }

    #[test]
    fn roundtrip_all_types() {
        let packets = vec![
            Packet::connect("/", None),
            Packet::connect("/x", Some(json(r#"{"token":"t","n":[1,2.5,null]}"#))),
            Packet::disconnect("/"),
            Packet::disconnect("/dyn-abc-1"),
            Packet::event("/", "e", vec![]),
            Packet::event("/n", "e", vec![json(r#"{"k":[true,false,"é😀\n"]}"#)]).with_id(42),
            Packet::event("/n", "e", vec![bin(b""), bin(b"x")]).with_id(0),
            Packet::ack("/", 3, vec![]),
            Packet::ack("/n", u64::MAX, vec![Value::object([("b", bin(b"\x00"))])]),
            Packet::connect_error("/", json(r#"{"message":"m","data":{"code":4001}}"#)),
            Packet::connect_error("/n", Value::from("plain")),
        ];
        for p in packets {
            let e = p.encode();
            let mut d = Decoder::new();
            let mut out = d.decode_text(&e.text).unwrap();
            for a in &e.attachments {
                assert!(out.is_none());
                out = d.decode_binary(a.clone()).unwrap();
            }
            assert_eq!(out.as_ref(), Some(&p), "{}", e.text);
        }
    }

    use crate::socket::test_rng::Rng;

    fn random_string(rng: &mut Rng) -> String {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            "0",
            " ",
            "\"",
            "\\",
            "/",
            "\n",
            "\t",
            "\u{0}",
            "\u{1f}",
            "\u{7f}",
            "é",
            "日",
            "😀",
            "\u{2028}",
            "\u{fffd}",
            ",",
            "-",
            "_placeholder",
            "num",
        ];
        (0..rng.below(6))
            .map(|_| PIECES[rng.below(PIECES.len())])
            .collect()
    }

    fn random_value(rng: &mut Rng, depth: usize) -> Value {
        match rng.below(if depth > 4 { 6 } else { 9 }) {
            0 => Value::Null,
            1 => Value::Bool(rng.below(2) == 0),
            2 => Value::from(rng.next() as i64 >> rng.below(64)),
            3 => Value::from(f64::from_bits(rng.next())), // NaN/inf -> null
            4 => Value::from(random_string(rng)),
            5 => Value::Binary(Bytes::from(random_string(rng).into_bytes())),
            6 | 7 => Value::Array(
                (0..rng.below(4))
                    .map(|_| random_value(rng, depth + 1))
                    .collect(),
            ),
            _ => {
                let mut object = crate::socket::value::ObjectBuilder::with_capacity(0);
                for _ in 0..rng.below(4) {
                    object.insert(random_string(rng), random_value(rng, depth + 1));
                }
                object.finish()
            }
        }
    }

    #[test]
    fn decode_encode_roundtrip_random_values() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for round in 0..3_000 {
            let args: Vec<Value> = (0..rng.below(4))
                .map(|_| random_value(&mut rng, 0))
                .collect();
            let nsp = if round % 3 == 0 {
                "/".to_owned()
            } else {
                format!("/n{round}")
            };
            let mut packet = if round % 2 == 0 {
                Packet::event(nsp, random_string(&mut rng), args)
            } else {
                Packet::ack(nsp, rng.next(), args)
            };
            if round % 5 == 0 {
                packet.id = None;
            }
            if is_reserved_event(packet.event_name().unwrap_or_default()) {
                continue;
            }
            let encoded = packet.encode();
            let binaries = encoded.attachments.len();
            if binaries > DEFAULT_MAX_ATTACHMENTS {
                continue;
            }
            let mut decoder = Decoder::new();
            let mut decoded = decoder.decode_text(&encoded.text).unwrap();
            for attachment in encoded.attachments {
                decoded = decoder.decode_binary(attachment).unwrap();
            }
            assert_eq!(decoded.as_ref(), Some(&packet), "{}", packet.encode().text);
        }
    }

    #[test]
    fn never_panics_on_random_and_mutated_input() {
        let seeds = [
            r#"0/admin,{"token":"123"}"#,
            r#"2/chat,13["msg",{"a":1}]"#,
            r#"51-["srv",{"a":1},{"_placeholder":true,"num":0}]"#,
            r#"62-/n,7[{"_placeholder":true,"num":1},[{"_placeholder":true,"num":0}]]"#,
            r#"4/admin,{"message":"not authorized","data":{"reason":"x"}}"#,
            r#"0/custom?x=1&y=%C3%A9+z,"#,
            r#"31["ack",1e21,-0.5,"\ud83d\ude00\u0000"]"#,
            "1/admin,",
        ];
        let alphabet: &[u8] = b"0123456789-/,[]{}\":_placeholdernumtrue?&=%+\\u .eE\x00";
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut accepted = 0;
        for round in 0..20_000 {
            let mut bytes: Vec<u8> = if round % 5 == 0 {
                (0..rng.below(40))
                    .map(|_| alphabet[rng.below(alphabet.len())])
                    .collect()
            } else {
                seeds[rng.below(seeds.len())].as_bytes().to_vec()
            };
            for _ in 0..rng.below(4) {
                if bytes.is_empty() {
                    break;
                }
                let at = rng.below(bytes.len());
                match rng.below(4) {
                    0 => bytes[at] = alphabet[rng.below(alphabet.len())],
                    1 => {
                        bytes.remove(at);
                    }
                    2 => bytes.insert(at, alphabet[rng.below(alphabet.len())]),
                    _ => bytes.truncate(at),
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            for version in [ProtocolVersion::V5, ProtocolVersion::V4] {
                let mut d = Decoder::with_config(DecoderConfig::new(version));
                if let Ok(result) = d.decode_text(&text) {
                    accepted += 1;
                    let packet = match result {
                        Some(p) => p,
                        None => {
                            let mut out = None;
                            while d.is_awaiting_attachments() {
                                out = d.decode_binary(Bytes::from_static(b"b")).unwrap();
                            }
                            out.unwrap()
                        }
                    };
                    // Whatever was accepted encodes, and decodes back to itself (v5).
                    if version == ProtocolVersion::V5 {
                        let e = packet.encode();
                        let mut d2 = Decoder::new();
                        let mut again = d2.decode_text(&e.text).unwrap();
                        for a in e.attachments {
                            again = d2.decode_binary(a).unwrap();
                        }
                        assert_eq!(again, Some(packet), "{text:?} -> {}", e.text);
                    }
                }
                let _ = d.decode_binary(Bytes::new());
            }
        }
        assert!(accepted > 1000, "only {accepted} inputs accepted");
    }
}
