//! Hand-written because [`Value`] is (see value.rs): serde_json::from_value cannot hand binary to a `Bytes` field.
//!
//! Serde deserialization: [`Value`] -> typed Rust data ([`from_value`]), and any serde
//! format (JSON text in particular) -> [`Value`].

use std::fmt;

use bytes::Bytes;
use serde::de::{
    self, value::StringDeserializer, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess,
    Expected, IntoDeserializer, MapAccess, SeqAccess, Unexpected, VariantAccess, Visitor,
};
use serde::forward_to_deserialize_any;
use serde_json::Number;

use super::ser::ValueError;
use super::value::{ObjectBuilder, Value};

/// Converts a [`Value`] into any `DeserializeOwned` type.
///
/// [`Value::Binary`] is offered to the target as bytes (`visit_byte_buf`), so
/// `bytes::Bytes` and `serde_bytes::ByteBuf` fields receive binary attachments; strings
/// and arrays of numbers are accepted there too, as `serde_json` does. Objects map to
/// structs and maps, arrays to sequences, tuples and structs, `null` to `None` / `()`,
/// enums are externally tagged (`"Unit"`, `{"Variant": ...}`).
///
/// ```
/// use bytes::Bytes;
/// use serde::Deserialize;
/// use sockio_protocol::socket::{from_value, Value};
///
/// #[derive(Deserialize)]
/// struct Upload {
///     name: String,
///     data: Bytes,
/// }
///
/// let v = Value::object([
///     ("name", Value::from("a.bin")),
///     ("data", Value::Binary(Bytes::from_static(b"\x01\x02"))),
/// ]);
/// let upload: Upload = from_value(v).unwrap();
/// assert_eq!(upload.name, "a.bin");
/// assert_eq!(&upload.data[..], b"\x01\x02");
/// ```
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ValueError> {
    T::deserialize(value)
}

/// Builds a [`Value`] from any self-describing format: with `serde_json`, JSON text
/// parses directly into a [`Value`] (objects keep their key order; for a duplicate key
/// the last value wins at the first position). Byte buffers become [`Value::Binary`].
impl<'de> de::Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value or binary data")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        if let Ok(u) = u64::try_from(v) {
            Ok(Value::from(u))
        } else if let Ok(i) = i64::try_from(v) {
            Ok(Value::from(i))
        } else {
            Ok(Value::from(v as f64))
        }
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(u64::try_from(v).map_or_else(|_| Value::from(v as f64), Value::from))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Binary(Bytes::copy_from_slice(v)))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Binary(Bytes::from(v)))
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        de::Deserialize::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        de::Deserialize::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = ObjectBuilder::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value()?;
            object.insert(key, value);
        }
        Ok(object.finish())
    }
}

impl Value {
    fn unexpected(&self) -> Unexpected<'_> {
        match self {
            Value::Null => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    Unexpected::Unsigned(u)
                } else if let Some(i) = n.as_i64() {
                    Unexpected::Signed(i)
                } else {
                    Unexpected::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => Unexpected::Str(s),
            Value::Array(_) => Unexpected::Seq,
            Value::Object(_) => Unexpected::Map,
            Value::Binary(b) => Unexpected::Bytes(b),
        }
    }

    fn invalid_type<E: de::Error>(&self, exp: &dyn Expected) -> E {
        de::Error::invalid_type(self.unexpected(), exp)
    }
}

fn visit_number<'de, V: Visitor<'de>>(n: Number, visitor: V) -> Result<V::Value, ValueError> {
    if let Some(u) = n.as_u64() {
        visitor.visit_u64(u)
    } else if let Some(i) = n.as_i64() {
        visitor.visit_i64(i)
    } else {
        visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
    }
}

fn visit_array<'de, V: Visitor<'de>>(
    items: Vec<Value>,
    visitor: V,
) -> Result<V::Value, ValueError> {
    let len = items.len();
    let mut seq = SeqDeserializer {
        iter: items.into_iter(),
    };
    let result = visitor.visit_seq(&mut seq)?;
    if seq.iter.len() == 0 {
        Ok(result)
    } else {
        Err(de::Error::invalid_length(len, &"fewer elements in array"))
    }
}

fn visit_object<'de, V: Visitor<'de>>(
    entries: Vec<(String, Value)>,
    visitor: V,
) -> Result<V::Value, ValueError> {
    let len = entries.len();
    let mut map = MapDeserializer {
        iter: entries.into_iter(),
        value: None,
    };
    let result = visitor.visit_map(&mut map)?;
    if map.iter.len() == 0 {
        Ok(result)
    } else {
        Err(de::Error::invalid_length(len, &"fewer elements in map"))
    }
}

