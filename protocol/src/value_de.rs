//! `rmpv::Value` read through serde, each array and map allocated once.
//!
//! rmpv's own `Deserialize` grows every array and map from empty, ignoring
//! the length MessagePack states before the elements: a row of 5 columns
//! is allocated twice, an array of 1,000 rows 11 times. Those allocations
//! were the largest cost of decoding a statement's 1,000-row attachment
//! (perf; BENCHMARKS.md). The values are the same as rmpv's.

use std::fmt;
use std::sync::OnceLock;

use rmpv::Value;
use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Unexpected, Visitor};

use crate::js_number::javascript_number;

/// A [`Value`] read with [`ValueVisitor`].
pub(crate) struct SizedValue(pub Value);

impl<'de> Deserialize<'de> for SizedValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor).map(SizedValue)
    }
}

/// For `#[serde(deserialize_with)]` on an `Option<Value>` field: absent
/// and `null`/nil are `None`, as for `Option<Value>` itself.
pub(crate) fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Ok(Option::<SizedValue>::deserialize(d)?.map(|v| v.0))
}

/// At most this many elements are reserved ahead of reading them: a
/// length is what the sender claims, and anyone may send a notification.
const MAX_RESERVED: usize = 4096;

fn capacity(hint: Option<usize>) -> usize {
    hint.unwrap_or(0).min(MAX_RESERVED)
}

/// The key of the one-entry map, holding a number's text, that serde_json
/// hands over for every number when built with its `arbitrary_precision`
/// feature. Any crate of an application can turn that on for all of them.
const SERDE_JSON_NUMBER: &str = "$serde_json::private::Number";

