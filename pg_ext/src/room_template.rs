//! Room templates: `conversation:{conversation_id}` names a room from a row.

use pgrx::callconv::{Arg, ArgAbi};
use pgrx::nullable::Nullable;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{direct_function_call, impl_sql_translatable, FromDatum, IntoDatum, PgSqlErrorCode};

use crate::raise::fail;

#[derive(Debug, PartialEq)]
pub enum TemplateError {
    /// `{name}` names no column of the row.
    NoColumn(String),
    /// A `{` without its `}`, or a lone `}`.
    Unbalanced,
    Empty,
}

/// Fills each `{column}` of `template` with the column's text, as `value`
/// gives it (`Ok(None)`: the column is NULL; `Err`: there is no such
/// column); `{{` and `}}` stand for braces. `None` when a named column is
/// NULL: such a row has no room, and must not fall back to "every client".
pub fn render(
    template: &str,
    mut value: impl FnMut(&str) -> Result<Option<String>, TemplateError>,
) -> Result<Option<String>, TemplateError> {
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
        match value(&tail[1..end])? {
            Some(text) => out.push_str(&text),
            None => return Ok(None),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(Some(out))
}

/// A `jsonb` argument left as it is: a row's columns are read from it one
/// by one (`->>`), never by parsing the whole row, which may be large.
pub struct JsonbRow(pg_sys::Datum);

impl FromDatum for JsonbRow {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<Self> {
        (!is_null).then_some(JsonbRow(datum))
    }
}

unsafe impl<'fcx> ArgAbi<'fcx> for JsonbRow {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| panic!("argument {index} must not be null"))
    }

    unsafe fn unbox_nullable_arg(arg: Arg<'_, 'fcx>) -> Nullable<Self> {
        unsafe { arg.unbox_arg_using_from_datum() }.into()
    }
}

impl_sql_translatable!(JsonbRow, arg_only = "jsonb");

impl JsonbRow {
    fn is_object(&self) -> bool {
        // SAFETY: jsonb_typeof(jsonb) returns text.
        let kind = unsafe { direct_function_call::<String>(pg_sys::jsonb_typeof, &[Some(self.0)]) };
        kind.as_deref() == Some("object")
    }

    /// The column's text exactly as PostgreSQL writes it (`->>`: a string
    /// unquoted, a number as written, never through a float).
    fn column(&self, name: &str) -> Result<Option<String>, TemplateError> {
        let key = name.into_datum();
        // SAFETY: jsonb ? text returns bool; jsonb ->> text returns text.
        let exists =
            unsafe { direct_function_call::<bool>(pg_sys::jsonb_exists, &[Some(self.0), key]) };
        if exists != Some(true) {
            return Err(TemplateError::NoColumn(name.to_owned()));
        }
        Ok(unsafe {
            direct_function_call::<String>(pg_sys::jsonb_object_field_text, &[Some(self.0), key])
        })
    }
}

/// `sio_room('conversation:{id}', to_jsonb(NEW))` → `conversation:42`; NULL
/// when a named column is NULL.
#[pg_extern(immutable, parallel_safe)]
fn sio_room(template: &str, row: JsonbRow) -> Option<String> {
    if !row.is_object() {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "row must be a JSON object".into(),
            template,
        );
    }
    match render(template, |column| row.column(column)) {
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
    fail(ErrorReport::new(code, message, "sio_room").set_detail(format!("template: {template}")))
}

// PL/pgSQL resolves the functions it calls at run time, so its place in the
// script does not matter.
extension_sql_file!("../../sql/trigger.sql", name = "sio_trigger");

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn row() -> HashMap<&'static str, Option<&'static str>> {
        HashMap::from([
            ("id", Some("42")),
            ("name", Some("x y")),
            ("none", None),
            ("flag", Some("true")),
            ("big", Some("123456789012345678901234567890")),
        ])
    }

    fn lookup(column: &str) -> Result<Option<String>, TemplateError> {
        row()
            .get(column)
            .map(|v| v.map(str::to_owned))
            .ok_or_else(|| TemplateError::NoColumn(column.to_owned()))
    }

    #[test]
    fn renders_templates() {
        let cases = [
            ("conversation:{id}", Some("conversation:42")),
            ("{name}/{flag}", Some("x y/true")),
            ("fixed", Some("fixed")),
            ("{{literal}} {id}", Some("{literal} 42")),
            ("acct:{big}", Some("acct:123456789012345678901234567890")),
            ("n:{none}", None),
        ];
        for (template, expected) in cases {
            assert_eq!(
                render(template, lookup),
                Ok(expected.map(str::to_owned)),
                "{template}"
            );
        }
    }

    #[test]
    fn refuses_bad_templates() {
        assert_eq!(
            render("{missing}", lookup),
            Err(TemplateError::NoColumn("missing".into()))
        );
        assert_eq!(render("a{id", lookup), Err(TemplateError::Unbalanced));
        assert_eq!(render("a}b", lookup), Err(TemplateError::Unbalanced));
        assert_eq!(render("", lookup), Err(TemplateError::Empty));
    }
}
