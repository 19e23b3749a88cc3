//! JSON arguments → MessagePack, for messages that go to the attachment
//! table, without building a tree of values:
//!
//! - iterative: any nesting depth that PostgreSQL accepts in a `jsonb` is
//!   carried, and none recurses on the stack;
//! - two passes over the text: [`plan`] checks it, counts each container's
//!   members and finds Socket.IO placeholders (`{"_placeholder":true,
//!   "num":N}`, which become `bin` N); [`Plan::write`] writes the
//!   MessagePack, and [`Plan::len`] says beforehand how long it is, so that
//!   the caller allocates the message once, at its final size;
//! - numbers follow the inline path's rule: JSON text carries any number, and
//!   what a Node.js server reads is JavaScript's float64 of it. So integers
//!   that fit 64 bits are MessagePack integers, every other number is the
//!   float64 JavaScript would read from the text (±Infinity beyond its
//!   range, as `1e400` is).

use std::io::Write;

use crate::js_number::{javascript_number, keeps_digits};
use crate::json_text::{malformed, tokens, unescape, unescaped, JsonStr, Token};
use crate::memory::push;
use crate::Error;

/// What the planning pass's memory holds, for an out-of-memory error.
const PLAN: &str = "the MessagePack plan of a JSON argument";

/// What [`Plan::write`] needs, found by [`plan`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan<'a> {
    json: &'a str,
    /// Member count of each array and object, in the order they open.
    counts: Vec<u32>,
    /// The containers that are placeholders, in that order, each with the
    /// binary argument it stands for (a placeholder holds no container, so
    /// they close in the order they open). Kept apart from `counts`: a large
    /// argument has millions of containers and, as a rule, no placeholder.
    placeholders: Vec<(usize, usize)>,
    len: usize,
    /// No number lost digits to float64 ([`keeps_digits`]).
    keeps_digits: bool,
}

/// An open container while planning.
struct Frame {
    index: usize,
    object: bool,
    /// Inside an object: the next string is a key.
    expect_key: bool,
    /// The key of the member being read.
    key: Key,
    /// `"_placeholder": true` seen.
    marked: bool,
    /// The raw text of the value of `"num"`, and where it started.
    num: Option<(usize, usize)>,
    /// The container a member value opened, if it was one (for `num`).
    value_start: usize,
    /// The MessagePack's length before this container.
    len_before: usize,
}

/// The keys a placeholder is made of; no other key is kept.
#[derive(Clone, Copy, PartialEq)]
enum Key {
    Placeholder,
    Num,
    Other,
}

impl Key {
    fn of(key: JsonStr) -> Key {
        // Compared as written; unescaped only when it has an escape.
        let is = |name: &str| key.raw == name || (key.escaped && unescaped(key.raw) == name);
        if is("_placeholder") {
            Key::Placeholder
        } else if is("num") {
            Key::Num
        } else {
            Key::Other
        }
    }
}

/// What an object `{"_placeholder":true,"num":N}` in an argument is.
#[derive(Clone, Copy)]
pub(crate) enum Placeholders<'b> {
    /// Binary argument N of these (what the emit functions' arguments hold).
    Binary(&'b [&'b [u8]]),
    /// A plain object: the argument is data that only looks like one (a
    /// row's columns, a received message).
    Data,
}

