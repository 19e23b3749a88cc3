//! Attachment rows compressed with lz4 before they are stored, where the
//! server was built with lz4 (Debian's and the PGDG packages are).
//!
//! The table keeps `STORAGE EXTERNAL`, so PostgreSQL never compresses a row
//! itself: its toaster would compress the INSERT's copy of the message while
//! the message is still held, one more whole copy in memory whenever the
//! message does not compress (binary arguments mostly do not). Compressed
//! here, the message is let go before the INSERT, which then copies the
//! compressed bytes only; when it does not compress, the attempt is freed
//! before the INSERT, so the peak stays the message and the INSERT's copy.
//! PostgreSQL stores an already compressed value as it is, in any column,
//! and decompresses it for every reader (the Node.js adapter, the Rust
//! listener). lz4 costs no measurable time at 10 kB or 30 MB (BENCHMARKS.md,
//! fifteenth session), and stores a large JSON message in a third of the
//! pages of shared buffers or fewer. Without lz4 nothing is compressed: pglz
//! took half as much time again at 10 kB and three times as much at 30 MB.

use std::cell::OnceCell;
use std::ffi::c_char;

use pgrx::prelude::*;

use crate::scratch::palloc_huge;

/// PostgreSQL compresses a value only once its row passes about 2 kB
/// (`TOAST_TUPLE_THRESHOLD`); a smaller message is not worth the call.
const SMALLEST: usize = 2032;

/// A message larger than this is first tried on its first bytes: a binary
/// that does not compress (an image, an archive) then costs an attempt over
/// 8 kB, not over all of it (a whole attempt made a 60 kB one's INSERT about
/// 5 % slower). A message's first 8 kB are its envelope and the start of its
/// arguments, which tell JSON from binary.
const PROBE: usize = 8 * 1024;

/// PostgreSQL's lz4 call allocates the worst case of its output,
/// `LZ4_compressBound(n)` plus an 8-byte header, with plain `palloc`
/// (at most 1 GB − 1): a message too close to 1 GB is stored uncompressed.
fn fits_lz4_output(len: usize) -> bool {
    const MAX_ALLOC_SIZE: usize = 0x3fff_ffff;
    len + len / 255 + 16 + 8 <= MAX_ALLOC_SIZE
}

thread_local! {
    static SERVER_HAS_LZ4: OnceCell<bool> = const { OnceCell::new() };
}

/// lz4 is a value of `default_toast_compression` only in servers built
/// with it; asked once per backend. Every name is qualified, operators
/// too: the caller's `search_path` (perhaps a SECURITY DEFINER function's
/// caller's) must not choose what runs here.
fn server_has_lz4() -> bool {
    SERVER_HAS_LZ4.with(|has| {
        *has.get_or_init(|| {
            Spi::get_one::<bool>(
                "SELECT 'lz4' OPERATOR(pg_catalog.=) ANY (enumvals) FROM pg_catalog.pg_settings
                  WHERE name OPERATOR(pg_catalog.=) 'default_toast_compression'",
            )
            .ok()
            .flatten()
            .unwrap_or(false)
        })
    })
}

/// `bytea` compressed with lz4 into the current memory context, or `None`
/// where that does not pay (small, incompressible, no lz4) or cannot be
/// done (too close to 1 GB).
///
/// # Safety
/// `bytea` is an uncompressed, inline varlena with a 4-byte header and
/// `len` bytes after it.
pub unsafe fn lz4(bytea: pg_sys::Datum, len: usize) -> Option<pg_sys::Datum> {
    if len < SMALLEST || !fits_lz4_output(len) || !server_has_lz4() {
        return None;
    }
    if len > PROBE {
        let prefix = palloc_huge(pg_sys::VARHDRSZ + PROBE);
        // SAFETY: `bytea` holds `len` > PROBE bytes after its header;
        // `prefix` is fresh memory of the header and PROBE bytes.
        let probe = unsafe {
            std::ptr::copy_nonoverlapping(
                bytea.cast_mut_ptr::<u8>().add(pg_sys::VARHDRSZ),
                prefix.add(pg_sys::VARHDRSZ),
                PROBE,
            );
            pgrx::set_varsize_4b(prefix.cast(), (pg_sys::VARHDRSZ + PROBE) as i32);
            compress(pg_sys::Datum::from(prefix))
        };
        // SAFETY: both palloc'd here and referenced by nothing else.
        unsafe {
            pg_sys::pfree(prefix.cast());
            if let Some(probe) = probe {
                pg_sys::pfree(probe.cast_mut_ptr());
            }
        }
        probe?;
    }
    // SAFETY: as the caller says.
    unsafe { compress(bytea) }
}

/// PostgreSQL's own lz4 compression of a value (the method's letter is
/// `TOAST_LZ4_COMPRESSION`): `None` when the output is not smaller.
///
/// # Safety
/// `value` is an uncompressed varlena with a 4-byte header, inline.
unsafe fn compress(value: pg_sys::Datum) -> Option<pg_sys::Datum> {
    // SAFETY: as the caller says; an ERROR (out of memory) comes back as a
    // Rust panic through the guard.
    let compressed = unsafe {
        pg_sys::submodules::ffi::pg_guard_ffi_boundary(|| {
            toast_compress_datum(value, b'l' as c_char)
        })
    };
    (!compressed.is_null()).then_some(compressed)
}

// access/toast_internals.h, which pgrx does not bind; this signature since
// PostgreSQL 14.
extern "C-unwind" {
    fn toast_compress_datum(value: pg_sys::Datum, cmethod: c_char) -> pg_sys::Datum;
}