/// Deserializes typed data out of a [`Value`] (see [`from_value`]).
impl<'de> Deserializer<'de> for Value {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => visit_number(n, visitor),
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => visit_array(items, visitor),
            Value::Object(entries) => visit_object(entries, visitor),
            Value::Binary(b) => visitor.visit_byte_buf(Vec::from(b)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_unit(),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Binary(b) => visitor.visit_byte_buf(Vec::from(b)),
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => visit_array(items, visitor),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        let (variant, value) = match self {
            Value::String(s) => (s, None),
            Value::Object(entries) => {
                let mut iter = entries.into_iter();
                match (iter.next(), iter.next()) {
                    (Some((variant, value)), None) => (variant, Some(value)),
                    _ => {
                        return Err(de::Error::invalid_value(
                            Unexpected::Map,
                            &"a map with a single key",
                        ))
                    }
                }
            }
            other => return Err(other.invalid_type(&"a string or a map")),
        };
        visitor.visit_enum(EnumDeserializer { variant, value })
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        drop(self);
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        seq tuple tuple_struct map struct identifier
    }
}

impl IntoDeserializer<'_, ValueError> for Value {
    type Deserializer = Value;

    fn into_deserializer(self) -> Value {
        self
    }
}

struct SeqDeserializer {
    iter: std::vec::IntoIter<Value>,
}

