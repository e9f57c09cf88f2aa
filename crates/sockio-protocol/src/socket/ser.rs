//! Hand-written because [`Value`] is (see value.rs): serde_json::to_value would turn `Bytes` fields into arrays of numbers.
//!
//! Serde serialization: typed Rust data -> [`Value`] ([`to_value`]), and [`Value`] into any
//! serde format.

use std::fmt;

use bytes::Bytes;
use serde::ser::{self, Impossible, Serialize};
use serde_json::Number;

use super::value::{f32_to_f64, Value};

/// Error converting between typed Rust data and [`Value`] ([`to_value`],
/// [`from_value`](super::from_value)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError(String);

impl ValueError {
    /// The error message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValueError {}

impl ser::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError(msg.to_string())
    }
}

impl serde::de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError(msg.to_string())
    }
}

/// Converts any `Serialize` value into a [`Value`].
///
/// Byte buffers — anything serialized with `serialize_bytes`, such as `bytes::Bytes` or
/// `serde_bytes::ByteBuf` — become [`Value::Binary`] and so travel as binary attachments.
/// (A plain `Vec<u8>` serializes as a sequence of numbers; wrap it in `Bytes`.) Other
/// data maps as with `serde_json`: structs and maps to objects in field order, `None` and
/// `()` to `null`, enums externally tagged, non-finite floats to `null`. Map keys must
/// be strings, numbers, booleans or chars.
///
/// ```
/// use bytes::Bytes;
/// use serde::Serialize;
/// use sockio_protocol::socket::{to_value, Value};
///
/// #[derive(Serialize)]
/// struct Upload {
///     name: String,
///     data: Bytes,
/// }
///
/// let v = to_value(&Upload { name: "a.bin".into(), data: Bytes::from_static(b"\x01\x02") }).unwrap();
/// assert_eq!(v.get("data"), Some(&Value::Binary(Bytes::from_static(b"\x01\x02"))));
/// ```
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, ValueError> {
    value.serialize(ValueSerializer)
}

/// Serializes [`Value::Binary`] with `serialize_bytes`, objects as maps in their order.
impl Serialize for Value {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    serializer.serialize_u64(u)
                } else if let Some(i) = n.as_i64() {
                    serializer.serialize_i64(i)
                } else {
                    serializer.serialize_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Value::Binary(b) => serializer.serialize_bytes(b),
        }
    }
}

/// The serde `Serializer` whose output is a [`Value`].
struct ValueSerializer;

fn out_of_range() -> ValueError {
    ValueError("number out of range".to_owned())
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = ValueError;
    type SerializeSeq = SerializeArray;
    type SerializeTuple = SerializeArray;
    type SerializeTupleStruct = SerializeArray;
    type SerializeTupleVariant = SerializeTupleVariant;
    type SerializeMap = SerializeObject;
    type SerializeStruct = SerializeObject;
    type SerializeStructVariant = SerializeStructVariant;

    fn serialize_bool(self, v: bool) -> Result<Value, ValueError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, ValueError> {
        if let Ok(u) = u64::try_from(v) {
            Ok(Value::from(u))
        } else if let Ok(i) = i64::try_from(v) {
            Ok(Value::from(i))
        } else {
            Err(out_of_range())
        }
    }
    fn serialize_u8(self, v: u8) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, ValueError> {
        u64::try_from(v)
            .map(Value::from)
            .map_err(|_| out_of_range())
    }
    fn serialize_f32(self, v: f32) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_str(self, v: &str) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, ValueError> {
        Ok(Value::Binary(Bytes::copy_from_slice(v)))
    }
    fn serialize_none(self) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, ValueError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, ValueError> {
        Ok(Value::from(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        Ok(Value::Object(vec![(variant.to_owned(), to_value(value)?)]))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SerializeArray, ValueError> {
        Ok(SerializeArray(Vec::with_capacity(
            len.unwrap_or(0).min(4096),
        )))
    }
    fn serialize_tuple(self, len: usize) -> Result<SerializeArray, ValueError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SerializeArray, ValueError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SerializeTupleVariant, ValueError> {
        Ok(SerializeTupleVariant {
            variant,
            items: Vec::with_capacity(len.min(4096)),
        })
    }
    fn serialize_map(self, len: Option<usize>) -> Result<SerializeObject, ValueError> {
        Ok(SerializeObject {
            entries: Vec::with_capacity(len.unwrap_or(0).min(4096)),
            key: None,
        })
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SerializeObject, ValueError> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SerializeStructVariant, ValueError> {
        Ok(SerializeStructVariant {
            variant,
            entries: Vec::with_capacity(len.min(4096)),
        })
    }
    fn collect_str<T: fmt::Display + ?Sized>(self, value: &T) -> Result<Value, ValueError> {
        Ok(Value::String(value.to_string()))
    }
}

/// Builds arrays (sequences, tuples, tuple structs).
struct SerializeArray(Vec<Value>);

impl ser::SerializeSeq for SerializeArray {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.0.push(to_value(value)?);
        Ok(())
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Array(self.0))
    }
}

impl ser::SerializeTuple for SerializeArray {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Value, ValueError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SerializeArray {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Value, ValueError> {
        ser::SerializeSeq::end(self)
    }
}

/// Builds `{"Variant":[...]}`.
struct SerializeTupleVariant {
    variant: &'static str,
    items: Vec<Value>,
}

impl ser::SerializeTupleVariant for SerializeTupleVariant {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.items.push(to_value(value)?);
        Ok(())
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Object(vec![(
            self.variant.to_owned(),
            Value::Array(self.items),
        )]))
    }
}

/// Builds objects (maps, structs).
struct SerializeObject {
    entries: Vec<(String, Value)>,
    key: Option<String>,
}

impl ser::SerializeMap for SerializeObject {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ValueError> {
        self.key = Some(key.serialize(KeySerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| ValueError("serialize_value called before serialize_key".to_owned()))?;
        self.entries.push((key, to_value(value)?));
        Ok(())
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Object(self.entries))
    }
}

impl ser::SerializeStruct for SerializeObject {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.entries.push((key.to_owned(), to_value(value)?));
        Ok(())
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Object(self.entries))
    }
}

