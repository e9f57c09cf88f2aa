//! JSON text <-> [`Value`], the way JavaScript does it.
//!
//! The writer produces exactly what `JSON.stringify` produces for the same data: compact,
//! only `"`, `\` and control characters escaped (so non-ASCII text, U+2028 and U+2029 go out
//! raw), control characters other than `\b \f \n \r \t` as lowercase `\u00xx`, and numbers
//! formatted like `Number.prototype.toString` (`1` for `1.0`, `1e+21`, `1e-7`).
//!
//! The parser reads JSON straight into [`Value`] (no intermediate tree), with a nesting
//! limit so that hostile input cannot exhaust the stack.

mod read;
mod write;

use std::fmt;

pub(crate) use crate::json_string::{plain_len, write_str};
pub use read::JsonError;
pub(crate) use read::{parse, parse_list, scan_event, validate_list};
pub(crate) use write::{estimate_len, measure, write_f64, write_number, write_value, BinaryMode};

use super::value::Value;

impl Value {
    /// Parses JSON text (as `JSON.parse` accepts it) into a value.
    ///
    /// Duplicate object keys keep the position of their first occurrence and the value of
    /// their last one, as in JavaScript. Nesting deeper than
    /// [`DEFAULT_MAX_DEPTH`](super::DEFAULT_MAX_DEPTH) is refused. An escaped lone UTF-16
    /// surrogate (`"\ud800"`), which Rust strings cannot hold, becomes U+FFFD. Numbers
    /// whose magnitude overflows `f64` (`1e400`) become [`Value::Null`], which is what
    /// JavaScript would write back for the resulting `Infinity`.
    pub fn from_json(text: &str) -> Result<Value, JsonError> {
        parse(text, super::DEFAULT_MAX_DEPTH)
    }

    /// Writes the value as compact JSON, byte for byte as `JSON.stringify` would.
    ///
    /// Binary nodes are written the way Node.js writes a `Buffer`:
    /// `{"type":"Buffer","data":[1,2,3]}`. (Packet encoding does not use this form for
    /// event and ack arguments: there, binary becomes attachments.)
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(estimate_len(self));
        write_value(&mut out, self, &mut BinaryMode::NodeBuffer);
        out
    }
}

