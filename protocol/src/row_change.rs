//! Row changes as Socket.IO events: what `sio_trigger` sends, in plain Rust.
//!
//! Rooms are rendered from the row's values (`row_json`), which the
//! extension reads from the tuple. The event's one argument is
//! `{"op","schema","table","new","old"}` (one row) or
//! `{"op","schema","table","rows":[{"new","old"}, ...]}` (a statement).

use std::borrow::Cow;

use crate::encode::JsonArg;
use crate::memory::reserve;
use crate::row_json::{ColumnValue, Out, Row};
use crate::transcode::io;
use crate::Error;

/// The trigger's arguments, as `CREATE TRIGGER ... EXECUTE FUNCTION
/// sio_trigger(...)` gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerOptions {
    /// Room templates: every room they name for a row is reached once.
    pub rooms: Vec<String>,
    /// `None`: the table's name.
    pub event: Option<String>,
    pub nsp: String,
    pub columns: Columns,
}

/// Which of the row's columns are sent (room templates see all of them).
#[derive(Debug, Clone, PartialEq)]
pub enum Columns {
    All,
    Only(Vec<String>),
    AllBut(Vec<String>),
}

/// How the arguments are written, for error messages.
pub const TRIGGER_USAGE: &str = "sio_trigger(room_template [, event [, namespace]] \
     [, 'room=<template>' ...] [, 'columns=a,b' | 'exclude=a,b'] [, 'event=<name>'] [, 'nsp=/n'])";

impl TriggerOptions {
    pub fn parse(args: &[&str]) -> Result<TriggerOptions, String> {
        let mut options = TriggerOptions {
            rooms: Vec::new(),
            event: None,
            nsp: "/".to_owned(),
            columns: Columns::All,
        };
        let mut positional = 0;
        for (i, arg) in args.iter().enumerate() {
            let option = ["room", "columns", "exclude", "event", "nsp"]
                .iter()
                .find_map(|key| arg.strip_prefix(key)?.strip_prefix('=').map(|v| (*key, v)));
            match option {
                None if positional == i && i < 3 => {
                    positional += 1;
                    match i {
                        0 => options.rooms.push((*arg).to_owned()),
                        1 => options.event = Some((*arg).to_owned()),
                        _ => options.nsp = (*arg).to_owned(),
                    }
                }
                None => {
                    return Err(format!(
                        "argument {} ({arg:?}) is not an option: after the room template, event \
                         and namespace come only room=, columns=, exclude=, event= or nsp=",
                        i + 1
                    ))
                }
                Some(("room", template)) => options.rooms.push(template.to_owned()),
                Some(("event", event)) => options.event = Some(event.to_owned()),
                Some(("nsp", nsp)) => options.nsp = nsp.to_owned(),
                Some((key, list)) => {
                    if options.columns != Columns::All {
                        return Err("give columns= or exclude=, once".to_owned());
                    }
                    let names: Vec<String> = list.split(',').map(|c| c.trim().to_owned()).collect();
                    if names.iter().any(String::is_empty) {
                        return Err(format!("{key}= takes column names separated by commas"));
                    }
                    options.columns = if key == "columns" {
                        Columns::Only(names)
                    } else {
                        Columns::AllBut(names)
                    };
                }
            }
        }
        if options.rooms.is_empty() {
            return Err("a room template is required".to_owned());
        }
        crate::channel::check_namespace(&options.nsp).map_err(|e| e.to_string())?;
        for template in &options.rooms {
            check_template(template).map_err(|e| e.to_string())?;
        }
        Ok(options)
    }

    /// The columns the room templates name.
    pub fn room_columns(&self) -> Vec<&str> {
        self.rooms
            .iter()
            .flat_map(|t| template_columns(t))
            .collect()
    }

    /// Every column a room template or a filter names.
    pub fn named_columns(&self) -> Vec<&str> {
        let mut names = self.room_columns();
        if let Columns::Only(list) | Columns::AllBut(list) = &self.columns {
            names.extend(list.iter().map(String::as_str));
        }
        names
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("room template names column \"{0}\", which the row does not have")]
    NoColumn(String),
    #[error(
        "room template has an unbalanced brace: write {{column}}, and {{{{ or }}}} for a brace"
    )]
    Unbalanced,
    #[error("room template must not be empty")]
    Empty,
}

