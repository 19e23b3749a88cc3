//! Room templates: `conversation:{conversation_id}` names a room from a row.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{JsonB, PgLogLevel, PgSqlErrorCode};
use serde_json::{Map, Value};

#[derive(Debug, PartialEq)]
pub enum TemplateError {
    /// `{name}` names no column of the row.
    NoColumn(String),
    /// A `{` without its `}`, or a lone `}`.
    Unbalanced,
    Empty,
}

/// Fills each `{column}` of `template` with the row's value; `{{` and `}}`
/// stand for braces. `None` when a named column is NULL: such a row has no
/// room, and must not fall back to "every client".
pub fn render(template: &str, row: &Map<String, Value>) -> Result<Option<String>, TemplateError> {
    if template.is_empty() {
        return Err(TemplateError::Empty);
    }
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err(TemplateError::Unbalanced);
        }
        let end = tail.find('}').ok_or(TemplateError::Unbalanced)?;
        let column = &tail[1..end];
        match row.get(column) {
            None => return Err(TemplateError::NoColumn(column.to_owned())),
            Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => out.push_str(s),
            Some(other) => out.push_str(&other.to_string()),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(Some(out))
}

/// `sio_room('conversation:{id}', to_jsonb(NEW))` → `conversation:42`; NULL
/// when a named column is NULL.
#[pg_extern(immutable, parallel_safe)]
fn sio_room(template: &str, row: JsonB) -> Option<String> {
    let Value::Object(row) = row.0 else {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "row must be a JSON object".into(),
            template,
        );
    };
    match render(template, &row) {
        Ok(room) => room,
        Err(TemplateError::NoColumn(column)) => raise(
            PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
            format!("room template names column \"{column}\", which the row does not have"),
            template,
        ),
        Err(TemplateError::Unbalanced) => raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "room template has an unbalanced brace: write {column}, and {{ or }} for a brace"
                .into(),
            template,
        ),
        Err(TemplateError::Empty) => raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "room template must not be empty".into(),
            template,
        ),
    }
}

fn raise(code: PgSqlErrorCode, message: String, template: &str) -> ! {
    ErrorReport::new(code, message, "sio_room")
        .set_detail(format!("template: {template}"))
        .report(PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}

// PL/pgSQL resolves the functions it calls at run time, so its place in the
// script does not matter.
extension_sql_file!("../../sql/trigger.sql", name = "sio_trigger");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row() -> Map<String, Value> {
        json!({"id": 42, "name": "x y", "none": null, "flag": true, "obj": {"a": 1}})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn renders_templates() {
        let r = row();
        let cases = [
            ("conversation:{id}", Some("conversation:42")),
            ("{name}/{flag}", Some("x y/true")),
            ("fixed", Some("fixed")),
            ("{{literal}} {id}", Some("{literal} 42")),
            ("o:{obj}", Some(r#"o:{"a":1}"#)),
            ("n:{none}", None),
        ];
        for (template, expected) in cases {
            assert_eq!(
                render(template, &r),
                Ok(expected.map(str::to_owned)),
                "{template}"
            );
        }
    }

    #[test]
    fn refuses_bad_templates() {
        let r = row();
        assert_eq!(
            render("{missing}", &r),
            Err(TemplateError::NoColumn("missing".into()))
        );
        assert_eq!(render("a{id", &r), Err(TemplateError::Unbalanced));
        assert_eq!(render("a}b", &r), Err(TemplateError::Unbalanced));
        assert_eq!(render("", &r), Err(TemplateError::Empty));
    }
}
