//! Hand-written: serde_json refuses what `JSON.parse` accepts (`"\ud800"`, `1e400`) and its depth limit is fixed; its `RawValue` check was slower too (91-109 vs 78-87 ns per event).
//!
//! The JSON reader: text straight into [`Value`] (no intermediate tree), or — the same
//! grammar, nothing built — only checked, with a nesting limit so that hostile input
//! cannot exhaust the stack.

use serde_json::Number;

use crate::json_string::plain_len;
use crate::socket::value::{ObjectBuilder, Value};

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
