//! A `jsonb` argument received as its JSON text.
//!
//! pgrx's `JsonB` parses into `serde_json::Value`, which loses integers beyond
//! 64 bits, refuses numbers like 1e400 and costs a parse and a re-serialize per
//! emit. The text from `jsonb_out` is spliced into the notification as it is.

use pg_socketio_protocol::RawValue;
use pgrx::callconv::{Arg, ArgAbi};
use pgrx::nullable::Nullable;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{direct_function_call, impl_sql_translatable, FromDatum, PgSqlErrorCode};

use crate::raise::fail;

pub struct JsonbText(Box<RawValue>);

impl JsonbText {
    pub fn raw(&self) -> &RawValue {
        &self.0
    }
}

impl FromDatum for JsonbText {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<Self> {
        if is_null {
            return None;
        }
        let text = unsafe {
            let detoasted = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
            direct_function_call::<&core::ffi::CStr>(pg_sys::jsonb_out, &[Some(detoasted.into())])
        }
        .expect("jsonb_out returns text for a non-NULL jsonb");
        let text = text.to_str().expect("jsonb_out writes UTF-8");
        // A large argument may not fit: an ERROR, not an abort of the
        // server process as a failed Rust allocation would be.
        let mut json = String::new();
        if json.try_reserve_exact(text.len()).is_err() {
            fail(
                ErrorReport::new(
                    PgSqlErrorCode::ERRCODE_OUT_OF_MEMORY,
                    "out of memory",
                    "pg_socketio",
                )
                .set_detail(format!(
                    "Failed on request of size {} for a jsonb argument's text.",
                    text.len()
                )),
            );
        }
        json.push_str(text);
        // jsonb_out always writes valid JSON.
        Some(JsonbText(
            RawValue::from_string(json).expect("jsonb_out writes valid JSON"),
        ))
    }
}

unsafe impl<'fcx> ArgAbi<'fcx> for JsonbText {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| panic!("argument {index} must not be null"))
    }

    unsafe fn unbox_nullable_arg(arg: Arg<'_, 'fcx>) -> Nullable<Self> {
        unsafe { arg.unbox_arg_using_from_datum() }.into()
    }
}

impl_sql_translatable!(JsonbText, arg_only = "jsonb");
