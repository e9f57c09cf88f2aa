//! Hand-written: no library value type holds JSON plus binary with keys in order (serde_json::Value has no binary; rmpv::Value would change the public type the server uses).
//!
//! [`Value`]: the dynamic payload of Socket.IO packets — JSON plus binary.

use std::borrow::Cow;
use std::collections::HashMap;

use bytes::Bytes;
use serde_json::Number;

/// A Socket.IO payload value: anything `JSON.stringify` can write, plus binary data.
///
/// Socket.IO payloads are JSON in which any node may also be a binary buffer (a Node.js
/// `Buffer`, an `ArrayBuffer`, a typed array). On the wire each buffer travels as a separate
/// attachment and leaves a `{"_placeholder":true,"num":N}` marker in the JSON text; in a
/// [`Value`] it is simply a [`Value::Binary`] node.
///
/// Objects keep their keys in insertion order (a `Vec` of pairs, not a map): the wire order
/// of keys, and therefore the numbering of binary placeholders, depends on it. Values
/// decoded from the wire never hold duplicate keys (the last occurrence wins, as in
/// `JSON.parse`); values built by hand may, and the accessors then see the last one.
///
/// Numbers follow JavaScript, which has a single number type: an integral value is held
/// as an integer whether it was written `2`, `2.0` or `2e0` (see [`Value::from_f64`]),
/// and numbers are written back as `JSON.stringify` writes them.
///
/// Use [`to_value`](super::to_value) and [`from_value`](super::from_value) to convert from
/// and to typed Rust data; binary fields (`bytes::Bytes`, `serde_bytes`) become
/// [`Value::Binary`].
///
/// ```
/// use sockio_protocol::socket::Value;
///
/// let v = Value::from_json(r#"{"name":"ann","tags":["a","b"],"n":1.5}"#).unwrap();
/// assert_eq!(v.get("name").and_then(Value::as_str), Some("ann"));
/// assert_eq!(v.get("n").and_then(Value::as_f64), Some(1.5));
/// assert_eq!(v.to_json(), r#"{"name":"ann","tags":["a","b"],"n":1.5}"#);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    /// JSON `null` (also what `undefined` array entries, `NaN` and infinities become).
    #[default]
    Null,
    /// JSON `true` / `false`.
    Bool(bool),
    /// A JSON number.
    Number(Number),
    /// A JSON string.
    String(String),
    /// A JSON array.
    Array(Vec<Value>),
    /// A JSON object, keys in insertion order.
    Object(Vec<(String, Value)>),
    /// Binary data: sent as an attachment, never inside the JSON text.
    Binary(Bytes),
}

