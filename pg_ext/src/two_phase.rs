//! PREPARE TRANSACTION after an emit that notified. PostgreSQL cannot keep
//! notifications in a prepared transaction and refuses it with an error
//! about LISTEN and NOTIFY, which names neither the emit nor what works
//! instead. This refuses it first, with the same SQLSTATE, saying both:
//! with `pg_socketio.delivery = 'wal'` the message is a WAL record, which
//! a prepared transaction keeps and a slot decodes at COMMIT PREPARED.
//!
//! Only where PostgreSQL would refuse: notifications of a subtransaction
//! that rolled back are gone, and so is the refusal (hence the nesting
//! level, not a flag).

use std::cell::Cell;
use std::ffi::c_void;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

use crate::raise::fail;

thread_local! {
    /// The outermost (sub)transaction nesting level that holds a pending
    /// notification of an emit, if any.
    static NOTIFIED_AT: Cell<Option<i32>> = const { Cell::new(None) };
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// Called for each notification an emit queues.
pub fn notified() {
    let level = unsafe { pg_sys::GetCurrentTransactionNestLevel() };
    NOTIFIED_AT.set(Some(NOTIFIED_AT.get().map_or(level, |at| at.min(level))));
    if !REGISTERED.replace(true) {
        // Once per backend: callbacks stay registered for its life.
        unsafe {
            pg_sys::RegisterXactCallback(Some(at_transaction_end), std::ptr::null_mut());
            pg_sys::RegisterSubXactCallback(Some(at_subtransaction_end), std::ptr::null_mut());
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn at_transaction_end(event: pg_sys::XactEvent::Type, _arg: *mut c_void) {
    use pg_sys::XactEvent::*;
    match event {
        XACT_EVENT_PRE_PREPARE if NOTIFIED_AT.get().is_some() => {
            NOTIFIED_AT.set(None);
            fail(
                ErrorReport::new(
                    PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                    "cannot PREPARE a transaction that emitted with pg_socketio.delivery = 'notify' or 'both'",
                    "PREPARE TRANSACTION",
                )
                .set_detail(
                    "Those emits are sent with NOTIFY, and PostgreSQL cannot prepare a \
                     transaction that executed NOTIFY.",
                )
                .set_hint(
                    "SET LOCAL pg_socketio.delivery = 'wal' in transactions that are prepared: \
                     the durable listener receives their emits at COMMIT PREPARED.",
                ),
            )
        }
        XACT_EVENT_COMMIT | XACT_EVENT_ABORT | XACT_EVENT_PREPARE => NOTIFIED_AT.set(None),
        _ => {}
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn at_subtransaction_end(
    event: pg_sys::SubXactEvent::Type,
    _subtransaction: pg_sys::SubTransactionId,
    _parent: pg_sys::SubTransactionId,
    _arg: *mut c_void,
) {
    use pg_sys::SubXactEvent::*;
    let Some(at) = NOTIFIED_AT.get() else {
        return;
    };
    // The ending subtransaction is still the current one here.
    let level = unsafe { pg_sys::GetCurrentTransactionNestLevel() };
    match event {
        // Its notifications go to its parent.
        SUBXACT_EVENT_COMMIT_SUB if at == level => NOTIFIED_AT.set(Some(level - 1)),
        // Its notifications are discarded, and any of its children's; the
        // outermost level holding some is its own or deeper.
        SUBXACT_EVENT_ABORT_SUB if at >= level => NOTIFIED_AT.set(None),
        _ => {}
    }
}
