//! Values the extension writes as text from their bytes (`DatumText`),
//! instead of calling their output function through fmgr.

use pg_socketio_protocol::{DatumKind, DatumText};
use pgrx::pg_sys;

/// The text of `varlena`, a value of type `kind`, written into memory `alloc`
/// gives for its measured length, which must live as long as `'a`. `None`
/// where PostgreSQL is to write it (compressed or out of line, say).
///
/// # Safety
/// `varlena` is a value of type `kind`, alive for `'a`.
pub unsafe fn written_here<'a>(
    varlena: *const pg_sys::varlena,
    kind: DatumKind,
    alloc: impl FnOnce(usize) -> *mut std::ffi::c_void,
) -> Option<&'a str> {
    let bytes =
        unsafe { std::slice::from_raw_parts(varlena.cast::<u8>(), pgrx::varsize_any(varlena)) };
    let datum = DatumText {
        kind,
        varlena: bytes,
    };
    let len = datum.text_len()?;
    // SAFETY: `alloc` gave `len` bytes, which live for 'a.
    let buf = unsafe { std::slice::from_raw_parts_mut(alloc(len).cast::<u8>(), len) };
    datum.write_text(buf)
}
