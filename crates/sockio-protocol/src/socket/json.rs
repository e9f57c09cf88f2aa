//! JSON text <-> [`Value`], the way JavaScript does it.
//!
//! The writer produces exactly what `JSON.stringify` produces for the same data: compact,
//! only `"`, `\` and control characters escaped (so non-ASCII text, U+2028 and U+2029 go out
//! raw), control characters other than `\b \f \n \r \t` as lowercase `\u00xx`, and numbers
//! formatted like `Number.prototype.toString` (`1` for `1.0`, `1e+21`, `1e-7`).
//!
//! The parser reads JSON straight into [`Value`] (no intermediate tree), with a nesting
//! limit so that hostile input cannot exhaust the stack.

use std::fmt;
use std::fmt::Write as _;

use bytes::Bytes;
use serde_json::Number;

use super::value::{ObjectBuilder, Value};

/// JSON text that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} at byte {offset}")]
pub struct JsonError {
    offset: usize,
    reason: &'static str,
}

impl JsonError {
    /// Byte offset in the JSON text where the problem was found.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// What is wrong, e.g. `"unexpected character"` or `"nesting too deep"`.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

#[cfg(test)]
impl JsonError {
    /// An error value for tests that only compare variants.
    pub(crate) fn for_test(offset: usize) -> JsonError {
        JsonError {
            offset,
            reason: "test",
        }
    }
}

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

/// What the writer does with [`Value::Binary`] nodes.
pub(crate) enum BinaryMode<'a> {
    /// Write them as Node.js writes a `Buffer`: `{"type":"Buffer","data":[...]}`.
    NodeBuffer,
    /// Write a `{"_placeholder":true,"num":N}` marker and append the bytes to the list
    /// (N = position in the list).
    Placeholders(&'a mut Vec<Bytes>),
}

/// Writes `value` as compact JSON.
pub(crate) fn write_value(out: &mut String, value: &Value, binary: &mut BinaryMode<'_>) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item, binary);
            }
            out.push(']');
        }
        Value::Object(entries) => {
            out.push('{');
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, key);
                out.push(':');
                write_value(out, item, binary);
            }
            out.push('}');
        }
        Value::Binary(bytes) => match binary {
            BinaryMode::NodeBuffer => {
                out.push_str(r#"{"type":"Buffer","data":["#);
                for (i, byte) in bytes.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{byte}");
                }
                out.push_str("]}");
            }
            BinaryMode::Placeholders(list) => {
                let _ = write!(out, r#"{{"_placeholder":true,"num":{}}}"#, list.len());
                list.push(bytes.clone());
            }
        },
    }
}

/// Writes a JSON string literal, escaped as `JSON.stringify` does.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut at = 0;
    loop {
        let run = plain_len(&bytes[at..]);
        // `at` and `at + run` are at ASCII bytes (or the end), hence char boundaries.
        out.push_str(&s[at..at + run]);
        at += run;
        let Some(&b) = bytes.get(at) else {
            break;
        };
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                let _ = write!(out, "\\u{:04x}", b);
            }
        }
        at += 1;
    }
    out.push('"');
}

/// How many leading bytes of `bytes` a JSON string holds as they are: up to the first
/// `"`, `\` or control character. Sixteen bytes at a time with SSE2 (part of every
/// x86-64 CPU), then eight at a time.
#[cfg(target_arch = "x86_64")]
pub(crate) fn plain_len(bytes: &[u8]) -> usize {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    let mut i = 0;
    // SAFETY: SSE2 is in the x86-64 baseline, so these intrinsics are always available;
    // each unaligned 16-byte load reads `bytes[i..i + 16]`, inside the slice.
    unsafe {
        let quotes = _mm_set1_epi8(b'"' as i8);
        let backslashes = _mm_set1_epi8(b'\\' as i8);
        let last_control = _mm_set1_epi8(0x1f);
        while i + 16 <= bytes.len() {
            let x = _mm_loadu_si128(bytes.as_ptr().add(i).cast::<__m128i>());
            // A byte is a control character when min(byte, 0x1f) is the byte itself.
            let controls = _mm_cmpeq_epi8(_mm_min_epu8(x, last_control), x);
            let specials = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(x, quotes), _mm_cmpeq_epi8(x, backslashes)),
                controls,
            );
            let mask = _mm_movemask_epi8(specials) as u32;
            if mask != 0 {
                return i + mask.trailing_zeros() as usize;
            }
            i += 16;
        }
    }
    i + plain_len_swar(&bytes[i..])
}

