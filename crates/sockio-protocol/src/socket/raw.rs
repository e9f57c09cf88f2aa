//! Event arguments kept as the JSON text they arrived in.
//!
//! Most events are forwarded (broadcast, echoed back in an acknowledgement) or read into
//! a typed struct; building a [`Value`] tree for each of them and writing it back costs
//! more than the rest of the packet's trip. [`Decoder::decode_event_text`] therefore
//! checks the arguments of a plain EVENT without building them and hands them over as
//! [`RawArgs`]: parsed into values only when asked, written back as they came
//! ([`encode_raw_after`]).
//!
//! [`Decoder::decode_event_text`]: super::Decoder::decode_event_text

use super::json::{self, JsonError};
use super::value::Value;
use crate::Utf8Bytes;

/// A validated list of JSON arguments, as text: the inside of the packet's array after
/// the event name, without the separating comma, e.g. `{"a":1},"two",3` (empty for no
/// arguments). Cloning shares the text.
///
/// Decoded arguments share the bytes of the message they came in (no copy), so keeping
/// them keeps that message's buffer; [`RawArgs::parse`] them to hold on to the values
/// alone.
///
/// ```
/// use sockio_protocol::socket::{RawArgs, Value};
///
/// let args = RawArgs::from_json_list(r#"{"a":1}, "two" ,3"#).unwrap();
/// assert_eq!(args.parse(), vec![Value::from_json(r#"{"a":1}"#).unwrap(), "two".into(), 3.into()]);
/// assert!(RawArgs::from_json_list("1,").is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RawArgs {
    text: Utf8Bytes,
}

impl RawArgs {
    /// Validates `text` as a comma-separated list of JSON values (whitespace around
    /// them allowed; empty means no arguments), nested at most
    /// [`DEFAULT_MAX_DEPTH`](super::DEFAULT_MAX_DEPTH) levels.
    pub fn from_json_list(text: impl Into<Utf8Bytes>) -> Result<RawArgs, JsonError> {
        let text = text.into();
        json::validate_list(&text, super::DEFAULT_MAX_DEPTH)?;
        let trimmed = trim(&text);
        Ok(RawArgs {
            text: text.slice(trimmed).unwrap_or_default(),
        })
    }

    /// Wraps text the caller validated with [`json::validate_list`] or equivalent.
    pub(crate) fn validated(text: Utf8Bytes) -> RawArgs {
        RawArgs { text }
    }

    /// The JSON text of the list.
    pub fn as_str(&self) -> &str {
        self.text.as_str()
    }

    /// Whether there are no arguments.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The arguments as values.
    ///
    /// The text was validated when this was built, with the nesting limit of the
    /// decoder that built it, so this cannot fail.
    pub fn parse(&self) -> Vec<Value> {
        json::parse_list(self.text.as_str(), usize::MAX).unwrap_or_else(|e| {
            // Unreachable: the same reader validated this text.
            debug_assert!(false, "validated arguments failed to parse: {e}");
            Vec::new()
        })
    }
}

impl std::fmt::Debug for RawArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RawArgs").field(&self.as_str()).finish()
    }
}

/// The byte range of `text` without leading and trailing JSON whitespace.
fn trim(text: &str) -> std::ops::Range<usize> {
    let ws = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r');
    let start = text.len() - text.trim_start_matches(ws).len();
    let end = text.trim_end_matches(ws).len().max(start);
    start..end
}

/// A plain EVENT read by [`Decoder::decode_event_text`](super::Decoder::decode_event_text):
/// its arguments not parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    /// The namespace (`/` when the packet named none).
    pub nsp: Utf8Bytes,
    /// The acknowledgement id the sender asked for.
    pub id: Option<u64>,
    /// The event name (sharing the message's bytes when it holds no escape).
    pub event: Utf8Bytes,
    /// The arguments after the name.
    pub args: RawArgs,
}

/// Writes an EVENT (`event` is `Some`) or an ACK (`None`) whose arguments are `args`,
/// after `prefix` — the same text [`encode_after`](super::encode_after) writes for the
/// parsed arguments, except that the arguments are copied as they came (their
/// whitespace and number spelling included). Such arguments never hold binary, so the
/// packet is never a BINARY one; EVENT and ACK read the same in protocols v4 and v5.
///
/// ```
/// use sockio_protocol::socket::{encode_raw_after, RawArgs};
///
/// let args = RawArgs::from_json_list(r#"{"p":"x"}"#).unwrap();
/// assert_eq!(encode_raw_after("4", "/", Some(7), None, &args), r#"437[{"p":"x"}]"#);
/// assert_eq!(
///     encode_raw_after("4", "/chat", None, Some("msg"), &args),
///     r#"42/chat,["msg",{"p":"x"}]"#
/// );
/// ```
pub fn encode_raw_after(
    prefix: &str,
    nsp: &str,
    id: Option<u64>,
    event: Option<&str>,
    args: &RawArgs,
) -> String {
    // The exact length when the name needs no escape, so that the buffer becomes a
    // `Bytes` without another allocation.
    let name_len = event.map_or(0, |e| {
        let escapes = if json::plain_len(e.as_bytes()) == e.len() {
            0
        } else {
            16
        };
        e.len() + 2 + usize::from(!args.is_empty()) + escapes
    });
    let nsp_len = if nsp.is_empty() || nsp == "/" {
        0
    } else {
        nsp.len() + 1
    };
    let mut digits = itoa::Buffer::new();
    let id_text = id.map_or("", |id| digits.format(id));
    let mut text = String::with_capacity(
        prefix.len() + 1 + nsp_len + id_text.len() + 2 + name_len + args.text.len(),
    );
    text.push_str(prefix);
    text.push(if event.is_some() { '2' } else { '3' });
    if nsp_len > 0 {
        text.push_str(nsp);
        text.push(',');
    }
    text.push_str(id_text);
    text.push('[');
    if let Some(event) = event {
        json::write_str(&mut text, event);
        if !args.is_empty() {
            text.push(',');
        }
    }
    text.push_str(args.as_str());
    text.push(']');
    text
}

