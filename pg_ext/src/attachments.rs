//! The attachment table: insert in the caller's transaction, and cleanup.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use pg_socketio_protocol::{attachment_notification, MessageType};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiResult};
use pgrx::{register_xact_callback, PgLogLevel, PgOid, PgSqlErrorCode, PgXactCallbackEvent};

use crate::error_detail::on_error_say;
use crate::{settings, table_lock};

extension_sql_file!("../../sql/attachments.sql", name = "attachment_table");

thread_local! {
    /// Plans kept for the backend's life (SPI_keepplan): parsing and planning
    /// two statements per attachment cost more than running them. PostgreSQL
    /// re-plans them itself when the table changes. A plan is taken out while
    /// it runs, so that a nested call (a trigger on the table) prepares its own.
    static LOOKUP: RefCell<Option<OwnedPreparedStatement>> = const { RefCell::new(None) };
    static INSERTS: RefCell<HashMap<String, OwnedPreparedStatement>> = RefCell::new(HashMap::new());
}

/// The table named by `pg_socketio.attachment_table`: its oid and its name,
/// quoted and qualified; or an ERROR that says how to get one.
fn table(function: &'static str) -> (pg_sys::Oid, String) {
    let name = settings::attachment_table();
    let found = Spi::connect(|client| -> SpiResult<Option<(pg_sys::Oid, String)>> {
        let plan = match LOOKUP.take() {
            Some(plan) => plan,
            None => client
                .prepare(
                    "SELECT c.oid, format('%I.%I', n.nspname, c.relname)
                       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE c.oid = to_regclass($1)",
                    &[PgOid::BuiltIn(pg_sys::BuiltinOid::TEXTOID)],
                )?
                .keep(),
        };
        let row = client
            .select(&plan, Some(1), &[name.as_str().into()])?
            .first()
            .get_two::<pg_sys::Oid, String>();
        LOOKUP.set(Some(plan));
        Ok(match row? {
            (Some(oid), Some(table)) => Some((oid, table)),
            _ => None,
        })
    });
    match found {
        Ok(Some(table)) => table,
        _ => {
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
                format!("attachment table \"{name}\" does not exist"),
                function,
            )
            .set_detail("Messages with binary arguments or of 8000 bytes or more are stored there.")
            .set_hint(
                "CREATE EXTENSION pg_socketio creates socket_io_attachments; \
                 pg_socketio.attachment_table names another table.",
            )
            .report(PgLogLevel::ERROR);
            unreachable!("ERROR does not return")
        }
    }
}

/// Stores `payload` and returns the notification that points at it.
pub fn store(kind: MessageType, payload: &[u8], function: &'static str) -> String {
    let (oid, table) = table(function);
    table_lock::row_exclusive(oid, &table, function);
    let doing = Storing {
        bytes: payload.len(),
        table: &table,
    };
    let id = on_error_say(doing, function, || insert(&table, payload));
    remember(table, id);
    attachment_notification(kind, id)
}

/// What an error while storing was about, for its detail.
struct Storing<'a> {
    bytes: usize,
    table: &'a str,
}

impl std::fmt::Display for Storing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pg_socketio was storing a message of {} bytes in the attachment table {}.",
            self.bytes, self.table
        )
    }
}

fn insert(table: &str, payload: &[u8]) -> i64 {
    Spi::connect_mut(|client| -> SpiResult<Option<i64>> {
        let plan = match INSERTS.with_borrow_mut(|plans| plans.remove(table)) {
            Some(plan) => plan,
            // created_at from clock_timestamp(): now() is the transaction's
            // start, and a row written late in a long transaction would look
            // old at once.
            None => client
                .prepare_mut(
                    &*format!(
                        "INSERT INTO {table} (created_at, payload) \
                         VALUES (clock_timestamp(), $1) RETURNING id"
                    ),
                    &[PgOid::BuiltIn(pg_sys::BuiltinOid::BYTEAOID)],
                )?
                .keep(),
        };
        let id = client
            .update(&plan, Some(1), &[payload.into()])?
            .first()
            .get_one::<i64>();
        INSERTS.with_borrow_mut(|plans| plans.insert(table.to_owned(), plan));
        id
    })
    .unwrap_or_else(|e| panic!("inserting into the attachment table {table}: {e}"))
    .expect("INSERT ... RETURNING id returns the id")
}