/// Builds `{"Variant":{...}}`.
struct SerializeStructVariant {
    variant: &'static str,
    entries: Vec<(String, Value)>,
}

impl ser::SerializeStructVariant for SerializeStructVariant {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.entries.push((key.to_owned(), to_value(value)?));
        Ok(())
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Object(vec![(
            self.variant.to_owned(),
            Value::Object(self.entries),
        )]))
    }
}

/// Serializes map keys to strings, as JSON requires.
struct KeySerializer;

fn key_must_be_string() -> ValueError {
    ValueError("map key must be a string, a number, a boolean or a char".to_owned())
}

fn number_key(n: impl Into<Number>) -> Result<String, ValueError> {
    let mut out = String::new();
    super::json::write_number(&mut out, &n.into());
    Ok(out)
}

impl ser::Serializer for KeySerializer {
    type Ok = String;
    type Error = ValueError;
    type SerializeSeq = Impossible<String, ValueError>;
    type SerializeTuple = Impossible<String, ValueError>;
    type SerializeTupleStruct = Impossible<String, ValueError>;
    type SerializeTupleVariant = Impossible<String, ValueError>;
    type SerializeMap = Impossible<String, ValueError>;
    type SerializeStruct = Impossible<String, ValueError>;
    type SerializeStructVariant = Impossible<String, ValueError>;