/// Checks `json` (one argument), counts its containers, finds its
/// placeholders and measures its MessagePack, in one pass.
pub(crate) fn plan<'a>(json: &'a str, placeholders: Placeholders) -> Result<Plan<'a>, Error> {
    let binary = match placeholders {
        Placeholders::Binary(binary) => binary,
        Placeholders::Data => &[],
    };
    let recognized = matches!(placeholders, Placeholders::Binary(_));
    let mut plan = Plan {
        json,
        counts: Vec::new(),
        placeholders: Vec::new(),
        len: 0,
        keeps_digits: true,
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut values = 0usize;
    for token in tokens(json) {
        let (at, token) = token?;
        // A value (or a key) inside the innermost container.
        if let Some(top) = stack.last_mut() {
            if top.object && top.expect_key {
                let Token::Str(key) = token else {
                    if token == Token::Close {
                        close(&mut plan, &mut stack, at, binary)?;
                        continue;
                    }
                    return Err(malformed("a key that is not a string"));
                };
                top.key = Key::of(key);
                top.expect_key = false;
                plan.counts[top.index] += 1;
                plan.len += scalar_len(token, &mut plan.keeps_digits)?;
                continue;
            }
            if token != Token::Close {
                if top.object {
                    top.expect_key = true;
                    top.value_start = at;
                    if recognized && top.key == Key::Placeholder && token == Token::Bool(true) {
                        top.marked = true;
                    }
                } else {
                    plan.counts[top.index] += 1;
                }
            }
        } else {
            values += 1;
        }
        match token {
            Token::Open { object } => {
                let frame = Frame {
                    index: plan.counts.len(),
                    object,
                    expect_key: object,
                    key: Key::Other,
                    marked: false,
                    num: None,
                    value_start: at,
                    len_before: plan.len,
                };
                push(&mut stack, frame, PLAN)?;
                push(&mut plan.counts, 0, PLAN)?;
            }
            Token::Close => {
                if stack.is_empty() {
                    return Err(malformed("an unmatched bracket"));
                }
                close(&mut plan, &mut stack, at, binary)?;
            }
            Token::Number(_) | Token::Str(_) | Token::Bool(_) | Token::Null => {
                plan.len += scalar_len(token, &mut plan.keeps_digits)?;
                if let Some(top) = stack.last_mut() {
                    if top.object && top.key == Key::Num {
                        top.num = Some((at, at + token_len(json, at)));
                    }
                }
            }
        }
    }
    if values != 1 || !stack.is_empty() {
        return Err(malformed("not exactly one value"));
    }
    Ok(plan)
}

/// The MessagePack length of a scalar token, as [`Plan::write`] writes it;
/// clears `kept` for a number that loses digits.
fn scalar_len(token: Token, kept: &mut bool) -> Result<usize, Error> {
    match token {
        Token::Str(JsonStr { raw, escaped }) => {
            let len = if escaped {
                unescaped_len(raw)?
            } else {
                raw.len()
            };
            Ok(str_header_len(len) + len)
        }
        Token::Number(text) => {
            let mut out = Counter(0);
            let number = write_number(&mut out, text)?;
            *kept &= keeps_digits(text, &number);
            Ok(out.0)
        }
        Token::Bool(_) | Token::Null => Ok(1),
        Token::Open { .. } | Token::Close => unreachable!("not a scalar"),
    }
}

/// The header rmp writes before a string of `len` bytes (fixstr, str 8,
/// 16, 32), counted rather than written: planning measures every string.
pub(crate) fn str_header_len(len: usize) -> usize {
    match len {
        0..32 => 1,
        32..256 => 2,
        256..65_536 => 3,
        _ => 5,
    }
}

/// The header rmp writes before a map or array of `count` members
/// (fixmap/fixarray, 16, 32).
fn container_header_len(count: u32) -> usize {
    match count {
        0..16 => 1,
        16..65_536 => 3,
        _ => 5,
    }
}

/// The length of a string's UTF-8 with its escapes resolved.
fn unescaped_len(raw: &str) -> Result<usize, Error> {
    let mut len = 0usize;
    unescape(raw, |chunk| {
        len += chunk.len();
        Ok(())
    })?;
    Ok(len)
}

/// The length of the scalar token starting at `at`.
fn token_len(json: &str, at: usize) -> usize {
    let mut rest = tokens(json);
    rest.at = at;
    match rest.next() {
        Some(Ok(_)) => rest.at - at,
        _ => 0,
    }
}

/// Closes the innermost container, adding its header to the length; an
/// object that is exactly `{"_placeholder":true,"num":N}` names binary
/// argument N, which must exist, and is measured as that `bin`.
fn close(
    plan: &mut Plan,
    stack: &mut Vec<Frame>,
    at: usize,
    binary: &[&[u8]],
) -> Result<(), Error> {
    let frame = stack.pop().expect("an open container");
    let count = plan.counts[frame.index];
    plan.len += container_header_len(count);
    if frame.object && frame.marked && count == 2 {
        if let Some((start, end)) = frame.num {
            let text = &plan.json[start..end];
            let index = text
                .parse::<usize>()
                .ok()
                .filter(|&n| n < binary.len())
                .ok_or_else(|| Error::BadPlaceholder {
                    num: text.to_owned(),
                    count: binary.len(),
                })?;
            push(&mut plan.placeholders, (frame.index, index), PLAN)?;
            let mut bin = Counter(0);
            write_bin(&mut bin, binary[index])?;
            plan.len = frame.len_before + bin.0;
        }
    }
    // A container that is a member value of the enclosing object: `num`
    // must be a number, and a container never is.
    if let Some(parent) = stack.last_mut() {
        if parent.object && parent.key == Key::Num {
            parent.num = Some((frame.value_start, at + 1));
        }
    }
    Ok(())
}

