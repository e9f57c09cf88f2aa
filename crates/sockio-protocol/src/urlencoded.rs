//! `application/x-www-form-urlencoded` decoding, for query strings and JSONP form bodies:
//! the crate's one URL decoder, on `form_urlencoded` / `percent-encoding`.
//!
//! Names and values decode as `URLSearchParams` (socket.io's namespace queries) and
//! Node.js's `querystring` (Engine.IO's handshake) decode them: `+` is a space, `%XX` a
//! byte, a `%` not followed by two hex digits kept literally, bytes that are not UTF-8
//! replaced by U+FFFD.
//!
//! ```
//! use sockio_protocol::urlencoded;
//! let pairs: Vec<_> = urlencoded::pairs("EIO=4&transport=polling&name=a%20b+c").collect();
//! assert_eq!(pairs[2], ("name".to_string(), "a b c".to_string()));
//! ```

use std::borrow::Cow;

/// The decoded `(name, value)` pairs of `input`, in order (empty pairs skipped, a pair
/// without `=` has an empty value).
pub fn pairs(input: &str) -> impl Iterator<Item = (String, String)> + '_ {
    pairs_borrowed(input).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

/// [`pairs`], borrowing from `input` every name and value that has nothing to decode.
///
/// ```
/// use std::borrow::Cow;
/// use sockio_protocol::urlencoded;
/// let pairs: Vec<_> = urlencoded::pairs_borrowed("EIO=4&name=a%20b").collect();
/// assert!(matches!(pairs[0], (Cow::Borrowed("EIO"), Cow::Borrowed("4"))));
/// assert_eq!(pairs[1].1, "a b");
/// ```
pub fn pairs_borrowed(input: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> + '_ {
    // A query with nothing to decode (the usual handshake: `EIO=4&transport=websocket`)
    // is only split, which form_urlencoded would do at 1.5x the instructions (it
    // re-validates the text as UTF-8); anything with `+` or `%` goes to it.
    let plain = !input.bytes().any(|b| b == b'+' || b == b'%');
    let split = plain.then(|| {
        input.split('&').filter(|p| !p.is_empty()).map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (Cow::Borrowed(k), Cow::Borrowed(v))
        })
    });
    let decoded = (!plain).then(|| form_urlencoded::parse(input.as_bytes()));
    split
        .into_iter()
        .flatten()
        .chain(decoded.into_iter().flatten())
}

/// The decoded value of the first pair named `name`.
pub fn get(input: &str, name: &str) -> Option<String> {
    pairs_borrowed(input)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Strict decoding of one name or value (to bytes): `+` is a space, `%XX` a byte; a `%`
/// not followed by two hex digits is an error (`None`).
pub fn decode_strict(s: &[u8]) -> Option<Vec<u8>> {
    let well_formed = s.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || (s.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    let spaced: Cow<'_, [u8]> = if s.contains(&b'+') {
        Cow::Owned(
            s.iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    };
    Some(percent_encoding::percent_decode(&spaced).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        assert_eq!(decode_strict(b"a%20b+c%2B").unwrap(), b"a b c+");
        assert_eq!(decode_strict(b"%zz"), None);
        assert_eq!(decode_strict(b"%f"), None);
        assert_eq!(decode_strict(b"%%41"), None);
        assert_eq!(decode_strict(b"%C3%A9"), Some("é".as_bytes().to_vec()));
        assert_eq!(get("a=1&b=%C3%A9&b=2", "b").as_deref(), Some("é"));
        assert_eq!(get("flag&x=1", "flag").as_deref(), Some(""));
        // Lenient: malformed escapes kept, bytes that are not UTF-8 replaced (as Node.js's
        // querystring and URLSearchParams do).
        assert_eq!(get("x=100%+x%4", "x").as_deref(), Some("100% x%4"));
        assert_eq!(get("x=%FF", "x").as_deref(), Some("\u{fffd}"));
        assert_eq!(get("&&x=1&&", "x").as_deref(), Some("1"));
        // The plain fast path splits as form_urlencoded does.
        for q in [
            "",
            "&&a&&",
            "a=1&b=2&a=3",
            "a=b=c",
            "=v",
            "flag&x=",
            "x=1&y=two",
        ] {
            assert_eq!(
                pairs_borrowed(q).collect::<Vec<_>>(),
                form_urlencoded::parse(q.as_bytes()).collect::<Vec<_>>(),
                "{q:?}"
            );
        }
    }
}
