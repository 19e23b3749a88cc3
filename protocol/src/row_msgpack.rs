//! A row's MessagePack written from its columns' values: byte for byte
//! what transcoding the row's JSON (`row_json`) writes, without that JSON
//! being read again. Statement-mode messages go to the attachment table as
//! a rule, and transcoding their rows was about half of what `sio_trigger`
//! spent on them (perf; BENCHMARKS.md): text columns are copied here as
//! they are, where the JSON escaped them and the transcoder read the
//! escapes back.

use crate::js_number::keeps_digits;
use crate::json_text::unescaped;
use crate::memory::reserve;
use crate::row_json::{is_json_number, ColumnValue, Row};
use crate::transcode::{io, plan, write_number, Placeholders};
use crate::Error;
use std::borrow::Cow;

impl Row<'_> {
    /// Appends its MessagePack to `buf` (a statement's rows share one
    /// buffer) in one pass: room for each piece is made before it is
    /// written (its length, or the most its header or number can take), so
    /// `buf` grows fallibly and writing into it never allocates. Says
    /// whether every number kept its digits (see `js_number`).
    pub fn append_msgpack_to(&self, buf: &mut Vec<u8>) -> Result<bool, Error> {
        let room = |buf: &mut Vec<u8>, bytes: usize| {
            reserve(buf, bytes, "the MessagePack of a statement's rows")
        };
        let len = u32::try_from(self.members.len()).expect("at most 1,664 columns");
        room(buf, HEADER)?;
        rmp::encode::write_map_len(buf, len).map_err(io)?;
        let mut kept = true;
        for (key, value) in &self.members {
            let name = member_name(key);
            room(buf, HEADER + name.len())?;
            rmp::encode::write_str(buf, &name).map_err(io)?;
            match value {
                ColumnValue::Null => {
                    room(buf, 1)?;
                    rmp::encode::write_nil(buf).map_err(io)?;
                }
                ColumnValue::Text(text) => {
                    room(buf, HEADER + text.len())?;
                    rmp::encode::write_str(buf, text).map_err(io)?;
                }
                ColumnValue::Json(json) => match scalar(json) {
                    Some(Scalar::Bool(b)) => {
                        room(buf, 1)?;
                        rmp::encode::write_bool(buf, b).map_err(io)?;
                    }
                    Some(Scalar::Null) => {
                        room(buf, 1)?;
                        rmp::encode::write_nil(buf).map_err(io)?;
                    }
                    Some(Scalar::Number) => {
                        room(buf, NUMBER)?;
                        let number = write_number(buf, json)?;
                        kept &= keeps_digits(json, &number);
                    }
                    // `json`, `jsonb`, arrays and composites.
                    None => {
                        let plan = plan(json, Placeholders::Data)?;
                        room(buf, plan.len())?;
                        plan.write(&[], buf)?;
                        kept &= plan.keeps_digits();
                    }
                },
            }
        }
        Ok(kept)
    }
}

/// The most a MessagePack map or string header takes.
const HEADER: usize = 5;
/// The most a MessagePack number takes (a marker and 8 bytes).
const NUMBER: usize = 9;

/// A JSON value written without planning.
enum Scalar {
    Bool(bool),
    Null,
    Number,
}

fn scalar(json: &str) -> Option<Scalar> {
    match json {
        "true" => Some(Scalar::Bool(true)),
        "false" => Some(Scalar::Bool(false)),
        "null" => Some(Scalar::Null),
        _ if is_json_number(json) => Some(Scalar::Number),
        _ => None,
    }
}

/// The column name of a member key (`"name":`, as `member_key` made it).
fn member_name(key: &str) -> Cow<'_, str> {
    let quoted = key
        .strip_prefix('"')
        .and_then(|k| k.strip_suffix("\":"))
        .expect("a key made by member_key");
    if quoted.contains('\\') {
        Cow::Owned(unescaped(quoted))
    } else {
        Cow::Borrowed(quoted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row_json::member_key;
    use crate::transcode::transcoded;

    #[test]
    fn a_rows_msgpack_is_what_transcoding_its_json_writes() {
        let names = [
            "id",
            "big",
            "neg",
            "huge",
            "float",
            "exp",
            "nan",
            "text",
            "esc\"aped\u{1}",
            "none",
            "flag",
            "no",
            "obj",
            "arr",
            "blanks",
            "place",
            "str",
            "nul",
        ];
        let keys: Vec<String> = names.iter().map(|n| member_key(n)).collect();
        let values = [
            ColumnValue::Json("42"),
            ColumnValue::Json("18446744073709551615"),
            ColumnValue::Json("-9223372036854775808"),
            ColumnValue::Json("123456789012345678901234567890"),
            ColumnValue::Json("1.50"),
            ColumnValue::Json("1e400"),
            ColumnValue::Text("NaN"),
            ColumnValue::Text("é \"q\" \\ \n\t\u{1} ✓"),
            ColumnValue::Text(""),
            ColumnValue::Null,
            ColumnValue::Json("true"),
            ColumnValue::Json("false"),
            ColumnValue::Json(r#"{"a":[1,{"b":"\u00e9"}],"c":null}"#),
            ColumnValue::Json("[1, 2.5, \"x\", [], {}]"),
            ColumnValue::Json(" 7 "),
            ColumnValue::Json(r#"{"_placeholder":true,"num":0}"#),
            ColumnValue::Json(r#""a\"b""#),
            ColumnValue::Json("null"),
        ];
        let row = Row {
            members: keys.iter().map(String::as_str).zip(values).collect(),
        };
        let mut json = Vec::new();
        row.append_to(&mut json).unwrap();
        let mut msgpack = vec![0xc3];
        row.append_msgpack_to(&mut msgpack).unwrap();
        assert_eq!(
            msgpack[1..],
            transcoded(std::str::from_utf8(&json).unwrap())[..]
        );
        let empty = Row::default();
        let mut msgpack = Vec::new();
        empty.append_msgpack_to(&mut msgpack).unwrap();
        assert_eq!(msgpack, transcoded("{}"));
    }
}