/// [`plain_len`] without SIMD.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn plain_len(bytes: &[u8]) -> usize {
    plain_len_swar(bytes)
}

/// [`plain_len`] eight bytes at a time in a `u64`.
fn plain_len_swar(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_ne_bytes([b'"'; 8]);
    const BACKSLASHES: u64 = u64::from_ne_bytes([b'\\'; 8]);
    let mut chunks = bytes.chunks_exact(8);
    let mut i = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_ne_bytes(word);
        // The classic "has a byte below n" test (n <= 0x80) for n = 0x20, and for n = 1
        // on x ^ '"' and x ^ '\\' (a zero byte where x has one). Flags are exact about
        // whether such a byte exists. The three share `!x & HIGHS`: '"' and '\\' are
        // ASCII, so xoring with them keeps every byte's high bit.
        let below = x.wrapping_sub(ONES * 0x20)
            | (x ^ QUOTES).wrapping_sub(ONES)
            | (x ^ BACKSLASHES).wrapping_sub(ONES);
        if below & !x & HIGHS != 0 {
            break;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// Writes a number as JavaScript's `Number.prototype.toString` would.
///
/// Integers stored as integers are written exactly (even beyond 2^53, where JavaScript
/// would round), so that 64-bit values survive a trip between Rust peers.
pub(crate) fn write_number(out: &mut String, n: &Number) {
    if let Some(u) = n.as_u64() {
        out.push_str(itoa::Buffer::new().format(u));
    } else if let Some(i) = n.as_i64() {
        out.push_str(itoa::Buffer::new().format(i));
    } else {
        write_f64(out, n.as_f64().unwrap_or(f64::NAN));
    }
}

/// Writes an `f64` as JavaScript's `Number.prototype.toString` would (ryu-js: shortest
/// round-trip digits, `1e+21`, `1e-7`, `-0` as `0`); `NaN` and infinities as `null`
/// (what `JSON.stringify` writes for them).
pub(crate) fn write_f64(out: &mut String, f: f64) {
    if f.is_finite() {
        out.push_str(ryu_js::Buffer::new().format_finite(f));
    } else {
        out.push_str("null");
    }
}

/// A cheap upper-bound-ish guess of the JSON length of `value` (for `String` capacity),
/// and the number of binary nodes in it.
pub(crate) fn measure(value: &Value, binaries: &mut usize) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 12,
        Value::String(s) => s.len() + 2,
        Value::Array(items) => {
            items
                .iter()
                .map(|v| measure(v, binaries) + 1)
                .sum::<usize>()
                + 2
        }
        Value::Object(entries) => {
            entries
                .iter()
                .map(|(k, v)| k.len() + 4 + measure(v, binaries))
                .sum::<usize>()
                + 2
        }
        Value::Binary(_) => {
            *binaries += 1;
            32
        }
    }
}

/// Length guess for [`Value::to_json`].
pub(crate) fn estimate_len(value: &Value) -> usize {
    let mut binaries = 0;
    measure(value, &mut binaries)
}

/// Parses JSON text into a [`Value`], refusing nesting deeper than `max_depth`.
pub(crate) fn parse(text: &str, max_depth: usize) -> Result<Value, JsonError> {
    let mut parser = Parser::<true>::new(text, 0, max_depth);
    parser.skip_ws();
    let value = parser.value()?;
    parser.skip_ws();
    if parser.pos != parser.bytes.len() {
        return Err(parser.error("trailing characters"));
    }
    Ok(value)
}

/// Parses a comma-separated list of JSON values (the inside of an array, without the
/// brackets; empty text is an empty list), as elements at nesting depth 1.
pub(crate) fn parse_list(text: &str, max_depth: usize) -> Result<Vec<Value>, JsonError> {
    let mut items = Vec::new();
    Parser::<true>::new(text, 1, max_depth).list(|v| items.push(v))?;
    Ok(items)
}

/// Checks a comma-separated list of JSON values as [`parse_list`] would read it,
/// without building anything.
pub(crate) fn validate_list(text: &str, max_depth: usize) -> Result<(), JsonError> {
    Parser::<false>::new(text, 1, max_depth).list(|_| {})
}

