//! A row's JSON written from its columns' values, byte for byte as
//! PostgreSQL's `row_to_json` writes it, into memory measured first: the
//! caller allocates the message once, at its final size, and no column's text
//! is copied more than once on the way.
//!
//! Which value of a column is JSON text and which is text to quote is
//! PostgreSQL's business (the extension decides it per column type); this
//! module only measures, escapes and writes.

use std::borrow::Cow;

use crate::json_text::unescaped;
use crate::memory::reserve;
use crate::Error;

/// A column's value as the row's JSON holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColumnValue<'a> {
    Null,
    /// JSON text written as it is: numbers, booleans, `json`, `jsonb`,
    /// arrays and composites as PostgreSQL writes them.
    Json(&'a str),
    /// Text written as a JSON string, escaped as PostgreSQL's `escape_json`
    /// escapes (the same rules as serde_json's).
    Text(&'a str),
}

impl<'a> ColumnValue<'a> {
    /// Its length in the JSON, in bytes.
    pub fn len(&self) -> usize {
        match self {
            ColumnValue::Null => 4,
            ColumnValue::Json(json) => json.len(),
            ColumnValue::Text(text) => escaped_len(text.as_bytes()),
        }
    }

    /// Never: `null` has four bytes.
    pub fn is_empty(&self) -> bool {
        false
    }

    fn write(&self, out: &mut Out) {
        match self {
            ColumnValue::Null => out.put(b"null"),
            ColumnValue::Json(json) => out.put(json.as_bytes()),
            ColumnValue::Text(text) => write_escaped(text.as_bytes(), out),
        }
    }

    /// The value as `->>` gives it, for a room: `None` for NULL, a string
    /// unquoted, any other JSON as its text (a number exactly as written).
    pub fn room_text(&self) -> Option<Cow<'a, str>> {
        match *self {
            ColumnValue::Null => None,
            ColumnValue::Text(text) => Some(Cow::Borrowed(text)),
            // A `json` column keeps the blanks it was given.
            ColumnValue::Json(json) => match json.trim() {
                "null" => None,
                json => match json.strip_prefix('"').and_then(|j| j.strip_suffix('"')) {
                    Some(quoted) => Some(Cow::Owned(unescaped(quoted))),
                    None => Some(Cow::Borrowed(json)),
                },
            },
        }
    }
}

/// A member's key as `row_to_json` writes it, colon included: made once
/// per column, not per row.
pub fn member_key(name: &str) -> String {
    let mut key = vec![0; escaped_len(name.as_bytes()) + 1];
    let mut out = Out::new(&mut key);
    write_escaped(name.as_bytes(), &mut out);
    out.put(b":");
    String::from_utf8(key).expect("escaping keeps UTF-8")
}

/// A row's members in column order, keys from [`member_key`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Row<'a> {
    pub members: Vec<(&'a str, ColumnValue<'a>)>,
}

impl Row<'_> {
    /// Its JSON's length in bytes.
    pub fn len(&self) -> usize {
        let members: usize = self.members.iter().map(|(k, v)| k.len() + v.len()).sum();
        2 + members + self.members.len().saturating_sub(1)
    }

    /// Never: `{}` has two bytes.
    pub fn is_empty(&self) -> bool {
        false
    }

    pub(crate) fn write(&self, out: &mut Out) {
        out.put(b"{");
        for (i, (key, value)) in self.members.iter().enumerate() {
            if i > 0 {
                out.put(b",");
            }
            out.put(key.as_bytes());
            value.write(out);
        }
        out.put(b"}");
    }

    /// Appends its JSON to `buf` (a statement's rows share one buffer);
    /// running out of memory for it is an error.
    pub fn append_to(&self, buf: &mut Vec<u8>) -> Result<(), Error> {
        let (start, len) = (buf.len(), self.len());
        reserve(buf, len, "the JSON of a statement's rows")?;
        buf.resize(start + len, 0);
        self.write(&mut Out::new(&mut buf[start..]));
        Ok(())
    }
}

/// Writes into memory measured beforehand; writing past its end is a bug
/// of the measuring, and panics.
pub(crate) struct Out<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl<'a> Out<'a> {
    pub fn new(buf: &'a mut [u8]) -> Out<'a> {
        Out { buf, at: 0 }
    }

    pub fn put(&mut self, bytes: &[u8]) {
        self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }

    /// What was written, which must be all of the memory.
    pub fn finish(self) -> &'a [u8] {
        let Out { buf, at } = self;
        debug_assert_eq!(at, buf.len(), "measured and written lengths differ");
        &buf[..at]
    }
}

