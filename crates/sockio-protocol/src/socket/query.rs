//! The namespace query string of protocol v4 (socket.io-client 2.x): `0/admin?x=1&y=two,`.
//!
//! A v2 client sends its `query` option inside the CONNECT packet's namespace; socket.io
//! 4.8 reads it with `new URL(nsp, base)` and uses `searchParams` as the handshake auth
//! object. This module does the same splitting and `application/x-www-form-urlencoded`
//! decoding, and the encoding the v2 client does (`encodeURIComponent`).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

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
/// `Object.fromEntries(new URLSearchParams(query))` (decoded by
/// [`urlencoded::pairs_borrowed`](crate::urlencoded::pairs_borrowed)); a repeated name
/// keeps its first position and its last value.
pub(crate) fn parse_query(query: &str) -> Value {
    let mut object = ObjectBuilder::with_capacity(0);
    for (name, value) in crate::urlencoded::pairs_borrowed(query) {
        object.insert(name.into_owned(), Value::String(value.into_owned()));
    }
    object.finish()
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

/// What `encodeURIComponent` leaves as it is: `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// `encodeURIComponent`: everything else percent-encoded as UTF-8, uppercase hex.
fn uri_component(out: &mut String, s: &str) {
    out.extend(utf8_percent_encode(s, URI_COMPONENT));
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