/// Fills each `{column}` of `template` with the column's text, as `value`
/// gives it (`Ok(None)`: the column is NULL; `Err`: there is no such
/// column); `{{` and `}}` stand for braces. `None` when a named column is
/// NULL: such a row has no room, and must not fall back to "every client".
pub fn render<'v>(
    template: &str,
    mut value: impl FnMut(&str) -> Result<Option<Cow<'v, str>>, TemplateError>,
) -> Result<Option<String>, TemplateError> {
    let mut out = String::with_capacity(template.len() + 16);
    for part in parts(template)? {
        match part {
            Part::Text(text) => out.push_str(text),
            Part::Column(column) => match value(column)? {
                Some(text) => out.push_str(&text),
                None => return Ok(None),
            },
        }
    }
    Ok(Some(out))
}

fn check_template(template: &str) -> Result<(), TemplateError> {
    parts(template).map(drop)
}

fn template_columns(template: &str) -> Vec<&str> {
    parts(template)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| match p {
            Part::Column(c) => Some(c),
            Part::Text(_) => None,
        })
        .collect()
}

enum Part<'a> {
    Text(&'a str),
    Column(&'a str),
}

fn parts(template: &str) -> Result<Vec<Part<'_>>, TemplateError> {
    if template.is_empty() {
        return Err(TemplateError::Empty);
    }
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        parts.push(Part::Text(&rest[..i]));
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            parts.push(Part::Text(&tail[..1]));
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err(TemplateError::Unbalanced);
        }
        let end = tail.find('}').ok_or(TemplateError::Unbalanced)?;
        parts.push(Part::Column(&tail[1..end]));
        rest = &tail[end + 1..];
    }
    parts.push(Part::Text(rest));
    Ok(parts)
}

/// Room templates with their columns resolved to positions (a table's
/// attributes): a row's rooms are rendered without parsing a template or
/// looking up a column by name.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomTemplates(Vec<Vec<Piece>>);

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Column(usize),
}

impl RoomTemplates {
    /// `position` gives a column's position by name, `None` when there is
    /// no such column.
    pub fn compile(
        templates: &[String],
        position: impl Fn(&str) -> Option<usize>,
    ) -> Result<RoomTemplates, TemplateError> {
        let compiled = templates
            .iter()
            .map(|template| {
                parts(template)?
                    .into_iter()
                    .map(|part| match part {
                        Part::Text(text) => Ok(Piece::Text(text.to_owned())),
                        Part::Column(name) => position(name)
                            .map(Piece::Column)
                            .ok_or_else(|| TemplateError::NoColumn(name.to_owned())),
                    })
                    .collect()
            })
            .collect::<Result<_, _>>()?;
        Ok(RoomTemplates(compiled))
    }

    /// The positions of the columns the templates name.
    pub fn columns(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().flatten().filter_map(|piece| match piece {
            Piece::Column(at) => Some(*at),
            Piece::Text(_) => None,
        })
    }

    /// The rooms a row is in, `value` giving its columns by position: each
    /// room once, in template order; a template with a NULL column gives
    /// none.
    pub fn rooms<'v>(&self, value: impl Fn(usize) -> ColumnValue<'v>) -> Vec<String> {
        let mut rooms: Vec<String> = Vec::with_capacity(self.0.len());
        self.each_room(value, |room| {
            if !rooms.iter().any(|r| r == room) {
                rooms.push(room.to_owned());
            }
        });
        rooms
    }

    /// Calls `found` with each room of the row, in template order, rendered
    /// into one buffer (no allocation per room: a statement renders one per
    /// row). Two templates may give the same room; the caller keeps it once.
    pub fn each_room<'v>(
        &self,
        value: impl Fn(usize) -> ColumnValue<'v>,
        mut found: impl FnMut(&str),
    ) {
        // Room names are short: one allocation per row, not one per doubling.
        let mut room = String::with_capacity(64);
        'templates: for template in &self.0 {
            room.clear();
            for piece in template {
                match piece {
                    Piece::Text(text) => room.push_str(text),
                    Piece::Column(at) => match value(*at).room_text() {
                        Some(text) => room.push_str(&text),
                        None => continue 'templates,
                    },
                }
            }
            found(&room);
        }
    }
}