/// How many bytes `escape_json` adds for each byte: 1 for a two-character
/// escape, 5 for `\u00XX`.
const EXTRA: [u8; 256] = {
    let mut extra = [0; 256];
    let mut b = 0;
    while b < 0x20 {
        extra[b] = 5;
        b += 1;
    }
    extra[b'"' as usize] = 1;
    extra[b'\\' as usize] = 1;
    extra[0x08] = 1;
    extra[0x0c] = 1;
    extra[b'\n' as usize] = 1;
    extra[b'\r' as usize] = 1;
    extra[b'\t' as usize] = 1;
    extra
};

/// The length of `text` as a JSON string, quotes included.
pub(crate) fn escaped_len(text: &[u8]) -> usize {
    2 + text.len()
        + text
            .iter()
            .map(|&b| usize::from(EXTRA[b as usize]))
            .sum::<usize>()
}

pub(crate) fn write_escaped(bytes: &[u8], out: &mut Out) {
    out.put(b"\"");
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if EXTRA[b as usize] == 0 {
            continue;
        }
        out.put(&bytes[from..i]);
        match b {
            b'"' => out.put(b"\\\""),
            b'\\' => out.put(b"\\\\"),
            0x08 => out.put(b"\\b"),
            0x0c => out.put(b"\\f"),
            b'\n' => out.put(b"\\n"),
            b'\r' => out.put(b"\\r"),
            b'\t' => out.put(b"\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.put(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ]);
            }
        }
        from = i + 1;
    }
    out.put(&bytes[from..]);
    out.put(b"\"");
}

/// Whether an output function's text is a JSON number, as PostgreSQL's
/// `IsValidJsonNumber` decides: `row_to_json` writes a number as it is when
/// it is one, and quotes it otherwise (`NaN`, `Infinity`).
pub fn is_json_number(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_postgresql_and_serde_json_do() {
        for text in [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "\u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f}",
            "é ✓ 𝄞 \u{2028}",
        ] {
            let value = ColumnValue::Text(text);
            let mut bytes = vec![0; value.len()];
            let mut out = Out::new(&mut bytes);
            value.write(&mut out);
            assert_eq!(
                std::str::from_utf8(out.finish()).unwrap(),
                serde_json::to_string(text).unwrap()
            );
        }
    }

    #[test]
    fn a_row_is_measured_then_written() {
        let (id, name, none, doc) = (
            member_key("id"),
            member_key("na\"me"),
            member_key("none"),
            member_key("doc"),
        );
        let row = Row {
            members: vec![
                (&id, ColumnValue::Json("42")),
                (&name, ColumnValue::Text("x\ny")),
                (&none, ColumnValue::Null),
                (&doc, ColumnValue::Json(r#"{"a": [1, 2]}"#)),
            ],
        };
        // Appended after what the buffer holds, as a statement's rows are.
        let mut buf = b"[".to_vec();
        row.append_to(&mut buf).unwrap();
        assert_eq!(buf.len(), 1 + row.len());
        Row::default().append_to(&mut buf).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            r#"[{"id":42,"na\"me":"x\ny","none":null,"doc":{"a": [1, 2]}}{}"#
        );
    }

    #[test]
    fn room_text_is_what_the_arrow_operator_gives() {
        assert_eq!(ColumnValue::Null.room_text(), None);
        assert_eq!(ColumnValue::Json(" null ").room_text(), None);
        assert_eq!(ColumnValue::Json(" 5\n").room_text().as_deref(), Some("5"));
        assert_eq!(
            ColumnValue::Json("1.50").room_text().as_deref(),
            Some("1.50")
        );
        assert_eq!(
            ColumnValue::Json("123456789012345678901234567890")
                .room_text()
                .as_deref(),
            Some("123456789012345678901234567890")
        );
        assert_eq!(
            ColumnValue::Json(r#""a\"b""#).room_text().as_deref(),
            Some("a\"b")
        );
        assert_eq!(
            ColumnValue::Text("a\"b").room_text().as_deref(),
            Some("a\"b")
        );
        assert_eq!(
            ColumnValue::Json(r#"{"a":[1]}"#).room_text().as_deref(),
            Some(r#"{"a":[1]}"#)
        );
    }

    #[test]
    fn json_numbers_are_told_from_other_output() {
        for yes in ["0", "-0", "42", "1.50", "-12.5e-3", "1E+10", "1e400"] {
            assert!(is_json_number(yes), "{yes}");
        }
        for no in [
            "",
            "-",
            "NaN",
            "Infinity",
            "-Infinity",
            "01",
            "1.",
            ".5",
            "1e",
            "+1",
            "1 ",
        ] {
            assert!(!is_json_number(no), "{no}");
        }
    }
}
