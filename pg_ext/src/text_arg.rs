//! A `text` argument borrowed where it lies, for the functions called once
//! per message, and text read the same way from `sio_trigger`'s rows.
//!
//! pgrx's `&str` hands every argument to `pg_detoast_datum_packed` through
//! its FFI guard (a `sigsetjmp`), 174 instructions per argument under
//! callgrind, three times per `sio_emit`, though an argument is almost never
//! compressed or out of line. [`packed`] looks at the header first, as
//! PostgreSQL's own macros do, and calls PostgreSQL only for those.

use pgrx::impl_sql_translatable;
use pgrx::prelude::*;
use pgrx::varlena::{text_to_rust_str_unchecked, varatt_is_1b, varatt_is_1b_e, varatt_is_4b_u};

use crate::arg_abi::datum_arg;

#[derive(Clone, Copy)]
pub struct Text<'a>(&'a str);

impl<'a> Text<'a> {
    pub fn as_str(self) -> &'a str {
        self.0
    }

    /// # Safety
    /// A text datum, alive for `'a`.
    unsafe fn read(datum: pg_sys::Datum) -> Text<'a> {
        // SAFETY: the extension is only created in UTF8 databases
        // (`utf8_only` in lib.rs), whose text PostgreSQL checked on input.
        unsafe { Text(text_to_rust_str_unchecked(packed(datum.cast_mut_ptr()))) }
    }
}

/// What `pg_detoast_datum_packed` returns for `varlena`: the same pointer
/// for a value that is neither compressed nor out of line, without calling
/// PostgreSQL; otherwise PostgreSQL's copy.
///
/// # Safety
/// `varlena` is a varlena value, alive while the result is used.
pub unsafe fn packed(varlena: *mut pg_sys::varlena) -> *mut pg_sys::varlena {
    unsafe {
        if varatt_is_4b_u(varlena) || (varatt_is_1b(varlena) && !varatt_is_1b_e(varlena)) {
            varlena
        } else {
            pg_sys::pg_detoast_datum_packed(varlena)
        }
    }
}

datum_arg!(Text<'fcx>, Text::read);

impl_sql_translatable!(Text<'_>, arg_only = "text");