    fn serialize_bool(self, v: bool) -> Result<String, ValueError> {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> Result<String, ValueError> {
        number_key(v)
    }
    fn serialize_i16(self, v: i16) -> Result<String, ValueError> {
        number_key(v)
    }
    fn serialize_i32(self, v: i32) -> Result<String, ValueError> {
        number_key(v)
    }
    fn serialize_i64(self, v: i64) -> Result<String, ValueError> {
        number_key(v)
    }
    fn serialize_i128(self, v: i128) -> Result<String, ValueError> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String, ValueError> {
        number_key(v)
    }
    fn serialize_u16(self, v: u16) -> Result<String, ValueError> {
        number_key(v)
    }
    fn serialize_u32(self, v: u32) -> Result<String, ValueError> {
        number_key(v)
    }
    fn serialize_u64(self, v: u64) -> Result<String, ValueError> {
        number_key(v)
    }
    fn serialize_u128(self, v: u128) -> Result<String, ValueError> {
        Ok(v.to_string())
    }
    fn serialize_f32(self, v: f32) -> Result<String, ValueError> {
        self.serialize_f64(f32_to_f64(v))
    }
    fn serialize_f64(self, v: f64) -> Result<String, ValueError> {
        if !v.is_finite() {
            // String(NaN) in JavaScript; JSON has no such number.
            return Ok(if v.is_nan() {
                "NaN".to_owned()
            } else if v > 0.0 {
                "Infinity".to_owned()
            } else {
                "-Infinity".to_owned()
            });
        }
        let mut out = String::new();
        super::json::write_f64(&mut out, v);
        Ok(out)
    }
    fn serialize_char(self, v: char) -> Result<String, ValueError> {
        Ok(v.to_string())
    }
    fn serialize_str(self, v: &str) -> Result<String, ValueError> {
        Ok(v.to_owned())
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String, ValueError> {
        Err(key_must_be_string())
    }
    fn serialize_none(self) -> Result<String, ValueError> {
        Err(key_must_be_string())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<String, ValueError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<String, ValueError> {
        Err(key_must_be_string())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, ValueError> {
        Err(key_must_be_string())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, ValueError> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, ValueError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, ValueError> {
        Err(key_must_be_string())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, ValueError> {
        Err(key_must_be_string())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, ValueError> {
        Err(key_must_be_string())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, ValueError> {
        Err(key_must_be_string())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, ValueError> {
        Err(key_must_be_string())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, ValueError> {
        Err(key_must_be_string())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, ValueError> {
        Err(key_must_be_string())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, ValueError> {
        Err(key_must_be_string())
    }
    fn collect_str<T: fmt::Display + ?Sized>(self, value: &T) -> Result<String, ValueError> {
        Ok(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize)]
    struct Newtype(u8);

    #[derive(Serialize)]
    struct Tuple(u8, &'static str);

    #[derive(Serialize)]
    enum E {
        A,
        B(i32),
        C(i32, i32),
        D { x: bool },
    }

    #[derive(Serialize)]
    struct All {
        unit: (),
        unit_struct: Unit,
        newtype: Newtype,
        tuple: Tuple,
        none: Option<u8>,
        some: Option<u8>,
        variants: Vec<E>,
        float: f64,
        nan: f64,
        small: f32,
        neg: i64,
        big: u64,
        wide: i128,
        c: char,
        bytes: Bytes,
        vec_u8: Vec<u8>,
        map: BTreeMap<u32, &'static str>,
    }

    #[test]
    fn serializes_everything_like_serde_json_except_bytes() {
        let all = All {
            unit: (),
            unit_struct: Unit,
            newtype: Newtype(7),
            tuple: Tuple(1, "t"),
            none: None,
            some: Some(3),
            variants: vec![E::A, E::B(-1), E::C(1, 2), E::D { x: true }],
            float: 2.5,
            nan: f64::NAN,
            small: 0.1,
            neg: -5,
            big: u64::MAX,
            wide: -7,
            c: 'é',
            bytes: Bytes::from_static(&[0xde, 0xad]),
            vec_u8: vec![1, 2],
            map: BTreeMap::from([(2, "two"), (10, "ten")]),
        };
        let v = to_value(&all).unwrap();
        assert_eq!(
            v.get("bytes"),
            Some(&Value::Binary(Bytes::from_static(&[0xde, 0xad])))
        );
        assert_eq!(
            v.to_json(),
            concat!(
                r#"{"unit":null,"unit_struct":null,"newtype":7,"tuple":[1,"t"],"none":null,"#,
                r#""some":3,"variants":["A",{"B":-1},{"C":[1,2]},{"D":{"x":true}}],"#,
                r#""float":2.5,"nan":null,"small":0.1,"neg":-5,"big":18446744073709551615,"#,
                r#""wide":-7,"c":"é","bytes":{"type":"Buffer","data":[222,173]},"#,
                r#""vec_u8":[1,2],"map":{"2":"two","10":"ten"}}"#
            )
        );
    }

    #[test]
    fn value_serializes_into_other_formats() {
        let v = Value::object([
            ("b", Value::Binary(Bytes::from_static(&[1, 2]))),
            (
                "a",
                Value::Array(vec![Value::Null, Value::from(1.5), Value::from(-1)]),
            ),
        ]);
        // serde_json has no binary type: bytes become an array of numbers.
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"b":[1,2],"a":[null,1.5,-1]}"#
        );
        // And into Value itself, losslessly.
        assert_eq!(to_value(&v).unwrap(), v);
    }

    #[test]
    fn key_errors_and_ranges() {
        let mut m = BTreeMap::new();
        m.insert(vec![1], 1);
        assert!(to_value(&m).is_err());
        assert!(to_value(&u128::MAX).is_err());
        assert!(to_value(&i128::MIN).is_err());
        assert_eq!(
            to_value(&(u64::MAX as u128)).unwrap(),
            Value::from(u64::MAX)
        );
        let bool_keys = BTreeMap::from([(true, 1)]);
        assert_eq!(to_value(&bool_keys).unwrap().to_json(), r#"{"true":1}"#);
        let e = to_value(&m).unwrap_err();
        assert!(e.message().contains("map key"));
        assert_eq!(e.to_string(), e.message());
    }
}