impl<'de> SeqAccess<'de> for SeqDeserializer {
    type Error = ValueError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ValueError> {
        self.iter.next().map(|v| seed.deserialize(v)).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct MapDeserializer {
    iter: std::vec::IntoIter<(String, Value)>,
    value: Option<Value>,
}

impl<'de> MapAccess<'de> for MapDeserializer {
    type Error = ValueError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ValueError> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(KeyDeserializer(key)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ValueError> {
        match self.value.take() {
            Some(value) => seed.deserialize(value),
            None => Err(de::Error::custom("value is missing")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// Deserializes an object key: a string, also readable as a number or a boolean (keys of
/// `HashMap<u32, _>` and the like), as `serde_json` allows.
struct KeyDeserializer(String);

macro_rules! parse_key {
    ($($method:ident => $visit:ident : $t:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            match self.0.parse::<$t>() {
                Ok(n) => visitor.$visit(n),
                Err(_) => visitor.visit_string(self.0),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for KeyDeserializer {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_string(self.0)
    }

    parse_key! {
        deserialize_bool => visit_bool: bool,
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
        deserialize_f32 => visit_f32: f32,
        deserialize_f64 => visit_f64: f64,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_enum(EnumDeserializer {
            variant: self.0,
            value: None,
        })
    }

    forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

struct EnumDeserializer {
    variant: String,
    value: Option<Value>,
}

impl<'de> EnumAccess<'de> for EnumDeserializer {
    type Error = ValueError;
    type Variant = VariantDeserializer;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantDeserializer), ValueError> {
        let de: StringDeserializer<ValueError> = self.variant.into_deserializer();
        let variant = seed.deserialize(de)?;
        Ok((variant, VariantDeserializer { value: self.value }))
    }
}

struct VariantDeserializer {
    value: Option<Value>,
}

impl<'de> VariantAccess<'de> for VariantDeserializer {
    type Error = ValueError;

    fn unit_variant(self) -> Result<(), ValueError> {
        match self.value {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(other.invalid_type(&"unit variant")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, ValueError> {
        match self.value {
            Some(value) => seed.deserialize(value),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"newtype variant",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.value {
            Some(Value::Array(items)) => visit_array(items, visitor),
            Some(other) => Err(other.invalid_type(&"tuple variant")),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"tuple variant",
            )),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.value {
            Some(Value::Object(entries)) => visit_object(entries, visitor),
            Some(Value::Array(items)) => visit_array(items, visitor),
            Some(other) => Err(other.invalid_type(&"struct variant")),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"struct variant",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::{Deserialize, Serialize};

    use super::super::to_value;
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Unit;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Newtype(u8);

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum E {
        A,
        B(i32),
        C(i32, i32),
        D { x: bool },
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Inner {
        blob: Bytes,
        label: String,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Typed {
        a: Bytes,
        nested: Vec<Inner>,
        maybe: Option<Bytes>,
        none: Option<String>,
        unit: Unit,
        newtype: Newtype,
        tuple: (u8, String),
        variants: Vec<E>,
        numbers: (i8, u16, i64, u64, f32, f64),
        int_keys: BTreeMap<u32, bool>,
        c: char,
    }

    fn typed() -> Typed {
        Typed {
            a: Bytes::from_static(&[1, 2, 3]),
            nested: vec![Inner {
                blob: Bytes::from_static(&[4]),
                label: "x".into(),
            }],
            maybe: Some(Bytes::from_static(&[0xff])),
            none: None,
            unit: Unit,
            newtype: Newtype(9),
            tuple: (1, "t".into()),
            variants: vec![E::A, E::B(-1), E::C(1, 2), E::D { x: true }],
            numbers: (-8, 16, -64, u64::MAX, 0.5, -2.25),
            int_keys: BTreeMap::from([(1, true), (20, false)]),
            c: '日',
        }
    }

    #[test]
    fn typed_roundtrip_keeps_binary() {
        let v = to_value(&typed()).unwrap();
        assert_eq!(
            v.get("a"),
            Some(&Value::Binary(Bytes::from_static(&[1, 2, 3])))
        );
        let nested = &v.get("nested").unwrap().as_array().unwrap()[0];
        assert_eq!(nested.get("blob").unwrap().as_binary().unwrap(), &[4][..]);
        let back: Typed = from_value(v).unwrap();
        assert_eq!(back, typed());
    }

    #[test]
    fn json_text_into_value_directly() {
        let v: Value =
            serde_json::from_str(r#"{"z":1,"a":[true,null,"s",-1.5,18446744073709551615],"z":2}"#)
                .unwrap();
        assert_eq!(
            v.to_json(),
            r#"{"z":2,"a":[true,null,"s",-1.5,18446744073709551615]}"#
        );
    }

    #[test]
    fn value_roundtrips_through_from_value() {
        let v = Value::from_json(r#"{"a":[1,{"b":null}],"c":"d"}"#).unwrap();
        let mut with_bin = v.clone();
        with_bin.insert("bin", Bytes::from_static(b"zz"));
        assert_eq!(from_value::<Value>(with_bin.clone()).unwrap(), with_bin);
        let sj: serde_json::Value = from_value(v.clone()).unwrap();
        assert_eq!(sj, serde_json::json!({"a":[1,{"b":null}],"c":"d"}));
    }

    #[test]
    fn bytes_fields_accept_strings_and_number_arrays() {
        #[derive(Deserialize)]
        struct B {
            b: Bytes,
        }
        let from_arr: B = from_value(Value::from_json(r#"{"b":[1,2]}"#).unwrap()).unwrap();
        assert_eq!(&from_arr.b[..], &[1, 2]);
        let from_str: B = from_value(Value::from_json(r#"{"b":"hi"}"#).unwrap()).unwrap();
        assert_eq!(&from_str.b[..], b"hi");
        assert!(from_value::<B>(Value::from_json(r#"{"b":1}"#).unwrap()).is_err());
    }

    #[test]
    fn errors_are_descriptive() {
        let e = from_value::<u8>(Value::from(300)).unwrap_err();
        assert!(e.message().contains("300"), "{e}");
        let e = from_value::<u32>(Value::Binary(Bytes::from_static(b"x"))).unwrap_err();
        assert!(e.message().contains("byte array"), "{e}");
        assert!(from_value::<(u8,)>(Value::from_json("[1,2]").unwrap()).is_err());
        assert!(from_value::<()>(Value::from(1)).is_err());
        assert!(from_value::<E>(Value::from_json(r#"{"A":1,"B":2}"#).unwrap()).is_err());
        assert!(from_value::<E>(Value::from(1)).is_err());
        assert!(from_value::<E>(Value::from("B")).is_err());
        assert!(from_value::<E>(Value::from_json(r#"{"A":1}"#).unwrap()).is_err());
        assert_eq!(
            from_value::<E>(Value::from_json(r#"{"A":null}"#).unwrap()).unwrap(),
            E::A
        );
    }

    #[test]
    fn maps_with_number_and_bool_keys() {
        let v = Value::from_json(r#"{"1":"a","-2":"b"}"#).unwrap();
        let m: HashMap<i32, String> = from_value(v).unwrap();
        assert_eq!(m[&-2], "b");
        let v = Value::from_json(r#"{"true":1}"#).unwrap();
        let m: HashMap<bool, u8> = from_value(v).unwrap();
        assert_eq!(m[&true], 1);
        let m: HashMap<u8, u8> =
            from_value(Value::from_json(r#"{"x":1}"#).unwrap()).unwrap_or_default();
        assert!(m.is_empty());
    }

    #[test]
    fn ignored_fields_and_options() {
        #[derive(Deserialize)]
        struct S {
            #[serde(default)]
            o: Option<u8>,
        }
        let s: S =
            from_value(Value::from_json(r#"{"o":null,"extra":[1,{"b":2}]}"#).unwrap()).unwrap();
        assert_eq!(s.o, None);
        let s: S = from_value(Value::from_json(r#"{"o":4}"#).unwrap()).unwrap();
        assert_eq!(s.o, Some(4));
        let tuple_struct: (String, u8) =
            from_value(Value::from_json(r#"["x",1]"#).unwrap()).unwrap();
        assert_eq!(tuple_struct, ("x".to_string(), 1));
    }
}