impl Value {
    /// The name of the value's JSON type, as used in error messages: `"null"`,
    /// `"boolean"`, `"number"`, `"string"`, `"array"`, `"object"` or `"binary"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            Value::Binary(_) => "binary",
        }
    }

    /// Whether the value is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The boolean, if the value is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, if the value is one.
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The number as `u64`, if the value is a non-negative integer that fits.
    ///
    /// Integral floats (`3.0`) count as integers here, as they do in JavaScript.
    pub fn as_u64(&self) -> Option<u64> {
        let n = self.as_number()?;
        n.as_u64().or_else(|| {
            let f = n.as_f64()?;
            (f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&f))
                .then_some(f as u64)
        })
    }

    /// The number as `i64`, if the value is an integer that fits.
    ///
    /// Integral floats (`-3.0`) count as integers here, as they do in JavaScript.
    pub fn as_i64(&self) -> Option<i64> {
        let n = self.as_number()?;
        n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            (f.fract() == 0.0
                && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f))
            .then_some(f as i64)
        })
    }

    /// The number as `f64` (possibly rounded), if the value is a number.
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number()?.as_f64()
    }

    /// The string, if the value is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, if the value is an array.
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The elements, mutably, if the value is an array.
    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The entries, if the value is an object.
    pub fn as_object(&self) -> Option<&Vec<(String, Value)>> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The entries, mutably, if the value is an object.
    pub fn as_object_mut(&mut self) -> Option<&mut Vec<(String, Value)>> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The bytes, if the value is binary.
    pub fn as_binary(&self) -> Option<&Bytes> {
        match self {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// The value under `key`, if the value is an object that has it (the last such entry
    /// if the key occurs more than once).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The value under `key`, mutably (see [`get`](Self::get)).
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.as_object_mut()?
            .iter_mut()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Sets `key` to `value` in an object: replaces the existing entry in place, or appends
    /// a new one. Returns the previous value. A value that is not an object is first
    /// replaced by an empty object.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        if !matches!(self, Value::Object(_)) {
            *self = Value::Object(Vec::new());
        }
        let key = key.into();
        let value = value.into();
        if let Some(slot) = self.get_mut(&key) {
            return Some(std::mem::replace(slot, value));
        }
        if let Value::Object(entries) = self {
            entries.push((key, value));
        }
        None
    }

    /// Takes the value out, leaving [`Value::Null`] in its place.
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }

    /// Whether a [`Value::Binary`] occurs anywhere in the value.
    pub fn has_binary(&self) -> bool {
        match self {
            Value::Binary(_) => true,
            Value::Array(a) => a.iter().any(Value::has_binary),
            Value::Object(o) => o.iter().any(|(_, v)| v.has_binary()),
            _ => false,
        }
    }

    /// Builds an object from `(key, value)` pairs, in order, without checking for
    /// duplicate keys.
    pub fn object<K, V, I>(entries: I) -> Value
    where
        K: Into<String>,
        V: Into<Value>,
        I: IntoIterator<Item = (K, V)>,
    {
        Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// A number from an `f64`; `NaN` and infinities become [`Value::Null`], as
    /// `JSON.stringify` writes them.
    ///
    /// JavaScript has a single number type, so an integral `f64` that fits in `u64` or
    /// `i64` is stored as an integer (`2.0` and `2` are the same [`Value`], `-0.0` is `0`).
    /// This keeps `decode(encode(v)) == v`, since both are written `2`.
    pub fn from_f64(f: f64) -> Value {
        if f.fract() == 0.0 {
            if (0.0..18_446_744_073_709_551_616.0).contains(&f) {
                return Value::Number(Number::from(f as u64));
            }
            if (-9_223_372_036_854_775_808.0..0.0).contains(&f) {
                return Value::Number(Number::from(f as i64));
            }
        }
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// Collects object entries, keeping JSON's "last duplicate wins" rule without quadratic
/// cost on large objects.
pub(crate) struct ObjectBuilder {
    entries: Vec<(String, Value)>,
    index: Option<HashMap<String, usize>>,
}

/// Up to this many entries, duplicates are found by a linear scan.
const LINEAR_SCAN_LIMIT: usize = 16;

impl ObjectBuilder {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Vec::with_capacity(capacity.min(LINEAR_SCAN_LIMIT * 4)),
            index: None,
        }
    }

    pub(crate) fn insert(&mut self, key: String, value: Value) {
        if let Some(index) = &mut self.index {
            match index.get(&key) {
                Some(&i) => self.entries[i].1 = value,
                None => {
                    index.insert(key.clone(), self.entries.len());
                    self.entries.push((key, value));
                }
            }
            return;
        }
        if let Some(slot) = self.entries.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
            return;
        }
        self.entries.push((key, value));
        if self.entries.len() > LINEAR_SCAN_LIMIT {
            self.index = Some(
                self.entries
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (k.clone(), i))
                    .collect(),
            );
        }
    }

    pub(crate) fn finish(self) -> Value {
        Value::Object(self.entries)
    }
}

macro_rules! from_integer {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Self {
                Value::Number(Number::from(n))
            }
        }
    )*};
}

from_integer!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl From<f64> for Value {
    /// `NaN` and infinities become [`Value::Null`].
    fn from(f: f64) -> Self {
        Value::from_f64(f)
    }
}

