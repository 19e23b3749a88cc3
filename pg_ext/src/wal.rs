//! Writes messages to the WAL as transactional logical decoding messages
//! (`pg_socketio.delivery` = `wal` or `both`): decoded for a replication
//! slot at the emit's place in commit order, if and only if the transaction
//! commits, with no size limit but PostgreSQL's record size.

use std::ffi::{c_char, CString};

use pg_socketio_protocol::WAL_PREFIX;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

use crate::raise::fail;

/// Below `wal_level = logical` the message would be written but no slot could
/// ever read it: refused, naming both settings, rather than lost in silence.
pub fn require_logical(function: &'static str) {
    // SAFETY: a server setting, read in the backend's own thread.
    let level = unsafe { pg_sys::wal_level };
    if level < pg_sys::WalLevel::WAL_LEVEL_LOGICAL as i32 {
        fail(
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!(
                    "{function}: pg_socketio.delivery = '{}' needs wal_level = logical",
                    if crate::settings::delivery().notify() { "both" } else { "wal" }
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
    let prefix = CString::new(WAL_PREFIX).expect("no NUL in the prefix");
    // SAFETY: PostgreSQL copies the prefix and the bytes into its WAL
    // buffers; an ERROR comes back as a Rust panic through the guard.
    unsafe {
        pg_sys::submodules::ffi::pg_guard_ffi_boundary(|| {
            #[cfg(not(feature = "pg18"))]
            LogLogicalMessage(
                prefix.as_ptr(),
                content.as_ptr().cast(),
                content.len(),
                true,
            );
            #[cfg(feature = "pg18")]
            LogLogicalMessage(
                prefix.as_ptr(),
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
