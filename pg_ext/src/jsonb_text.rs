//! A `jsonb` argument received as its JSON text.
//!
//! pgrx's `JsonB` parses into `serde_json::Value`, which loses integers beyond
//! 64 bits, refuses numbers like 1e400 and costs a parse and a re-serialize per
//! emit. The text from `jsonb_out` is spliced into the notification as it is.

use pg_socketio_protocol::{DatumKind, JsonArg};
use pgrx::impl_sql_translatable;
use pgrx::prelude::*;

use crate::arg_abi::datum_arg;
use crate::datum_text::written_here;

/// Borrows the text `jsonb_out` would return, which lives in the call's
/// memory context for the call: no copy into Rust memory, so a large
/// argument is held once more only by PostgreSQL, whose allocator fails with
/// an ERROR (53200), never an abort. jsonb only holds valid JSON, so the
/// text is not parsed again. Written from the bytes (`DatumText`), or by
/// PostgreSQL where that leaves it.
#[derive(Clone, Copy)]
pub struct JsonbText<'a>(&'a str);

impl<'a> JsonbText<'a> {
    /// The text for as long as the call lasts (`JsonArg::json` only lends
    /// it for as long as the `JsonbText`): what `split_args` borrows from.
    pub fn text(&self) -> &'a str {
        self.0
    }

    /// # Safety
    /// A jsonb datum, alive for `'a`.
    unsafe fn read(datum: pg_sys::Datum) -> JsonbText<'a> {
        let varlena = datum.cast_mut_ptr::<pg_sys::varlena>();
        JsonbText(unsafe {
            written_here(varlena, DatumKind::Jsonb, |len| pg_sys::palloc(len))
                .unwrap_or_else(|| written_by_postgres(varlena))
        })
    }
}

impl JsonArg for JsonbText<'_> {
    fn json(&self) -> &str {
        self.0
    }
}

datum_arg!(JsonbText<'fcx>, JsonbText::read);

/// `jsonb_out`'s two steps, without a function call through fmgr:
/// detoasted to a 4-byte header (the container is read aligned), then
/// written as text.
unsafe fn written_by_postgres<'a>(varlena: *mut pg_sys::varlena) -> &'a str {
    let text = unsafe {
        let jsonb = pg_sys::pg_detoast_datum(varlena).cast::<pg_sys::Jsonb>();
        let size = pgrx::varsize_any(jsonb.cast()) as i32;
        core::ffi::CStr::from_ptr(pg_sys::JsonbToCString(
            std::ptr::null_mut(),
            &raw mut (*jsonb).root,
            size,
        ))
    };
    text.to_str().expect("jsonb_out writes UTF-8")
}

impl_sql_translatable!(JsonbText<'_>, arg_only = "jsonb");
