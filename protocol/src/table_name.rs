//! The attachment table's name, as the adapters' `tableName` option and the
//! extension's `pg_socketio.attachment_table` setting write it: an SQL name,
//! optionally schema-qualified, each part plain (folded to lower case, as
//! PostgreSQL folds it) or double-quoted (kept as written, `""` for a quote).
//! One parser, so that every side reads a name the same way and splices only
//! its quoted form into SQL.

use crate::Error;

/// The table the Node.js adapter creates and the extension's install makes.
pub const DEFAULT_ATTACHMENT_TABLE: &str = "socket_io_attachments";

/// A parsed table name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    /// `None`: unqualified (the extension looks it up in its own schema,
    /// clients through their connection's `search_path`).
    pub schema: Option<String>,
    pub name: String,
}

impl TableName {
    pub fn parse(text: &str) -> Result<TableName, Error> {
        let bad = || Error::BadTableName {
            name: text.to_owned(),
        };
        let mut parts = Vec::with_capacity(2);
        let mut rest = text;
        loop {
            let (part, after) = identifier(rest).ok_or_else(bad)?;
            parts.push(part);
            match after.strip_prefix('.') {
                Some(next) if parts.len() < 2 => rest = next,
                None if after.is_empty() => break,
                _ => return Err(bad()),
            }
        }
        let name = parts.pop().expect("one part at least");
        Ok(TableName {
            schema: parts.pop(),
            name,
        })
    }

    /// The name as SQL text, every part quoted: safe to splice into a
    /// statement.
    pub fn quoted(&self) -> String {
        let quote = |part: &str| format!("\"{}\"", part.replace('"', "\"\""));
        match &self.schema {
            Some(schema) => format!("{}.{}", quote(schema), quote(&self.name)),
            None => quote(&self.name),
        }
    }
}

/// One identifier at the start of `text`, and what follows it.
fn identifier(text: &str) -> Option<(String, &str)> {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut part = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != '"' {
                part.push(c);
            } else if quoted[i + 1..].starts_with('"') {
                part.push('"');
                chars.next();
            } else {
                return (!part.is_empty()).then(|| (part, &quoted[i + 1..]));
            }
        }
        return None;
    }
    // Plain: a letter or '_' first, then letters, digits, '_' or '$'.
    let end = text
        .char_indices()
        .find(|&(i, c)| {
            !(c.is_alphabetic() || c == '_' || (i > 0 && (c.is_ascii_digit() || c == '$')))
        })
        .map_or(text.len(), |(i, _)| i);
    (end > 0).then(|| (text[..end].to_ascii_lowercase(), &text[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(schema: Option<&str>, name: &str) -> TableName {
        TableName {
            schema: schema.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    #[test]
    fn reads_names_as_postgresql_does() {
        let cases = [
            (
                "socket_io_attachments",
                parsed(None, "socket_io_attachments"),
            ),
            ("App.Sio_$1", parsed(Some("app"), "sio_$1")),
            ("\"My Table\"", parsed(None, "My Table")),
            ("\"a\"\"b\".\"x.y\"", parsed(Some("a\"b"), "x.y")),
            ("_t", parsed(None, "_t")),
            ("pg_temp.t", parsed(Some("pg_temp"), "t")),
        ];
        for (text, expected) in cases {
            assert_eq!(TableName::parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_name() {
        for bad in [
            "",
            "a.b.c",
            "t; DROP TABLE x",
            "1t",
            "a.",
            ".a",
            "\"\"",
            "\"open",
            "a b",
            " a",
        ] {
            assert_eq!(
                TableName::parse(bad),
                Err(Error::BadTableName { name: bad.into() }),
                "{bad}"
            );
        }
    }

    #[test]
    fn quotes_every_part() {
        assert_eq!(
            TableName::parse("\"a\"\"b\".T").unwrap().quoted(),
            "\"a\"\"b\".\"t\""
        );
        assert_eq!(
            TableName::parse("socket_io_attachments").unwrap().quoted(),
            "\"socket_io_attachments\""
        );
    }
}