/// Writes the value as `JSON.stringify` would ([`Value::to_json`]).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::json_string::plain_len_swar;

    fn roundtrip(text: &str) -> String {
        parse(text, 128).unwrap().to_json()
    }

    #[test]
    fn validating_accepts_exactly_what_parsing_accepts() {
        let texts = [
            "",
            " ",
            "1",
            "1,2",
            "1,",
            ",",
            "1 2",
            "-",
            "-0",
            "01",
            "1.",
            "1.5e",
            "1e+5",
            "1E-2",
            "\"a\"",
            "\"a",
            "\"\\u12\"",
            "\"\\ud800\\udc00\"",
            "\"\\q\"",
            "\"\u{1}\"",
            "\"\\n\\t\\/\"",
            "[]",
            "[1,]",
            "[,1]",
            "{}",
            "{\"a\":1}",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{1:2}",
            "true",
            "tru",
            "null",
            "nul",
            "false,true",
            "[[[]]]",
            "[[[]]",
            "{\"a\":[{\"b\":null}]}",
            "\"é\"",
            "1 , [2 , {\"x\" : \"y\"}] ",
        ];
        for text in texts {
            for depth in [0, 1, 2, 3, 128] {
                assert_eq!(
                    validate_list(text, depth).is_ok(),
                    parse_list(text, depth).is_ok(),
                    "{text:?} at depth {depth}"
                );
            }
        }
    }

    #[test]
    fn plain_len_stops_at_the_first_byte_to_escape() {
        let naive = |b: &[u8]| {
            b.iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .unwrap_or(b.len())
        };
        // Every byte value at every position of strings around the 8-byte chunk size,
        // over a background of ASCII and of bytes with the high bit set.
        for background in [b'a', 0xc3, 0x7f, 0x80, 0xff, 0x21] {
            for len in [0usize, 1, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 47, 50] {
                for at in 0..len {
                    for special in 0u8..=255 {
                        let mut v = vec![background; len];
                        v[at] = special;
                        assert_eq!(
                            plain_len(&v),
                            naive(&v),
                            "{background:#x} {len} {at} {special:#x}"
                        );
                        assert_eq!(plain_len_swar(&v), naive(&v));
                        if at + 1 < len {
                            v[at + 1] = b'"';
                            assert_eq!(plain_len(&v), naive(&v));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn long_strings_with_escapes_round_trip() {
        let text = "plain text, then \"quoted\" and a \\ backslash, a tab\t, a bell\u{7}, é and ✓ — repeated";
        let long = text.repeat(9);
        let json = Value::String(long.clone()).to_json();
        assert_eq!(json, serde_json::to_string(&long).unwrap());
        assert_eq!(parse(&json, 8).unwrap(), Value::String(long));
    }

    #[test]
    fn writes_like_json_stringify() {
        // Expected strings come from Node 20's JSON.stringify.
        assert_eq!(
            roundtrip(r#" { "a" : [ 1 , 2 ] , "b" : { } , "c" : [ ] } "#),
            r#"{"a":[1,2],"b":{},"c":[]}"#
        );
        assert_eq!(
            roundtrip(r#""\u0000\u0001\u001f\b\f\n\r\t\"\\\/\u007f""#),
            "\"\\u0000\\u0001\\u001f\\b\\f\\n\\r\\t\\\"\\\\/\u{7f}\""
        );
        assert_eq!(
            roundtrip(r#""é日😀\u2028\u2029""#),
            "\"é日😀\u{2028}\u{2029}\""
        );
        assert_eq!(roundtrip(r#""\ud83d\ude00""#), "\"😀\"");
        assert_eq!(roundtrip(r#""<script>&'""#), r#""<script>&'""#);
    }

    #[test]
    fn numbers_like_javascript() {
        let cases = [
            ("0", "0"),
            ("-0", "0"),
            ("-0.0", "0"),
            ("1.0", "1"),
            ("1.50", "1.5"),
            ("-12", "-12"),
            ("1e3", "1000"),
            ("1E+3", "1000"),
            ("0.1", "0.1"),
            ("123.456", "123.456"),
            ("1e21", "1e+21"),
            ("1e20", "100000000000000000000"),
            ("123e25", "1.23e+27"),
            ("0.000001", "0.000001"),
            ("0.0000001", "1e-7"),
            ("-1.5e-10", "-1.5e-10"),
            ("1e400", "null"),
            ("-1e400", "null"),
            ("5e-400", "0"),
            ("18446744073709551615", "18446744073709551615"),
            ("-9223372036854775808", "-9223372036854775808"),
            ("18446744073709551616", "18446744073709552000"),
            ("123456789012345678901234", "1.2345678901234569e+23"),
            ("9007199254740993.5", "9007199254740994"),
            ("1.7976931348623157e308", "1.7976931348623157e+308"),
            ("5e-324", "5e-324"),
        ];
        for (input, expected) in cases {
            assert_eq!(roundtrip(input), expected, "input {input}");
        }
        let mut out = String::new();
        write_f64(&mut out, f64::NAN);
        assert_eq!(out, "null");
    }

    #[test]
    fn duplicate_keys_last_wins_first_position() {
        assert_eq!(roundtrip(r#"{"a":1,"b":2,"a":3}"#), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn lone_surrogates_become_replacement_char() {
        assert_eq!(parse(r#""\ud800""#, 8).unwrap(), Value::from("\u{fffd}"));
        assert_eq!(parse(r#""\udc00x""#, 8).unwrap(), Value::from("\u{fffd}x"));
        assert_eq!(
            parse(r#""\ud800\u0041""#, 8).unwrap(),
            Value::from("\u{fffd}A")
        );
        assert_eq!(
            parse(r#""\ud800\ud83d\ude00""#, 8).unwrap(),
            Value::from("\u{fffd}😀")
        );
    }

    #[test]
    fn rejects_what_json_parse_rejects() {
        let bad = [
            "",
            " ",
            "{",
            "[",
            "]",
            "}",
            "[1,]",
            "[,1]",
            "{,}",
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{a:1}"#,
            "{'a':1}",
            "'x'",
            "01",
            "-",
            "+1",
            "1.",
            ".5",
            "1e",
            "1e+",
            "0x10",
            "NaN",
            "Infinity",
            "undefined",
            "tru",
            "nul",
            "falsey",
            r#""abc"#,
            r#""\x""#,
            r#""\u12""#,
            r#""\u12g4""#,
            "\"a\nb\"",
            "\"\t\"",
            "[1 2]",
            "1 2",
            "{}{}",
            r#"{"a":}"#,
            "[1]x",
            "\u{feff}1",
        ];
        for text in bad {
            assert!(parse(text, 128).is_err(), "accepted {text:?}");
        }
    }

    #[test]
    fn error_positions() {
        let e = parse("[1,x]", 128).unwrap_err();
        assert_eq!(e.offset(), 3);
        assert_eq!(e.reason(), "unexpected character");
        assert_eq!(e.to_string(), "unexpected character at byte 3");
        assert_eq!(
            parse("[1] 2", 128).unwrap_err().reason(),
            "trailing characters"
        );
    }

    #[test]
    fn depth_limit() {
        let ok = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert!(parse(&ok, 128).is_ok());
        let too_deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
        assert_eq!(
            parse(&too_deep, 128).unwrap_err().reason(),
            "nesting too deep"
        );
        let objects = format!("{}1{}", r#"{"a":"#.repeat(129), "}".repeat(129));
        assert_eq!(
            parse(&objects, 128).unwrap_err().reason(),
            "nesting too deep"
        );
        // Deep input never overflows the stack.
        let huge = "[".repeat(1_000_000);
        assert!(parse(&huge, 128).is_err());
    }

    #[test]
    fn agrees_with_serde_json() {
        let docs = [
            r#"{"a":[1,-2,3.25,true,false,null,"x\"y"],"b":{"c":{}},"d":[]}"#,
            r#"[1e5,-0.5,12345678901234567890,"\u00e9\ud83d\ude00",{"k":"\n"}]"#,
            r#""just a string""#,
            "42",
        ];
        for doc in docs {
            let ours = parse(doc, 128).unwrap();
            let theirs: serde_json::Value = serde_json::from_str(doc).unwrap();
            assert_eq!(ours, Value::from(theirs), "{doc}");
        }
    }

    #[test]
    fn placeholders_and_buffers() {
        let v = Value::Array(vec![
            Value::Binary(Bytes::from_static(&[1, 2])),
            Value::object([("x", Value::Binary(Bytes::new()))]),
        ]);
        let mut list = Vec::new();
        let mut out = String::new();
        write_value(&mut out, &v, &mut BinaryMode::Placeholders(&mut list));
        assert_eq!(
            out,
            r#"[{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1}}]"#
        );
        assert_eq!(list, vec![Bytes::from_static(&[1, 2]), Bytes::new()]);
        assert_eq!(
            v.to_json(),
            r#"[{"type":"Buffer","data":[1,2]},{"x":{"type":"Buffer","data":[]}}]"#
        );
        let mut binaries = 0;
        measure(&v, &mut binaries);
        assert_eq!(binaries, 2);
    }
}