impl Plan<'_> {
    /// The MessagePack's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether every number keeps its digits in the MessagePack.
    pub fn keeps_digits(&self) -> bool {
        self.keeps_digits
    }

    /// The binary arguments this argument uses.
    pub fn used(&self) -> impl Iterator<Item = usize> + '_ {
        self.placeholders.iter().map(|&(_, n)| n)
    }

    /// Writes the MessagePack; returns how many bytes it wrote. Keys and
    /// values follow each other in the text as MessagePack wants them.
    pub fn write<W: Write>(&self, binary: &[&[u8]], out: &mut W) -> Result<usize, Error> {
        let mut out = Counted { inner: out, n: 0 };
        let mut next_container = 0;
        let mut placeholders = self.placeholders.iter().peekable();
        // Inside a placeholder object, already written as its bin.
        let mut skip_depth = 0usize;
        for token in tokens(self.json) {
            let (_, token) = token?;
            if skip_depth > 0 {
                match token {
                    Token::Open { .. } => skip_depth += 1,
                    Token::Close => skip_depth -= 1,
                    _ => {}
                }
                continue;
            }
            match token {
                Token::Open { object } => {
                    let index = next_container;
                    next_container += 1;
                    if let Some(&(_, n)) = placeholders.next_if(|&&(at, _)| at == index) {
                        write_bin(&mut out, binary[n])?;
                        skip_depth = 1;
                    } else if object {
                        rmp::encode::write_map_len(&mut out, self.counts[index]).map_err(io)?;
                    } else {
                        rmp::encode::write_array_len(&mut out, self.counts[index]).map_err(io)?;
                    }
                }
                Token::Close => {}
                Token::Str(raw) => write_str(&mut out, raw)?,
                Token::Number(text) => {
                    write_number(&mut out, text)?;
                }
                Token::Bool(b) => rmp::encode::write_bool(&mut out, b).map_err(io)?,
                Token::Null => rmp::encode::write_nil(&mut out).map_err(io)?,
            }
        }
        Ok(out.n)
    }
}

fn write_bin<W: Write>(out: &mut W, bytes: &[u8]) -> Result<(), Error> {
    rmp::encode::write_bin(out, bytes).map_err(io)
}

fn write_str<W: Write>(out: &mut W, JsonStr { raw, escaped }: JsonStr) -> Result<(), Error> {
    if !escaped {
        return rmp::encode::write_str(out, raw).map_err(io);
    }
    let len = unescaped_len(raw)?;
    rmp::encode::write_str_len(out, u32::try_from(len).map_err(|_| too_long())?).map_err(io)?;
    unescape(raw, |chunk| out.write_all(chunk).map_err(io))
}

/// Integers that fit 64 bits as MessagePack integers (as serde writes them),
/// every other number as the float64 JavaScript reads from its text.
/// Returns what it wrote, for the callers that ask [`keeps_digits`] (once
/// per number: planning asks, writing does not).
pub(crate) fn write_number<W: Write>(out: &mut W, text: &str) -> Result<rmpv::Value, Error> {
    let number = javascript_number(text).ok_or_else(|| malformed("a malformed number"))?;
    rmpv::encode::write_value(out, &number).map_err(io)?;
    Ok(number)
}

pub(crate) fn io<E: std::fmt::Display>(e: E) -> Error {
    Error::Json(format!("writing MessagePack: {e}"))
}

fn too_long() -> Error {
    Error::TooLarge {
        len: usize::MAX,
        max: crate::MAX_ATTACHMENT,
    }
}

/// Counts what is written through it.
struct Counted<'w, W> {
    inner: &'w mut W,
    n: usize,
}

