//! Hands encoded messages to PostgreSQL, in the caller's transaction: NOTIFY
//! for inline messages, an attachment row plus NOTIFY for the others.

use std::sync::atomic::{AtomicU64, Ordering};

use pg_socketio_protocol::{encode, Encoded, Operation, RawValue, Target};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{direct_function_call_as_datum, IntoDatum, PgSqlErrorCode};

use crate::raise::{fail, OrRaise};
use crate::{attachments, queue_check, settings};

/// PostgreSQL delivers identical notifications of one transaction once; a
/// per-backend counter makes every message of a transaction distinct.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// Encodes `op` with the session's settings and sends it.
pub fn publish(target: Target, op: Operation<&RawValue>, function: &'static str) {
    refuse_if_read_only(function);
    let mut prefix = String::new();
    let settings = settings::current(&mut prefix);
    queue_check::warn_if_filling(function);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    match encode(&settings, target, op, seq).or_raise(function) {
        Encoded::Inline { channel, payload } => notify(&channel, &payload),
        Encoded::Attachment {
            channel,
            kind,
            payload,
        } => notify(&channel, &attachments::store(kind, &payload, function)),
    }
}

/// One rule for every message, whatever its size: an emit writes (an
/// attachment row when large), so none runs in a read-only transaction or
/// on a standby. Otherwise a small emit would pass and the same emit with a
/// larger payload fail.
fn refuse_if_read_only(function: &'static str) {
    if unsafe { pg_sys::XactReadOnly } {
        fail(
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
                format!("cannot execute {function} in a read-only transaction"),
                function,
            )
            .set_detail(
                "An emit may store its message in the attachment table, so emits are writes \
                 whatever their size.",
            ),
        );
    }
}

/// `pg_notify` itself keeps PostgreSQL's checks: no NOTIFY in a parallel
/// worker or during recovery.
fn notify(channel: &str, payload: &str) {
    unsafe {
        direct_function_call_as_datum(
            pg_sys::pg_notify,
            &[channel.into_datum(), payload.into_datum()],
        );
    }
}
