//! A bounded wait for the attachment table's lock. Adding rows conflicts only
//! with DDL, LOCK TABLE and VACUUM FULL; an emit that waited behind one of
//! those for as long as they run would stall the caller's transaction
//! silently, so it waits `pg_socketio.lock_timeout` and then fails clearly.

use std::time::{Duration, Instant};

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

use crate::raise::fail;
use crate::settings;

/// Takes ROW EXCLUSIVE (what INSERT and DELETE take) on `table`, or raises
/// 55P03 once `pg_socketio.lock_timeout` has passed.
pub fn row_exclusive(oid: pg_sys::Oid, table: &str, function: &'static str) {
    let mode = pg_sys::RowExclusiveLock as pg_sys::LOCKMODE;
    let Some(limit) = settings::lock_timeout() else {
        // Waits in the lock queue, as PostgreSQL's lock_timeout allows.
        unsafe { pg_sys::LockRelationOid(oid, mode) };
        return;
    };
    // Polling, not queueing: a conditional request never waits, so the wait
    // is bounded without changing the session's lock_timeout. Cancels and
    // statement_timeout are served between tries.
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    while !unsafe { pg_sys::ConditionalLockRelationOid(oid, mode) } {
        if started.elapsed() >= limit {
            fail(
                ErrorReport::new(
                    PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE,
                    format!(
                        "attachment table {table} is locked: waited {} ms for it",
                        limit.as_millis()
                    ),
                    function,
                )
                .set_detail(
                    "Another transaction holds a lock that conflicts with adding rows \
                 (ALTER TABLE, LOCK TABLE, TRUNCATE, VACUUM FULL, ...).",
                )
                .set_hint(format!(
                    "SELECT pid, mode, granted FROM pg_locks WHERE relation = '{}'::regclass \
                 shows who; pg_socketio.lock_timeout is how long an emit waits.",
                    table.replace('\'', "''")
                )),
            );
        }
        unsafe { pg_sys::pg_usleep(pause.as_micros() as std::ffi::c_long) };
        check_for_interrupts!();
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}