/// Rows are readable from COMMIT on, but cleanup (ours, or every Node.js
/// server's) judges them by `created_at`. A row stored early in a long
/// transaction would look old the moment it became visible, and could be
/// deleted before any listener read it. So rows stored more than this long
/// before COMMIT get `created_at` refreshed just before it.
const REFRESH_AFTER: Duration = Duration::from_secs(1);

/// An attachment row this transaction stored.
struct Stored {
    /// The role that stored it (the owner of a SECURITY DEFINER function
    /// that emitted, say): the refresh at COMMIT runs as that role, not as
    /// the session's, which may have no right on the table.
    user: pg_sys::Oid,
    table: String,
    id: i64,
    at: Instant,
}

thread_local! {
    static STORED: RefCell<Vec<Stored>> = const { RefCell::new(Vec::new()) };
}

fn remember(table: String, id: i64) {
    let user = unsafe { pg_sys::GetUserId() };
    STORED.with_borrow_mut(|stored| {
        if stored.is_empty() {
            register_xact_callback(PgXactCallbackEvent::PreCommit, refresh_before_commit);
            register_xact_callback(PgXactCallbackEvent::Abort, || STORED.take().clear());
        }
        stored.push(Stored {
            user,
            table,
            id,
            at: Instant::now(),
        });
    });
}

fn refresh_before_commit() {
    let mut old: Vec<Stored> = STORED.take();
    old.retain(|row| row.at.elapsed() >= REFRESH_AFTER);
    if old.is_empty() {
        return;
    }
    // One UPDATE per (role, table).
    old.sort_unstable_by(|a, b| (a.user.to_u32(), &a.table).cmp(&(b.user.to_u32(), &b.table)));
    let (mut session_user, mut context) = (pg_sys::Oid::INVALID, 0);
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut session_user, &mut context);
        // COMMIT runs this with no snapshot of its own; SPI needs one.
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    }
    for group in old.chunk_by(|a, b| (a.user, &a.table) == (b.user, &b.table)) {
        let (user, table) = (group[0].user, &group[0].table);
        let ids: Vec<i64> = group.iter().map(|row| row.id).collect();
        // As SECURITY DEFINER functions do; an error here aborts the
        // transaction, which restores the user.
        unsafe {
            pg_sys::SetUserIdAndSecContext(
                user,
                context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32,
            )
        };
        Spi::run_with_args(
            &format!("UPDATE {table} SET created_at = clock_timestamp() WHERE id = ANY($1)"),
            &[ids.into()],
        )
        .unwrap_or_else(|e| panic!("refreshing attachments of {table}: {e}"));
    }
    unsafe {
        pg_sys::SetUserIdAndSecContext(session_user, context);
        pg_sys::PopActiveSnapshot();
    }
}

/// Deletes attachments older than `older_than` and returns how many it
/// deleted. Rows are read by listeners within milliseconds of COMMIT; the
/// default, 30 s, is the Node.js adapter's own.
#[pg_extern]
fn sio_cleanup(older_than: default!(Interval, "'30 seconds'")) -> i64 {
    if older_than.months() < 0 || older_than.days() < 0 || older_than.micros() < 0 {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("older_than must not be negative: {older_than}"),
            "sio_cleanup",
        )
        .set_detail("A negative age would delete attachments that listeners are about to read.")
        .report(PgLogLevel::ERROR);
    }
    delete_older_than(older_than, "sio_cleanup")
}

/// The DELETE of `sio_cleanup`, with the rights of the current role.
pub fn delete_older_than(older_than: Interval, function: &'static str) -> i64 {
    let (oid, table) = table(function);
    table_lock::row_exclusive(oid, &table, function);
    Spi::get_one_with_args::<i64>(
        &format!(
            "WITH gone AS (DELETE FROM {table} WHERE created_at < clock_timestamp() - $1 RETURNING 1)
             SELECT count(*) FROM gone"
        ),
        &[older_than.into()],
    )
    .unwrap_or_else(|e| panic!("cleaning the attachment table {table}: {e}"))
    .unwrap_or(0)
}
