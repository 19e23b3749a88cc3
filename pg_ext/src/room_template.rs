//! Room templates: `conversation:{conversation_id}` names a room from a row.

use std::borrow::Cow;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{direct_function_call, impl_sql_translatable, IntoDatum, PgSqlErrorCode};

use pg_socketio_protocol::{render, TemplateError};

use crate::arg_abi::datum_arg;
use crate::raise::fail;

/// A `jsonb` argument left as it is: a row's columns are read from it one
/// by one (`->>`), never by parsing the whole row, which may be large.
pub struct JsonbRow(pg_sys::Datum);

datum_arg!(JsonbRow, JsonbRow);

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
    match render(template, |column| Ok(row.column(column)?.map(Cow::Owned))) {
        Ok(room) => room,
        Err(e @ TemplateError::NoColumn(_)) => raise(
            PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
            e.to_string(),
            template,
        ),
        Err(e) => raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            e.to_string(),
            template,
        ),
    }
}

fn raise(code: PgSqlErrorCode, message: String, template: &str) -> ! {
    fail(ErrorReport::new(code, message, "sio_room").set_detail(format!("template: {template}")))
}
