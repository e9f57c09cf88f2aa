//! Hand-written: serde_json's serializer was slower on the bench contract's event object (78-91 vs 70-74 ns; strings go through json_string's SSE2 scan); numbers use ryu-js and itoa.
//!
//! The JSON writer: exactly what `JSON.stringify` produces for the same data.

use std::fmt::Write as _;

use bytes::Bytes;
use serde_json::Number;

use crate::json_string::write_str;
use crate::socket::value::Value;

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
