//! `application/x-www-form-urlencoded` decoding, for query strings and JSONP form bodies.
//!
//! ```
//! use sockio_protocol::urlencoded;
//! let pairs: Vec<_> = urlencoded::pairs("EIO=4&transport=polling&name=a%20b+c").collect();
//! assert_eq!(pairs[2], ("name".to_string(), "a b c".to_string()));
//! ```

use std::borrow::Cow;

/// The decoded `(name, value)` pairs of `input`, in order. Pairs that do not decode to
/// UTF-8 are skipped; `%` not followed by two hex digits is kept literally (as browsers do).
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
    input
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode_component(k)?, decode_component(v)?))
        })
}

/// One name or value decoded leniently ([`decode_lenient`]), borrowed when it holds no
/// `+` or `%`; `None` when the decoded bytes are not UTF-8.
pub fn decode_component(s: &str) -> Option<Cow<'_, str>> {
    if !s.bytes().any(|b| b == b'+' || b == b'%') {
        return Some(Cow::Borrowed(s));
    }
    String::from_utf8(decode_lenient(s.as_bytes()))
        .ok()
        .map(Cow::Owned)
}

/// The decoded value of the first pair named `name`.
pub fn get(input: &str, name: &str) -> Option<String> {
    pairs(input).find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Strict decoding: `+` is a space, `%XX` a byte; a malformed escape is an error.
pub fn decode_strict(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = hex(*s.get(i + 1)?)?;
                let lo = hex(*s.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

/// Lenient decoding: like [`decode_strict`] but malformed escapes stay as they are.
pub fn decode_lenient(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                s.get(i + 1).and_then(|&b| hex(b)),
                s.get(i + 2).and_then(|&b| hex(b)),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        assert_eq!(decode_strict(b"a%20b+c%2B").unwrap(), b"a b c+");
        assert_eq!(decode_strict(b"%zz"), None);
        assert_eq!(decode_strict(b"%f"), None);
        assert_eq!(decode_lenient(b"100%+x%4"), b"100% x%4");
        assert_eq!(get("a=1&b=%C3%A9&b=2", "b").as_deref(), Some("é"));
        assert_eq!(get("flag&x=1", "flag").as_deref(), Some(""));
        assert_eq!(get("x=%FF", "x"), None);
    }
}