/// Whether serde_json hands numbers over as [`SERDE_JSON_NUMBER`] maps: only
/// then is such a map a number, not an object a sender wrote.
fn serde_json_numbers_are_maps() -> bool {
    static MAPS: OnceLock<bool> = OnceLock::new();
    // Without the feature, serde_json refuses a number beyond f64.
    *MAPS.get_or_init(|| serde_json::from_str::<serde_json::Number>("1e400").is_ok())
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any MessagePack value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Boolean(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f32<E>(self, v: f32) -> Result<Value, E> {
        Ok(Value::F32(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::F64(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Binary(v.to_vec()))
    }

    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Binary(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(capacity(seq.size_hint()));
        while let Some(SizedValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(capacity(map.size_hint()));
        let Some(SizedValue(first)) = map.next_key()? else {
            return Ok(Value::Map(entries));
        };
        if first.as_str() == Some(SERDE_JSON_NUMBER) && serde_json_numbers_are_maps() {
            return serde_json_number(map);
        }
        let SizedValue(value) = map.next_value()?;
        entries.push((first, value));
        while let Some((SizedValue(key), SizedValue(value))) = map.next_entry()? {
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }

    /// rmp-serde hands an extension over as a newtype struct of
    /// `(tag, bytes)`, as rmpv reads it.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        let (tag, bytes): (i8, serde_bytes::ByteBuf) = Deserialize::deserialize(d)?;
        Ok(Value::Ext(tag, bytes.into_vec()))
    }
}

/// The number in a [`SERDE_JSON_NUMBER`] map, read by the rule the
/// transcoder applies when serde_json hands over numbers as numbers. Apart
/// from `visit_map`, which reads every map of a message, so as not to slow
/// it down.
#[cold]
#[inline(never)]
fn serde_json_number<'de, A: MapAccess<'de>>(mut map: A) -> Result<Value, A::Error> {
    let text: String = map.next_value()?;
    javascript_number(&text)
        .ok_or_else(|| A::Error::invalid_value(Unexpected::Str(&text), &"a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(bytes: &[u8]) -> (Value, Value) {
        let ours = SizedValue::deserialize(&mut rmp_serde::Deserializer::new(bytes))
            .unwrap()
            .0;
        let rmpv = rmpv::Value::deserialize(&mut rmp_serde::Deserializer::new(bytes)).unwrap();
        (ours, rmpv)
    }

    #[test]
    fn values_are_rmpvs() {
        let rows: Vec<Value> = (0..1000)
            .map(|i| {
                Value::Map(vec![
                    ("id".into(), Value::from(i)),
                    ("neg".into(), Value::from(-i - 1)),
                    ("big".into(), Value::from(u64::MAX)),
                    ("f32".into(), Value::F32(1.5)),
                    ("f64".into(), Value::F64(-2.25)),
                    ("text".into(), Value::from("é ✓")),
                    ("bin".into(), Value::Binary(vec![0, 255])),
                    ("date".into(), Value::Ext(-1, vec![0, 0, 0, 1])),
                    ("ext".into(), Value::Ext(7, vec![])),
                    ("none".into(), Value::Nil),
                    ("flag".into(), Value::Boolean(true)),
                    ("deep".into(), Value::Array(vec![Value::Array(vec![])])),
                ])
            })
            .collect();
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, &Value::Array(rows.clone())).unwrap();
        let (ours, rmpv) = both(&bytes);
        assert_eq!(ours, rmpv);
        assert_eq!(ours, Value::Array(rows));
        let Value::Array(read) = &ours else {
            unreachable!()
        };
        assert_eq!(read.capacity(), 1000, "allocated once, at its length");
    }

    #[test]
    fn a_claimed_length_reserves_no_more_than_a_bound() {
        // An array header claiming 2^32 - 1 elements, with one behind it.
        let bytes = [0xdd, 0xff, 0xff, 0xff, 0xff, 0x01];
        let read = SizedValue::deserialize(&mut rmp_serde::Deserializer::new(&bytes[..]));
        assert!(read.is_err());
        let map = [0xdf, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02];
        let read = SizedValue::deserialize(&mut rmp_serde::Deserializer::new(&map[..]));
        assert!(read.is_err());
    }

    fn from_json(json: &str) -> Value {
        SizedValue::deserialize(&mut serde_json::Deserializer::from_str(json))
            .unwrap()
            .0
    }

    /// The same values whether or not serde_json has `arbitrary_precision`
    /// (scripts/test.sh runs these tests both ways), where numbers come as
    /// maps that rmpv's own `Deserialize` would keep as maps.
    #[test]
    fn json_reads_as_rmpv_reads_it_with_or_without_arbitrary_precision() {
        let json = r#"{"a":[1,-2,1.5,"x\"y",null,true,{}],"b":18446744073709551615,"c":-9223372036854775808}"#;
        let expected = Value::Map(vec![
            (
                "a".into(),
                Value::Array(vec![
                    Value::from(1),
                    Value::from(-2),
                    Value::F64(1.5),
                    Value::from("x\"y"),
                    Value::Nil,
                    Value::Boolean(true),
                    Value::Map(vec![]),
                ]),
            ),
            ("b".into(), Value::from(u64::MAX)),
            ("c".into(), Value::from(i64::MIN)),
        ]);
        assert_eq!(from_json(json), expected);
        if serde_json_numbers_are_maps() {
            // Only then does serde_json hand over what is beyond f64.
            let big = from_json("[1e400, -1e400, 3.0, 123456789012345678901234567890]");
            let expected = [f64::INFINITY, f64::NEG_INFINITY, 3.0, 1.2345678901234568e29];
            assert_eq!(big, expected.map(Value::F64).to_vec().into());
        }
    }

    /// A sender's object keyed like serde_json's private number is an
    /// object, unless serde_json itself uses that key (then, as for
    /// serde_json's own `Value`, the two cannot be told apart).
    #[test]
    fn an_object_keyed_like_serde_jsons_number_is_an_object() {
        let read = from_json(r#"{"$serde_json::private::Number":"5"}"#);
        if serde_json_numbers_are_maps() {
            assert_eq!(read, Value::from(5));
        } else {
            let key = Value::from(SERDE_JSON_NUMBER);
            assert_eq!(read, Value::Map(vec![(key, Value::from("5"))]));
        }
    }
}