/// Reads an event payload `["name",arg,...]` without building its arguments: the
/// event name and the byte range of the argument list inside `text` (from the first
/// argument's first byte to the last one's last byte; empty when there is none), every
/// argument validated as [`parse`] would read it.
///
/// `None` when the payload is not that shape with a string name, or is not valid JSON:
/// the caller then parses it fully, which gives the precise error.
pub(crate) fn scan_event(
    text: &str,
    max_depth: usize,
) -> Option<(std::borrow::Cow<'_, str>, std::ops::Range<usize>)> {
    let mut head = Parser::<true>::new(text, 1, max_depth);
    head.skip_ws();
    if head.peek() != Some(b'[') || max_depth == 0 {
        return None;
    }
    head.pos += 1;
    head.skip_ws();
    if head.peek() != Some(b'"') {
        return None;
    }
    let name = head.string_in_place().ok()?;
    let mut args = Parser::<false>::new(text, 1, max_depth);
    args.pos = head.pos;
    args.skip_ws();
    let range = match args.peek()? {
        b']' => args.pos..args.pos,
        b',' => {
            args.pos += 1;
            args.skip_ws();
            let start = args.pos;
            let end;
            loop {
                args.value().ok()?;
                let value_end = args.pos;
                args.skip_ws();
                match args.peek()? {
                    b',' => {
                        args.pos += 1;
                        args.skip_ws();
                    }
                    b']' => {
                        end = value_end;
                        break;
                    }
                    _ => return None,
                }
            }
            start..end
        }
        _ => return None,
    };
    args.pos += 1; // the closing bracket
    args.skip_ws();
    (args.pos == text.len()).then_some((name, range))
}

/// The JSON reader. With `BUILD` it builds [`Value`]s; without, it only checks the
/// grammar (the same code path, so both accept exactly the same texts) and allocates
/// nothing, returning [`Value::Null`] for every value.
struct Parser<'a, const BUILD: bool> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    max_depth: usize,
}

impl<'a, const BUILD: bool> Parser<'a, BUILD> {
    fn new(src: &'a str, depth: usize, max_depth: usize) -> Self {
        Parser {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            depth,
            max_depth,
        }
    }

