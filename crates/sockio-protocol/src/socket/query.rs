//! The namespace query string of protocol v4 (socket.io-client 2.x): `0/admin?x=1&y=two,`.
//!
//! A v2 client sends its `query` option inside the CONNECT packet's namespace; socket.io
//! 4.8 reads it with `new URL(nsp, base)` and uses `searchParams` as the handshake auth
//! object. This module does the same splitting and `application/x-www-form-urlencoded`
//! decoding, and the encoding the v2 client does (`encodeURIComponent`).

use std::fmt::Write as _;

use super::json;
use super::value::{ObjectBuilder, Value};

/// Splits a namespace into its path and its query string (without `?`), dropping any
/// `#fragment`: `/admin?x=1` -> (`/admin`, `Some("x=1")`).
pub(crate) fn split_namespace(nsp: &str) -> (&str, Option<&str>) {
    let without_fragment = nsp.split_once('#').map_or(nsp, |(before, _)| before);
    match without_fragment.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (without_fragment, None),
    }
}

/// Parses a query string into an object of strings, like
/// `Object.fromEntries(new URLSearchParams(query))`: pairs split on `&` (empty ones
/// skipped), name and value split at the first `=`, `+` is a space, `%XX` escapes
/// decoded (malformed ones kept literally, invalid UTF-8 replaced by U+FFFD); a repeated
/// name keeps its first position and its last value.
pub(crate) fn parse_query(query: &str) -> Value {
    let mut object = ObjectBuilder::with_capacity(0);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        object.insert(form_decode(name), Value::String(form_decode(value)));
    }
    object.finish()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex_value);
                let lo = bytes.get(i + 2).copied().and_then(hex_value);
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Writes `entries` as socket.io-client 2.x writes its `query` option:
/// `encodeURIComponent(key) + "=" + encodeURIComponent(String(value))`, joined by `&`.
/// Strings are written as they are, numbers, booleans and `null` as JavaScript's
/// `String()` writes them; arrays, objects and binary (which a query cannot really hold)
/// as their compact JSON text.
pub(crate) fn encode_query(out: &mut String, entries: &[(String, Value)]) {
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        uri_component(out, key);
        out.push('=');
        match value {
            Value::String(s) => uri_component(out, s),
            other => uri_component(out, &other.to_json()),
        }
    }
}

/// `encodeURIComponent`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` percent-encoded
/// as UTF-8, uppercase hex.
fn uri_component(out: &mut String, s: &str) {
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// The string JavaScript's `String(n)` gives for a number value (used for numeric event
/// names).
pub(crate) fn number_to_string(n: &serde_json::Number) -> String {
    let mut out = String::new();
    json::write_number(&mut out, n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_path_query_fragment() {
        assert_eq!(split_namespace("/admin"), ("/admin", None));
        assert_eq!(split_namespace("/admin?x=1"), ("/admin", Some("x=1")));
        assert_eq!(split_namespace("/admin?"), ("/admin", Some("")));
        assert_eq!(split_namespace("/a?x=1#frag"), ("/a", Some("x=1")));
        assert_eq!(split_namespace("/a#f?x=1"), ("/a", None));
        assert_eq!(split_namespace("/?x=1"), ("/", Some("x=1")));
    }

    #[test]
    fn parses_like_url_search_params() {
        // Expected values checked against Node 20:
        // Object.fromEntries(new URLSearchParams(q)) then JSON.stringify.
        let cases = [
            ("x=1&y=two", r#"{"x":"1","y":"two"}"#),
            ("", "{}"),
            ("&&a&&", r#"{"a":""}"#),
            ("a=1&b=2&a=3", r#"{"a":"3","b":"2"}"#),
            ("a=b=c", r#"{"a":"b=c"}"#),
            ("=v", r#"{"":"v"}"#),
            ("q=a+b%20c%2Bd", r#"{"q":"a b c+d"}"#),
            ("k=%E6%97%A5%F0%9F%98%80", r#"{"k":"日😀"}"#),
            ("k=%zz%4&k2=%", r#"{"k":"%zz%4","k2":"%"}"#),
            ("k=%FF", r#"{"k":"�"}"#),
            ("t%C3%A9=1", r#"{"té":"1"}"#),
        ];
        for (query, expected) in cases {
            assert_eq!(parse_query(query).to_json(), expected, "query {query:?}");
        }
    }

    #[test]
    fn encodes_like_encode_uri_component() {
        let entries = vec![
            ("x".to_owned(), Value::from("1")),
            ("sp ace&=".to_owned(), Value::from("a b+c/d?é")),
            ("n".to_owned(), Value::from(1.5)),
            ("b".to_owned(), Value::from(true)),
            ("z".to_owned(), Value::Null),
            ("safe".to_owned(), Value::from("-_.!~*'()")),
            ("o".to_owned(), Value::object([("k", 1)])),
        ];
        let mut out = String::new();
        encode_query(&mut out, &entries);
        assert_eq!(
            out,
            "x=1&sp%20ace%26%3D=a%20b%2Bc%2Fd%3F%C3%A9&n=1.5&b=true&z=null&safe=-_.!~*'()&o=%7B%22k%22%3A1%7D"
        );
        // And back.
        let parsed = parse_query(&out);
        assert_eq!(parsed.get("sp ace&="), Some(&Value::from("a b+c/d?é")));
        assert_eq!(parsed.get("o"), Some(&Value::from(r#"{"k":1}"#)));
    }

    #[test]
    fn numeric_strings() {
        let n = serde_json::Number::from_f64(1e21).unwrap();
        assert_eq!(number_to_string(&n), "1e+21");
        assert_eq!(number_to_string(&serde_json::Number::from(7u8)), "7");
    }
}