impl From<f32> for Value {
    /// Converted through the shortest decimal form of the `f32` (`0.1f32` gives `0.1`,
    /// not `0.10000000149011612`). `NaN` and infinities become [`Value::Null`].
    fn from(f: f32) -> Self {
        Value::from_f64(f32_to_f64(f))
    }
}

/// Widens an `f32` through its shortest decimal representation.
pub(crate) fn f32_to_f64(f: f32) -> f64 {
    if !f.is_finite() {
        return f64::from(f);
    }
    f.to_string().parse().unwrap_or(f64::from(f))
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Self {
        Value::Number(n)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<Cow<'_, str>> for Value {
    fn from(s: Cow<'_, str>) -> Self {
        Value::String(s.into_owned())
    }
}

impl From<char> for Value {
    fn from(c: char) -> Self {
        Value::String(c.to_string())
    }
}

impl From<Bytes> for Value {
    fn from(b: Bytes) -> Self {
        Value::Binary(b)
    }
}

impl From<Vec<u8>> for Value {
    /// Binary data (not an array of numbers).
    fn from(b: Vec<u8>) -> Self {
        Value::Binary(Bytes::from(b))
    }
}

impl From<&[u8]> for Value {
    /// Binary data (copied).
    fn from(b: &[u8]) -> Self {
        Value::Binary(Bytes::copy_from_slice(b))
    }
}

impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Self {
        Value::Array(a)
    }
}

impl From<Vec<(String, Value)>> for Value {
    fn from(o: Vec<(String, Value)>) -> Self {
        Value::Object(o)
    }
}