/// The event's argument for one changed row, measured before it is
/// written: `{"op","schema","table","new","old"}`, `None` being `null`.
pub struct RowChange<'a> {
    head: String,
    new: Option<&'a Row<'a>>,
    old: Option<&'a Row<'a>>,
}

impl<'a> RowChange<'a> {
    pub fn new(
        op: &str,
        schema: &str,
        table: &str,
        new: Option<&'a Row<'a>>,
        old: Option<&'a Row<'a>>,
    ) -> RowChange<'a> {
        RowChange {
            head: head(op, schema, table),
            new,
            old,
        }
    }

    /// Its JSON's length in bytes.
    pub fn len(&self) -> usize {
        let row = |row: Option<&Row>| row.map_or(4, Row::len);
        self.head.len() + NEW.len() + OLD.len() + row(self.new) + row(self.old) + 1
    }

    /// Never.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes itself into `buf`, of exactly [`len`](Self::len) bytes.
    pub fn write<'b>(&self, buf: &'b mut [u8]) -> ChangeJson<'b> {
        let mut out = Out::new(buf);
        let row = |row: Option<&Row>, out: &mut Out| match row {
            Some(row) => row.write(out),
            None => out.put(b"null"),
        };
        out.put(self.head.as_bytes());
        out.put(NEW.as_bytes());
        row(self.new, &mut out);
        out.put(OLD.as_bytes());
        row(self.old, &mut out);
        out.put(b"}");
        ChangeJson {
            json: Cow::Borrowed(
                std::str::from_utf8(out.finish()).expect("rows are written from UTF-8"),
            ),
            msgpack: None,
            msgpack_keeps_digits: true,
        }
    }
}

/// A change's JSON as this module wrote it: the event's argument, which
/// the encoder takes as it is (no second parse of what was just written);
/// for a statement's rows, their MessagePack too.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeJson<'a> {
    json: Cow<'a, str>,
    msgpack: Option<Vec<u8>>,
    msgpack_keeps_digits: bool,
}

impl JsonArg for ChangeJson<'_> {
    fn json(&self) -> &str {
        &self.json
    }

    fn msgpack(&self) -> Option<&[u8]> {
        self.msgpack.as_deref()
    }

    fn msgpack_keeps_digits(&self) -> bool {
        self.msgpack_keeps_digits
    }

    /// Rows hold data: a column's object shaped like a placeholder is sent
    /// as the object it is, as Socket.IO delivers it in an event that has
    /// no binary arguments.
    fn has_placeholders(&self) -> bool {
        false
    }
}

/// The keys before a change's two rows.
const NEW: &str = "\"new\":";
const OLD: &str = ",\"old\":";

/// A statement's row as `StatementRows` keeps it: its JSON (`row_json`)
/// and its MessagePack (`row_msgpack`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct StoredRow<'r> {
    pub json: &'r [u8],
    pub msgpack: &'r [u8],
    pub keeps_digits: bool,
}

