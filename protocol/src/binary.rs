//! Binary arguments. SQL has no value that is both JSON and bytes, so binary
//! arguments travel beside the JSON ones, and the JSON refers to them with
//! Socket.IO's own placeholder, `{"_placeholder":true,"num":N}` (N counts
//! from 0). In the MessagePack attachment each placeholder becomes a `bin`.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};

use crate::Error;

/// One argument of a message that goes to the attachment table: its JSON
/// parsed, its placeholders resolved while serializing (bytes are not copied).
pub(crate) struct WithBinary<'a> {
    pub value: &'a Value,
    pub binary: &'a [&'a [u8]],
}

/// The binary index a placeholder object stands for, if it is one.
fn placeholder(map: &Map<String, Value>) -> Option<&Value> {
    if map.len() == 2 && map.get("_placeholder") == Some(&Value::Bool(true)) {
        map.get("num")
    } else {
        None
    }
}

/// Checks that every placeholder names an existing binary and that every
/// binary is used, so that a mistake is an error rather than a lost file.
pub(crate) fn check_placeholders(args: &[Value], binary_count: usize) -> Result<(), Error> {
    let mut used = vec![false; binary_count];
    fn walk(v: &Value, used: &mut [bool]) -> Result<(), Error> {
        match v {
            Value::Object(map) => match placeholder(map) {
                Some(num) => {
                    let index = num
                        .as_u64()
                        .and_then(|n| usize::try_from(n).ok())
                        .filter(|&n| n < used.len())
                        .ok_or_else(|| Error::BadPlaceholder {
                            num: num.to_string(),
                            count: used.len(),
                        })?;
                    used[index] = true;
                    Ok(())
                }
                None => map.values().try_for_each(|v| walk(v, used)),
            },
            Value::Array(items) => items.iter().try_for_each(|v| walk(v, used)),
            _ => Ok(()),
        }
    }
    args.iter().try_for_each(|v| walk(v, &mut used))?;
    match used.iter().position(|u| !u) {
        Some(index) => Err(Error::UnusedBinary { index }),
        None => Ok(()),
    }
}

impl Serialize for WithBinary<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.value {
            Value::Object(map) => match placeholder(map).and_then(Value::as_u64) {
                // Checked by `check_placeholders` before encoding.
                Some(n) => s.serialize_bytes(self.binary[n as usize]),
                None => {
                    let mut m = s.serialize_map(Some(map.len()))?;
                    for (k, v) in map {
                        m.serialize_entry(k, &self.nested(v))?;
                    }
                    m.end()
                }
            },
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(&self.nested(v))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

impl<'a> WithBinary<'a> {
    fn nested(&self, value: &'a Value) -> WithBinary<'a> {
        WithBinary {
            value,
            binary: self.binary,
        }
    }
}