impl From<()> for Value {
    fn from(_: ()) -> Self {
        Value::Null
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` becomes [`Value::Null`].
    fn from(o: Option<T>) -> Self {
        o.map_or(Value::Null, Into::into)
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_f64() {
                Some(f) if n.is_f64() => Value::from_f64(f),
                _ => Value::Number(n),
            },
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(a) => Value::Array(a.into_iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => {
                Value::Object(o.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

impl<T: Into<Value>> FromIterator<T> for Value {
    /// Collects into an array.
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Value::Array(iter.into_iter().map(Into::into).collect())
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Value {
    /// Collects into an object, in order (duplicate keys are kept as given).
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Value::object(iter)
    }
}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<String> for Value {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == Some(other.as_str())
    }
}

impl PartialEq<bool> for Value {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

impl PartialEq<i64> for Value {
    fn eq(&self, other: &i64) -> bool {
        self.as_i64() == Some(*other)
    }
}

impl PartialEq<u64> for Value {
    fn eq(&self, other: &u64) -> bool {
        self.as_u64() == Some(*other)
    }
}

impl PartialEq<f64> for Value {
    fn eq(&self, other: &f64) -> bool {
        self.as_f64() == Some(*other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors() {
        let v = Value::from_json(r#"{"s":"x","b":true,"n":-3,"f":2.5,"a":[1],"o":{"k":null}}"#)
            .unwrap();
        assert_eq!(v.get("s").and_then(Value::as_str), Some("x"));
        assert_eq!(v.get("b").and_then(Value::as_bool), Some(true));
        assert_eq!(v.get("n").and_then(Value::as_i64), Some(-3));
        assert_eq!(v.get("n").and_then(Value::as_u64), None);
        assert_eq!(v.get("f").and_then(Value::as_f64), Some(2.5));
        assert_eq!(v.get("f").and_then(Value::as_i64), None);
        assert_eq!(v.get("a").and_then(Value::as_array).map(Vec::len), Some(1));
        assert!(v.get("o").and_then(|o| o.get("k")).unwrap().is_null());
        assert!(v.get("missing").is_none());
        assert!(Value::Null.get("x").is_none());
        assert_eq!(v.type_name(), "object");
        assert_eq!(v.get("a").unwrap().type_name(), "array");
        assert!(!v.has_binary());
    }

    #[test]
    fn integral_floats_count_as_integers() {
        assert_eq!(Value::from(3.0).as_u64(), Some(3));
        assert_eq!(Value::from(-3.0).as_i64(), Some(-3));
        assert_eq!(Value::from(1e300).as_u64(), None);
        assert_eq!(Value::from(0.5).as_u64(), None);
    }

    #[test]
    fn insert_and_get_mut() {
        let mut v = Value::Null;
        assert_eq!(v.insert("a", 1), None);
        assert_eq!(v.insert("b", "x"), None);
        assert_eq!(v.insert("a", 2), Some(Value::from(1)));
        assert_eq!(v.to_json(), r#"{"a":2,"b":"x"}"#);
        *v.get_mut("b").unwrap() = Value::Bool(false);
        assert_eq!(v.to_json(), r#"{"a":2,"b":false}"#);
        assert_eq!(v.take().to_json(), r#"{"a":2,"b":false}"#);
        assert!(v.is_null());
    }

    #[test]
    fn get_sees_last_duplicate() {
        let v = Value::object([("k", 1), ("k", 2)]);
        assert_eq!(v.get("k"), Some(&Value::from(2)));
    }

    #[test]
    fn conversions() {
        assert_eq!(Value::from(f64::NAN), Value::Null);
        assert_eq!(Value::from(f32::INFINITY), Value::Null);
        assert_eq!(Value::from(0.1f32).to_json(), "0.1");
        assert_eq!(
            Value::from(vec![1u8, 2]),
            Value::Binary(Bytes::from_static(&[1, 2]))
        );
        assert_eq!(
            Value::from(&b"\x01"[..]),
            Value::Binary(Bytes::from_static(&[1]))
        );
        assert_eq!(Value::from(None::<i32>), Value::Null);
        assert_eq!(Value::from(Some("x")), "x");
        assert_eq!(Value::from('c'), "c");
        assert_eq!(Value::from(()), Value::Null);
        let arr: Value = vec![1, 2, 3].into_iter().collect();
        assert_eq!(arr.to_json(), "[1,2,3]");
        let obj: Value = vec![("a", 1), ("b", 2)].into_iter().collect();
        assert_eq!(obj.to_json(), r#"{"a":1,"b":2}"#);
        let sj: serde_json::Value = serde_json::json!({"a":[true,null,"s",1.5,{"b":-2}]});
        assert_eq!(
            Value::from(sj).to_json(),
            r#"{"a":[true,null,"s",1.5,{"b":-2}]}"#
        );
        let (neg, small, yes, half, s) = (
            Value::from(-1),
            Value::from(1u8),
            Value::from(true),
            Value::from(0.5),
            Value::from("s"),
        );
        assert!(neg == -1i64);
        assert!(small == 1u64);
        assert!(yes == true);
        assert!(half == 0.5);
        assert!(s == *"s");
        let owned = String::from("s");
        assert!(s == owned);
    }

    #[test]
    fn has_binary_finds_nested() {
        let v = Value::object([(
            "a",
            Value::Array(vec![
                Value::Null,
                Value::object([("b", Bytes::from_static(b"x"))]),
            ]),
        )]);
        assert!(v.has_binary());
        assert_eq!(
            v.to_json(),
            r#"{"a":[null,{"b":{"type":"Buffer","data":[120]}}]}"#
        );
        assert_eq!(format!("{v}"), v.to_json());
    }

    #[test]
    fn object_builder_dedups_small_and_large() {
        let mut b = ObjectBuilder::with_capacity(0);
        for i in 0..100 {
            b.insert(format!("k{}", i % 40), Value::from(i));
        }
        let Value::Object(entries) = b.finish() else {
            panic!("not an object")
        };
        assert_eq!(entries.len(), 40);
        assert_eq!(entries[0], ("k0".to_string(), Value::from(80)));
        assert_eq!(entries[39], ("k39".to_string(), Value::from(79)));
    }
}