/// The event's argument for a statement's rows (pairs of `new`, `old`), in
/// JSON and in MessagePack, each written into memory of its exact size;
/// running out of it is an error. The rows' bytes are checked as UTF-8
/// once, in the finished message.
pub(crate) fn statement_change<'r, I>(
    op: &str,
    schema: &str,
    table: &str,
    rows: I,
) -> Result<ChangeJson<'static>, Error>
where
    I: Iterator<Item = (Option<StoredRow<'r>>, Option<StoredRow<'r>>)> + Clone,
{
    const ROWS: &[u8] = b"\"rows\":[";
    const WHAT: &str = "the message of a statement's rows";
    let head = head(op, schema, table);
    let json_of = |row: Option<StoredRow<'r>>| row.map(|r| r.json);
    // `head` ends with `,`; the rows replace the `new`/`old` members. Each
    // pair is `{...}` and all but the last are followed by `,`.
    let (count, pairs) = rows.clone().fold((0, 0), |(count, len), (new, old)| {
        (count + 1, len + pair_len(json_of(new), json_of(old)) + 2)
    });
    let len = head.len() + ROWS.len() + pairs + count.max(1) - 1 + 2;
    let mut buf = Vec::new();
    reserve(&mut buf, len, WHAT)?;
    buf.resize(len, 0);
    let mut out = Out::new(&mut buf);
    out.put(head.as_bytes());
    out.put(ROWS);
    for (i, (new, old)) in rows.clone().enumerate() {
        if i > 0 {
            out.put(b",");
        }
        out.put(b"{");
        out.put(NEW.as_bytes());
        out.put(json_of(new).unwrap_or(b"null"));
        out.put(OLD.as_bytes());
        out.put(json_of(old).unwrap_or(b"null"));
        out.put(b"}");
    }
    out.put(b"]}");
    out.finish();
    let json = String::from_utf8(buf).expect("rows are written from UTF-8");

    // The same, as transcoding that JSON would write it: a map of four, the
    // rows an array of maps of two.
    let mut msgpack_head = Vec::new();
    write_msgpack_head(&mut msgpack_head, op, schema, table, count)?;
    let row_len = |row: Option<StoredRow>| row.map_or(1, |r| r.msgpack.len());
    let len = msgpack_head.len()
        + rows
            .clone()
            .map(|(new, old)| 1 + 2 * MSGPACK_KEY_LEN + row_len(new) + row_len(old))
            .sum::<usize>();
    let keeps_digits = rows
        .clone()
        .flat_map(|(new, old)| [new, old])
        .all(|row| row.is_none_or(|r| r.keeps_digits));
    let mut msgpack = Vec::new();
    reserve(&mut msgpack, len, WHAT)?;
    msgpack.extend_from_slice(&msgpack_head);
    for (new, old) in rows {
        rmp::encode::write_map_len(&mut msgpack, 2).map_err(io)?;
        for (key, row) in [("new", new), ("old", old)] {
            rmp::encode::write_str(&mut msgpack, key).map_err(io)?;
            match row {
                Some(row) => msgpack.extend_from_slice(row.msgpack),
                None => rmp::encode::write_nil(&mut msgpack).map_err(io)?,
            }
        }
    }
    debug_assert_eq!(msgpack.len(), len, "measured and written lengths differ");
    Ok(ChangeJson {
        json: Cow::Owned(json),
        msgpack: Some(msgpack),
        msgpack_keeps_digits: keeps_digits,
    })
}

/// `"new"` and `"old"` as MessagePack strings.
const MSGPACK_KEY_LEN: usize = 4;

/// `{"op":op,"schema":schema,"table":table,"rows":` and the header of an
/// array of `count`.
fn write_msgpack_head(
    out: &mut Vec<u8>,
    op: &str,
    schema: &str,
    table: &str,
    count: usize,
) -> Result<(), Error> {
    rmp::encode::write_map_len(out, 4).map_err(io)?;
    for (key, value) in [("op", op), ("schema", schema), ("table", table)] {
        rmp::encode::write_str(out, key).map_err(io)?;
        rmp::encode::write_str(out, value).map_err(io)?;
    }
    rmp::encode::write_str(out, "rows").map_err(io)?;
    let count = u32::try_from(count).map_err(|_| Error::TooLarge {
        len: count,
        max: u32::MAX as usize,
    })?;
    rmp::encode::write_array_len(out, count).map_err(io)?;
    Ok(())
}

fn pair_len(new: Option<&[u8]>, old: Option<&[u8]>) -> usize {
    let row = |row: Option<&[u8]>| row.map_or(4, <[u8]>::len);
    NEW.len() + row(new) + OLD.len() + row(old)
}

fn head(op: &str, schema: &str, table: &str) -> String {
    let mut out = String::with_capacity(64 + schema.len() + table.len());
    out.push_str("{\"op\":\"");
    out.push_str(op);
    out.push_str("\",\"schema\":");
    push_json_string(&mut out, schema);
    out.push_str(",\"table\":");
    push_json_string(&mut out, table);
    out.push(',');
    out
}