    /// Reads `value (, value)*` up to the end of the text (nothing at all is an empty
    /// list), handing each value to `each`.
    fn list(&mut self, mut each: impl FnMut(Value)) -> Result<(), JsonError> {
        self.skip_ws();
        if self.pos == self.bytes.len() {
            return Ok(());
        }
        loop {
            self.skip_ws();
            each(self.value()?);
            self.skip_ws();
            match self.peek() {
                None => return Ok(()),
                Some(b',') => self.pos += 1,
                Some(_) => return Err(self.error("expected ','")),
            }
        }
    }
    fn error(&self, reason: &'static str) -> JsonError {
        JsonError {
            offset: self.pos,
            reason,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// `src[start..end]`; both ends are always ASCII positions, checked anyway.
    fn slice(&self, start: usize, end: usize) -> Result<&str, JsonError> {
        self.src
            .get(start..end)
            .ok_or_else(|| self.error("invalid UTF-8 boundary"))
    }

    fn value(&mut self) -> Result<Value, JsonError> {
        match self.peek() {
            None => Err(self.error("unexpected end of input")),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => {
                let s = self.string()?;
                Ok(if BUILD { Value::String(s) } else { Value::Null })
            }
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    fn literal(&mut self, word: &'static str, value: Value) -> Result<Value, JsonError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(if BUILD { value } else { Value::Null })
        } else {
            Err(self.error("invalid literal"))
        }
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        if self.depth >= self.max_depth {
            return Err(self.error("nesting too deep"));
        }
        self.depth += 1;
        self.pos += 1; // the opening bracket
        self.skip_ws();
        Ok(())
    }

    fn array(&mut self) -> Result<Value, JsonError> {
        self.enter()?;
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(if BUILD {
                Value::Array(items)
            } else {
                Value::Null
            });
        }
        loop {
            self.skip_ws();
            let item = self.value()?;
            if BUILD {
                items.push(item);
            } else {
                // Checking only: every value is `Null`, nothing to drop.
                debug_assert!(item.is_null());
                std::mem::forget(item);
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(self.error("unexpected end of input")),
                Some(_) => return Err(self.error("expected ',' or ']'")),
            }
        }
        self.depth -= 1;
        Ok(if BUILD {
            Value::Array(items)
        } else {
            Value::Null
        })
    }

    fn object(&mut self) -> Result<Value, JsonError> {
        self.enter()?;
        let mut object = ObjectBuilder::with_capacity(0);
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(if BUILD { object.finish() } else { Value::Null });
        }
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b'"') => {}
                None => return Err(self.error("unexpected end of input")),
                Some(_) => return Err(self.error("expected a string key")),
            }
            let key = self.string()?;
            self.skip_ws();
            match self.peek() {
                Some(b':') => self.pos += 1,
                None => return Err(self.error("unexpected end of input")),
                Some(_) => return Err(self.error("expected ':'")),
            }
            self.skip_ws();
            let value = self.value()?;
            if BUILD {
                object.insert(key, value);
            } else {
                // Checking only: every value is `Null`, nothing to drop.
                debug_assert!(value.is_null());
                std::mem::forget(value);
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(self.error("unexpected end of input")),
                Some(_) => return Err(self.error("expected ',' or '}'")),
            }
        }
        self.depth -= 1;
        Ok(if BUILD { object.finish() } else { Value::Null })
    }

    /// A string literal as a slice of the text when it holds no escape, decoded
    /// otherwise; `pos` is at the opening quote.
    fn string_in_place(&mut self) -> Result<std::borrow::Cow<'a, str>, JsonError> {
        let quote = self.pos;
        let start = quote + 1;
        let end = start + plain_len(&self.bytes[start..]);
        if self.bytes.get(end) == Some(&b'"') {
            self.pos = end + 1;
            let src: &'a str = self.src;
            return src
                .get(start..end)
                .map(std::borrow::Cow::Borrowed)
                .ok_or_else(|| self.error("invalid UTF-8 boundary"));
        }
        self.string().map(std::borrow::Cow::Owned)
    }

    /// Parses a string literal; `pos` is at the opening quote.
    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1;
        let start = self.pos;
        // Fast path: no escapes.
        self.pos += plain_len(&self.bytes[start..]);
        match self.peek() {
            None => return Err(self.error("unterminated string")),
            Some(b'"') => {
                let s = if BUILD {
                    self.slice(start, self.pos)?.to_owned()
                } else {
                    String::new()
                };
                self.pos += 1;
                return Ok(s);
            }
            Some(b'\\') => {}
            Some(_) => return Err(self.error("control character in string")),
        }
        let mut out = String::new();
        if BUILD {
            out.reserve(self.pos - start + 16);
            out.push_str(self.slice(start, self.pos)?);
        }
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                Some(0x00..=0x1f) => return Err(self.error("control character in string")),
                Some(_) => {
                    let run_start = self.pos;
                    self.pos += plain_len(&self.bytes[run_start..]);
                    if BUILD {
                        out.push_str(self.slice(run_start, self.pos)?);
                    }
                }
            }
        }
    }

    /// Parses the escape after a backslash.
    fn escape(&mut self, out: &mut String) -> Result<(), JsonError> {
        let c = match self.peek() {
            None => return Err(self.error("unterminated string")),
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let unit = self.hex4()?;
                let c = match unit {
                    0xD800..=0xDBFF => self.low_surrogate(unit)?,
                    // A lone low surrogate: JavaScript keeps it, Rust strings cannot.
                    0xDC00..=0xDFFF => char::REPLACEMENT_CHARACTER,
                    _ => char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER),
                };
                if BUILD {
                    out.push(c);
                }
                return Ok(());
            }
            Some(_) => return Err(self.error("invalid escape")),
        };
        self.pos += 1;
        if BUILD {
            out.push(c);
        }
        Ok(())
    }

    /// After a high surrogate `\uD8xx`: combines it with a following `\uDCxx`, or yields
    /// U+FFFD for a lone high surrogate (leaving what follows to be parsed normally).
    fn low_surrogate(&mut self, high: u32) -> Result<char, JsonError> {
        if self.bytes[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let low = self.hex4()?;
            if (0xDC00..=0xDFFF).contains(&low) {
                let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                return Ok(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            self.pos = save;
        }
        Ok(char::REPLACEMENT_CHARACTER)
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut unit = 0u32;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err(self.error("invalid \\u escape")),
            };
            unit = unit * 16 + u32::from(digit);
            self.pos += 1;
        }
        Ok(unit)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number")),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
            integer = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
            integer = false;
        }
        if !BUILD {
            return Ok(Value::Null);
        }
        let text = self.slice(start, self.pos)?;
        if integer {
            if negative {
                if let Ok(i) = text.parse::<i64>() {
                    return Ok(Value::Number(Number::from(i)));
                }
            } else if let Ok(u) = text.parse::<u64>() {
                return Ok(Value::Number(Number::from(u)));
            }
        }
        match text.parse::<f64>() {
            // Overflow to infinity: JavaScript gets Infinity, which it writes as null.
            Ok(f) => Ok(Value::from_f64(f)),
            Err(_) => Err(JsonError {
                offset: start,
                reason: "invalid number",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