impl<W: Write> Write for Counted<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Discards what is written, counting it: how the planning pass measures.
pub(crate) struct Counter(pub usize);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the attachment path writes for `json`, an argument that holds no
/// placeholders: what the MessagePack written with a row's JSON must equal.
#[cfg(test)]
pub(crate) fn transcoded(json: &str) -> Vec<u8> {
    let plan = plan(json, Placeholders::Data).unwrap();
    let mut out = Vec::new();
    assert_eq!(plan.write(&[], &mut out).unwrap(), plan.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgpack(json: &str, binary: &[&[u8]]) -> Vec<u8> {
        let plan = plan(json, Placeholders::Binary(binary)).unwrap();
        let mut out = Vec::new();
        assert_eq!(plan.write(binary, &mut out).unwrap(), plan.len());
        assert_eq!(out.len(), plan.len());
        out
    }

    /// The same JSON as serde_json reads it, written by rmpv. Not through
    /// serde: with serde_json's `arbitrary_precision` a `Number` serializes
    /// as a map.
    fn via_serde(json: &str) -> Vec<u8> {
        fn value(json: serde_json::Value) -> rmpv::Value {
            use serde_json::Value as J;
            match json {
                J::Null => rmpv::Value::Nil,
                J::Bool(b) => b.into(),
                J::Number(n) => (n.as_u64().map(rmpv::Value::from))
                    .or_else(|| n.as_i64().map(rmpv::Value::from))
                    .unwrap_or_else(|| rmpv::Value::F64(n.as_f64().unwrap())),
                J::String(s) => s.into(),
                J::Array(items) => items.into_iter().map(value).collect::<Vec<_>>().into(),
                J::Object(members) => rmpv::Value::Map(
                    members
                        .into_iter()
                        .map(|(k, v)| (k.into(), value(v)))
                        .collect(),
                ),
            }
        }
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &value(serde_json::from_str(json).unwrap())).unwrap();
        out
    }

    #[test]
    fn writes_what_serde_writes_for_json_that_serde_reads() {
        for json in [
            "null",
            "true",
            r#"{"a":[1,-1,0,255,256,-33,65536,-2147483649,18446744073709551615,-9223372036854775808]}"#,
            r#"[1.5,-0.25,1e10,2.5E-3,"x"]"#,
            r#""esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 é""#,
            r#"{"\u0041b": {"": []}, "k": [{}, [[]]]}"#,
            &format!("\"{}\"", "y".repeat(70_000)),
            &format!("[{}]", vec!["0"; 70_000].join(",")),
        ] {
            assert_eq!(msgpack(json, &[]), via_serde(json), "{json}");
        }
    }

    #[test]
    fn every_header_size_is_measured_as_written() {
        // Each side of each size class of strings (fixstr, str 8/16/32,
        // escaped or not, an escape on either side of the tokenizer's
        // short scan) and of containers (fix, 16, 32).
        let mut cases = Vec::new();
        for len in [0, 1, 15, 16, 17, 31, 32, 255, 256, 65_535, 65_536] {
            cases.push(format!("\"{}\"", "s".repeat(len)));
            // The escape counts as one byte of the string's length.
            let rest = "s".repeat(len.saturating_sub(1));
            for at in [0, len / 2, len.saturating_sub(1)] {
                let (before, after) = rest.split_at(at);
                cases.push(format!(r#""{before}\n{after}""#));
            }
        }
        for count in [0, 15, 16, 65_535, 65_536] {
            cases.push(format!("[{}]", vec!["1"; count].join(",")));
            // Keys in sorted order: serde_json's map sorts them.
            let members: Vec<String> = (0..count).map(|i| format!(r#""k{i:05}":{i}"#)).collect();
            cases.push(format!("{{{}}}", members.join(",")));
        }
        for json in &cases {
            assert_eq!(
                msgpack(json, &[]),
                via_serde(json),
                "{}",
                &json[..json.len().min(40)]
            );
        }
    }

    #[test]
    fn numbers_beyond_64_bits_are_the_float_javascript_reads() {
        let value = |json: &str| rmpv::decode::read_value(&mut &msgpack(json, &[])[..]).unwrap();
        assert_eq!(value("1e400"), rmpv::Value::F64(f64::INFINITY));
        assert_eq!(value("-1e400"), rmpv::Value::F64(f64::NEG_INFINITY));
        assert_eq!(
            value("123456789012345678901234567890"),
            rmpv::Value::F64(1.2345678901234568e29)
        );
        assert_eq!(
            value("18446744073709551616"),
            rmpv::Value::F64(1.8446744073709552e19)
        );
        assert_eq!(value("-0"), rmpv::Value::from(0));
        assert_eq!(value("1.50"), rmpv::Value::F64(1.5));
    }

    #[test]
    fn any_depth_without_recursion() {
        let depth = 200_000;
        let json = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let out = msgpack(&json, &[]);
        // fixarray(1) for each level but the innermost, fixarray(0).
        assert_eq!(out.len(), depth);
        assert!(out[..depth - 1].iter().all(|&b| b == 0x91));
        assert_eq!(out[depth - 1], 0x90);
        let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
        assert_eq!(msgpack(&objects, &[]).len(), 3 * depth + 1);
    }

    #[test]
    fn a_lone_surrogate_becomes_the_replacement_character() {
        let out = msgpack(r#""a\ud800b\udc00""#, &[]);
        assert_eq!(
            rmpv::decode::read_value(&mut &out[..]).unwrap(),
            rmpv::Value::from("a\u{fffd}b\u{fffd}")
        );
    }

    #[test]
    fn placeholders_become_their_binary_argument() {
        let bin: &[&[u8]] = &[b"zero", b"one"];
        let out = msgpack(
            r#"[{"num":1,"_placeholder":true},{"x":{"_placeholder":true,"num":0}},{"_placeholder":true,"num":0,"more":1},{"_placeholder":false,"num":0}]"#,
            bin,
        );
        let value = rmpv::decode::read_value(&mut &out[..]).unwrap();
        // Members keep the text's order, as they do inline.
        let map = |members: &[(&str, rmpv::Value)]| {
            rmpv::Value::Map(
                members
                    .iter()
                    .map(|(k, v)| ((*k).into(), v.clone()))
                    .collect(),
            )
        };
        let expected = rmpv::Value::Array(vec![
            rmpv::Value::Binary(b"one".to_vec()),
            map(&[("x", rmpv::Value::Binary(b"zero".to_vec()))]),
            map(&[
                ("_placeholder", true.into()),
                ("num", 0.into()),
                ("more", 1.into()),
            ]),
            map(&[("_placeholder", false.into()), ("num", 0.into())]),
        ]);
        assert_eq!(value, expected);
        let planned = plan(
            r#"[{"_placeholder":true,"num":1}]"#,
            Placeholders::Binary(bin),
        )
        .unwrap();
        assert_eq!(planned.used().collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn the_length_planned_is_the_length_written() {
        // Binary of each `bin` size class, replacing objects whose own
        // MessagePack is shorter or longer; escaped keys; empty containers.
        let small = [7u8; 3];
        let medium = vec![7u8; 300];
        let large = vec![7u8; 70_000];
        let bin: &[&[u8]] = &[&small, &medium, &large];
        for json in [
            r#"[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]"#,
            r#"{"a":{"\u005fplaceholder":true,"n\u0075m":2},"b":[[],{}],"c":"\n"}"#,
            r#"{"_placeholder":true,"num":1}"#,
        ] {
            let planned = plan(json, Placeholders::Binary(bin)).unwrap();
            let mut out = Vec::new();
            assert_eq!(planned.write(bin, &mut out).unwrap(), out.len(), "{json}");
            assert_eq!(out.len(), planned.len(), "{json}");
            assert_eq!(
                planned.used().count(),
                if json.starts_with('[') { 3 } else { 1 }
            );
        }
    }

    #[test]
    fn a_placeholder_naming_no_binary_is_refused() {
        for (json, num) in [
            (r#"{"_placeholder":true,"num":2}"#, "2"),
            (r#"{"_placeholder":true,"num":-1}"#, "-1"),
            (r#"{"_placeholder":true,"num":"0"}"#, "\"0\""),
            (r#"{"_placeholder":true,"num":[0]}"#, "[0]"),
            (r#"{"_placeholder":true,"num":0.5}"#, "0.5"),
        ] {
            assert_eq!(
                plan(json, Placeholders::Binary(&[b"a", b"b"])),
                Err(Error::BadPlaceholder {
                    num: num.into(),
                    count: 2
                }),
                "{json}"
            );
        }
    }

    #[test]
    fn in_data_a_placeholder_shaped_object_is_an_object() {
        for json in [
            r#"{"_placeholder":true,"num":0}"#,
            r#"[{"_placeholder":true,"num":"x"},{"_placeholder":true,"num":7}]"#,
        ] {
            let planned = plan(json, Placeholders::Data).unwrap();
            let mut out = Vec::new();
            planned.write(&[], &mut out).unwrap();
            assert_eq!(out, via_serde(json), "{json}");
            assert_eq!(planned.used().count(), 0);
        }
    }

    #[test]
    fn malformed_text_is_an_error_not_a_panic() {
        for json in [
            "",
            "[1,",
            "\"open",
            "{1:2}",
            "]",
            "[]]",
            "1 2",
            "nope",
            "[\"\\x\"]",
            "\"\\u12\"",
        ] {
            assert!(plan(json, Placeholders::Binary(&[])).is_err(), "{json:?}");
        }
    }
}