fn push_json_string(out: &mut String, text: &str) {
    out.push_str(&serde_json::to_string(text).expect("a str serializes"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row_json::member_key;
    use crate::transcode::transcoded;

    #[test]
    fn parses_positional_and_named_arguments() {
        assert_eq!(
            TriggerOptions::parse(&["c:{id}", "message", "/chat"]),
            Ok(TriggerOptions {
                rooms: vec!["c:{id}".into()],
                event: Some("message".into()),
                nsp: "/chat".into(),
                columns: Columns::All,
            })
        );
        assert_eq!(
            TriggerOptions::parse(&[
                "user:{sender}",
                "room=user:{recipient}",
                "exclude=password_hash, salt",
                "event=dm"
            ]),
            Ok(TriggerOptions {
                rooms: vec!["user:{sender}".into(), "user:{recipient}".into()],
                event: Some("dm".into()),
                nsp: "/".into(),
                columns: Columns::AllBut(vec!["password_hash".into(), "salt".into()]),
            })
        );
        for bad in [
            &[][..],
            &["c:{id"],
            &["c", "e", "/", "extra"],
            &["c", "columns=a", "exclude=b"],
            &["c", "columns=a,,b"],
            &["c", "columns=a", "e"],
        ] {
            assert!(TriggerOptions::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rooms_are_the_columns_text_each_once() {
        let columns = ["id", "name", "none", "flag", "big", "n", "obj"];
        let row = [
            ColumnValue::Json("42"),
            ColumnValue::Text("x \"y\""),
            ColumnValue::Null,
            ColumnValue::Json("true"),
            ColumnValue::Json("123456789012345678901234567890"),
            ColumnValue::Json("1.50"),
            ColumnValue::Json(r#"{"a":[1,{"b":2}]}"#),
        ];
        let compile = |templates: &[&str]| {
            RoomTemplates::compile(
                &templates.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
                |name| columns.iter().position(|c| *c == name),
            )
        };
        let rooms = |templates: &[&str]| compile(templates).unwrap().rooms(|at| row[at]);
        assert_eq!(rooms(&["c:{id}"]), vec!["c:42".to_owned()]);
        assert_eq!(
            rooms(&["a:{big}", "n:{n}", "{name}/{flag}", "a:{big}", "{{{id}}}"]),
            vec![
                "a:123456789012345678901234567890".to_owned(),
                "n:1.50".to_owned(),
                "x \"y\"/true".to_owned(),
                "{42}".to_owned()
            ]
        );
        assert_eq!(rooms(&["n:{none}", "c:{id}"]), vec!["c:42".to_owned()]);
        assert_eq!(
            rooms(&["o:{obj}"]),
            vec![r#"o:{"a":[1,{"b":2}]}"#.to_owned()]
        );
        assert_eq!(
            compile(&["{missing}"]),
            Err(TemplateError::NoColumn("missing".into()))
        );
        assert_eq!(
            compile(&["c:{id}", "{n}:{flag}"])
                .unwrap()
                .columns()
                .collect::<Vec<_>>(),
            vec![0, 5, 3]
        );
    }

    #[test]
    fn payloads() {
        let key = member_key("id");
        let (new, old) = (
            Row {
                members: vec![(&key, ColumnValue::Json("2"))],
            },
            Row {
                members: vec![(&key, ColumnValue::Json("1"))],
            },
        );
        for (new, old, expected) in [
            (
                Some(&new),
                Some(&old),
                r#"{"op":"UPDATE","schema":"pub\"lic","table":"t","new":{"id":2},"old":{"id":1}}"#,
            ),
            (
                None,
                Some(&old),
                r#"{"op":"UPDATE","schema":"pub\"lic","table":"t","new":null,"old":{"id":1}}"#,
            ),
        ] {
            let one = RowChange::new("UPDATE", "pub\"lic", "t", new, old);
            let mut bytes = vec![0; one.len()];
            assert_eq!(one.write(&mut bytes).json(), expected);
        }
        let stored = |json: &'static str| StoredRow {
            json: json.as_bytes(),
            msgpack: Box::leak(transcoded(json).into_boxed_slice()),
            keeps_digits: true,
        };
        let many = statement_change(
            "INSERT",
            "s\u{e9}",
            "t",
            [
                (Some(stored("{}")), None),
                (Some(stored("[1]")), Some(stored("{\"a\":2}"))),
            ]
            .into_iter(),
        )
        .unwrap();
        assert_eq!(
            many.json(),
            r#"{"op":"INSERT","schema":"sé","table":"t","rows":[{"new":{},"old":null},{"new":[1],"old":{"a":2}}]}"#
        );
        assert_eq!(many.msgpack(), Some(&transcoded(many.json())[..]));
        let none = statement_change("DELETE", "s", "t", std::iter::empty()).unwrap();
        assert_eq!(
            none.json(),
            r#"{"op":"DELETE","schema":"s","table":"t","rows":[]}"#
        );
        assert_eq!(none.msgpack(), Some(&transcoded(none.json())[..]));
    }
}