#[cfg(test)]
mod tests {
    use super::super::{encode_after, Decoder, Packet, ProtocolVersion};
    use super::*;

    #[test]
    fn raw_encoding_matches_the_encoding_of_parsed_arguments() {
        let cases = [
            "",
            "1",
            r#"{"p":"xx\"\\y","n":[1,{"d":null}],"t":true}"#,
            "\"héllo \u{2028}\",-2.5e-7,[]",
        ];
        for case in cases {
            let raw = RawArgs::from_json_list(case).unwrap();
            let values = raw.parse();
            for (nsp, id) in [
                ("/", None),
                ("/chat", Some(12)),
                ("", Some(0)),
                ("/", Some(u64::MAX)),
            ] {
                let mut ack = Packet::ack(nsp, 0, values.clone());
                ack.id = id;
                assert_eq!(
                    encode_raw_after("4", nsp, id, None, &raw),
                    encode_after(&ack, ProtocolVersion::V5, "4").text,
                    "{case}"
                );
                for name in ["ev\"ent", "plain", "é\n\u{1}"] {
                    let mut event = Packet::event(nsp, name, values.clone());
                    event.id = id;
                    let text = encode_raw_after("", nsp, id, Some(name), &raw);
                    assert_eq!(
                        text,
                        encode_after(&event, ProtocolVersion::V5, "").text,
                        "{case}"
                    );
                    if name == "plain" {
                        assert_eq!(text.len(), text.capacity(), "exact length for {text}");
                    }
                }
            }
        }
    }

    #[test]
    fn from_json_list_trims_and_refuses_what_the_parser_refuses() {
        assert_eq!(
            RawArgs::from_json_list(" 1 , 2 ").unwrap().as_str(),
            "1 , 2"
        );
        assert!(RawArgs::from_json_list("  ").unwrap().is_empty());
        for bad in [
            "1,",
            ",1",
            "1 2",
            "[",
            "{\"a\"}",
            "\"\\x\"",
            "01",
            "nul",
            "\"\u{1}\"",
        ] {
            assert!(RawArgs::from_json_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn decoded_raw_events_parse_like_the_full_decoder() {
        let texts = [
            r#"2["ev"]"#,
            r#"2["ev",1,"a",{"b":[true,null]}]"#,
            r#"2/chat,7[ "ev" , {"x":"\ud83d\ude00\ud800"} ]"#,
            r#"213["ev",{"_placeholder":true,"num":0}]"#,
            r#"2["ev",1e400,-0,2.50]"#,
        ];
        for text in texts {
            let raw = Decoder::new()
                .decode_event_text(&Utf8Bytes::from(text))
                .unwrap_or_else(|| panic!("no raw event for {text}"));
            let full = Decoder::new().decode_text(text).unwrap().unwrap();
            assert_eq!(raw.nsp.as_str(), full.nsp, "{text}");
            assert_eq!(raw.id, full.id, "{text}");
            assert_eq!(full.event_name(), Some(raw.event.as_str()), "{text}");
            assert_eq!(full.args(), Some(&raw.args.parse()[..]), "{text}");
        }
    }

    #[test]
    fn anything_else_is_left_to_the_full_decoder() {
        let texts = [
            // Not a plain event.
            "0",
            "1",
            r#"3["ev"]"#,
            r#"51-["ev",{"_placeholder":true,"num":0}]"#,
            // Numeric or escaped names, and every invalid payload.
            r#"2[1,"x"]"#,
            r#"2["disconnect"]"#,
            r#"2[]"#,
            r#"2"#,
            r#"2["ev",]"#,
            r#"2["ev",1 2]"#,
            r#"2["ev"] x"#,
            r#"2["ev",{"a":}]"#,
            r#"2{"ev":1}"#,
            r#"299999999999999999999999["ev"]"#,
        ];
        for text in texts {
            assert_eq!(
                Decoder::new().decode_event_text(&Utf8Bytes::from(text)),
                None,
                "{text}"
            );
        }
        let mut deep = String::from(r#"2["ev","#);
        deep.push_str(&"[".repeat(200));
        deep.push_str(&"]".repeat(200));
        deep.push(']');
        assert_eq!(
            Decoder::new().decode_event_text(&Utf8Bytes::from(deep.as_str())),
            None
        );
        // Waiting for attachments: the text is an error the full decoder reports.
        let mut d = Decoder::new();
        d.decode_text(r#"51-["ev",{"_placeholder":true,"num":0}]"#)
            .unwrap();
        assert_eq!(d.decode_event_text(&Utf8Bytes::from(r#"2["ev"]"#)), None);
        assert!(d.decode_text(r#"2["ev"]"#).is_err());
    }

    #[test]
    fn v4_namespaces_with_a_query_are_left_to_the_full_decoder() {
        let mut d = Decoder::with_config(super::super::DecoderConfig::new(ProtocolVersion::V4));
        assert_eq!(
            d.decode_event_text(&Utf8Bytes::from(r#"2/a?x=1,["ev"]"#)),
            None
        );
        let e = d
            .decode_event_text(&Utf8Bytes::from(r#"2/a,["ev"]"#))
            .unwrap();
        assert_eq!(e.nsp.as_str(), "/a");
    }
}
