//! Hands encoded messages to PostgreSQL, in the caller's transaction: NOTIFY
//! for inline messages, an attachment row plus NOTIFY for the others.

use std::sync::atomic::{AtomicU64, Ordering};

use pg_socketio_protocol::{encode, Encoded, Operation, RawValue, Target};
use pgrx::prelude::*;
use pgrx::{direct_function_call_as_datum, IntoDatum};

use crate::raise::OrRaise;
use crate::{attachments, queue_check, settings};

/// PostgreSQL delivers identical notifications of one transaction once; a
/// per-backend counter makes every message of a transaction distinct.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// Encodes `op` with the session's settings and sends it.
pub fn publish(target: Target, op: Operation<&RawValue>, function: &'static str) {
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
