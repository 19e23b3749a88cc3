//! Hands encoded messages to PostgreSQL's NOTIFY, in the caller's transaction.

use std::sync::atomic::{AtomicU64, Ordering};

use pg_socketio_protocol::{Encoded, Error};
use pgrx::prelude::*;
use pgrx::{direct_function_call_as_datum, IntoDatum};

use crate::raise::raise;

/// PostgreSQL delivers identical notifications of one transaction once; a
/// per-backend counter makes every message of a transaction distinct.
static SEQ: AtomicU64 = AtomicU64::new(0);

pub fn next_seq() -> u64 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

pub fn send(encoded: Encoded, function: &'static str) {
    match encoded {
        Encoded::Inline { channel, payload } => notify(&channel, &payload),
        Encoded::Attachment { payload, .. } => {
            raise(Error::TooLargeForInline { len: payload.len() }, function)
        }
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
