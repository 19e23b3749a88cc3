//! Writes messages to the WAL as transactional logical decoding messages
//! (`pg_socketio.delivery` = `wal` or `both`): decoded for a replication
//! slot at the emit's place in commit order, if and only if the transaction
//! commits, with no size limit but PostgreSQL's record size.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;
use std::ffi::{c_char, CStr};

use crate::raise::fail;
use crate::settings::Delivery;

/// `protocol::WAL_PREFIX`, as the C string PostgreSQL takes (a test keeps
/// them equal): made once, not per emit.
const PREFIX: &CStr = c"pg_socketio";

/// Below `wal_level = logical` the message would be written but no slot could
/// ever read it: refused, naming both settings, rather than lost in silence.
pub fn require_logical(delivery: Delivery, function: &'static str) {
    // SAFETY: a server setting, read in the backend's own thread.
    let level = unsafe { pg_sys::wal_level };
    if level < pg_sys::WalLevel::WAL_LEVEL_LOGICAL as i32 {
        fail(
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!(
                    "{function}: pg_socketio.delivery = '{}' needs wal_level = logical",
                    if delivery.notify() { "both" } else { "wal" }
                ),
                function,
            )
            .set_detail("No replication slot could decode the message at this wal_level.")
            .set_hint(
                "Set wal_level = logical (a server restart), or SET pg_socketio.delivery = 'notify'.",
            ),
        );
    }
}

/// Logs `content` (see `protocol::wal_content`) with prefix `pg_socketio`,
/// as part of the current transaction.
pub fn log_message(content: &[u8]) {
    // SAFETY: PostgreSQL copies the prefix and the bytes into its WAL
    // buffers; an ERROR comes back as a Rust panic through the guard.
    unsafe {
        pg_sys::submodules::ffi::pg_guard_ffi_boundary(|| {
            #[cfg(not(feature = "pg18"))]
            LogLogicalMessage(
                PREFIX.as_ptr(),
                content.as_ptr().cast(),
                content.len(),
                true,
            );
            #[cfg(feature = "pg18")]
            LogLogicalMessage(
                PREFIX.as_ptr(),
                content.as_ptr().cast(),
                content.len(),
                true,
                // A transactional message is flushed with its COMMIT.
                false,
            );
        })
    };
}

// replication/message.h, which pgrx does not bind. PostgreSQL 17 added
// `flush`.
extern "C-unwind" {
    #[cfg(not(feature = "pg18"))]
    fn LogLogicalMessage(
        prefix: *const c_char,
        message: *const c_char,
        size: usize,
        transactional: bool,
    ) -> pg_sys::XLogRecPtr;
    #[cfg(feature = "pg18")]
    fn LogLogicalMessage(
        prefix: *const c_char,
        message: *const c_char,
        size: usize,
        transactional: bool,
        flush: bool,
    ) -> pg_sys::XLogRecPtr;
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_prefix_is_the_protocols() {
        assert_eq!(super::PREFIX.to_str(), Ok(pg_socketio_protocol::WAL_PREFIX));
    }
}
