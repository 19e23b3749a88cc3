//! A warning when PostgreSQL's NOTIFY queue fills up. The queue is freed only
//! as fast as its slowest listening session reads; one that stopped reading
//! (or sits in a long transaction) lets it grow until every transaction that
//! notifies, in the whole cluster, fails at COMMIT. PostgreSQL itself warns
//! from 50 % at COMMIT; this warns at the emit, from a lower threshold, and
//! says what to do.

use std::cell::Cell;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{direct_function_call, PgLogLevel, PgSqlErrorCode};

use crate::settings;

/// One warning per session per this long (µs): a busy emitter would
/// otherwise flood its client and the server log while the condition lasts.
const EVERY: i64 = 10_000_000;

/// The queue is looked at no more often than this (µs): reading it takes a
/// lock (3 % of a 1,000-emit transaction's time when done at every emit),
/// and it fills over many commits, not within one emit.
const LOOK_EVERY: i64 = 100_000;

thread_local! {
    static LAST_LOOK: Cell<Option<i64>> = const { Cell::new(None) };
    static LAST_WARNING: Cell<Option<i64>> = const { Cell::new(None) };
}

pub fn warn_if_filling(function: &'static str) {
    let Some(threshold) = settings::queue_warning() else {
        return;
    };
    // The statement's start time, which PostgreSQL keeps: no clock read per
    // emit. So the queue is looked at once per statement at most.
    let now = unsafe { pg_sys::GetCurrentStatementStartTimestamp() };
    if LAST_LOOK.get().is_some_and(|at| now - at < LOOK_EVERY) {
        return;
    }
    LAST_LOOK.set(Some(now));
    // SAFETY: takes no arguments and returns a float8 (pg_proc.dat).
    let usage = unsafe { direct_function_call::<f64>(pg_sys::pg_notification_queue_usage, &[]) }
        .unwrap_or(0.0);
    if usage < threshold || LAST_WARNING.get().is_some_and(|at| now - at < EVERY) {
        return;
    }
    LAST_WARNING.set(Some(now));
    ErrorReport::new(
        PgSqlErrorCode::ERRCODE_WARNING,
        format!(
            "the NOTIFY queue is {:.1}% full (pg_socketio.queue_warning is {:.1}%)",
            usage * 100.0,
            threshold * 100.0
        ),
        function,
    )
    .set_detail(
        "A session that LISTENs but does not read (a stopped listener, or one in a long \
         transaction) keeps PostgreSQL from freeing the queue. When it is full, every \
         transaction that notifies fails at COMMIT with 54000 \"too many notifications in \
         the NOTIFY queue\".",
    )
    .set_hint(
        "Find the listening sessions in pg_stat_activity (the Rust listener's \
         application_name is 'pg_socketio listener'); ending the one that lags \
         (pg_terminate_backend) frees the queue.",
    )
    .report(PgLogLevel::WARNING);
}
