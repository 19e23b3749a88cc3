//! The attachment table: insert in the caller's transaction, and cleanup.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use pg_socketio_protocol::{attachment_notification, Attachment, MessageType, EMITTER_UID};
use pgrx::datum::DatumWithOid;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiResult};
use pgrx::{register_xact_callback, set_varsize_4b, PgOid, PgSqlErrorCode, PgXactCallbackEvent};

use crate::as_owner::as_owner;
use crate::attachment_table::{self, AttachmentTable, Right};
use crate::compression;
use crate::error_detail::on_error_say;
use crate::raise::{fail, OrRaise};
use crate::scratch::palloc_huge;
use crate::stats::{self, Counter};
use crate::table_lock;

extension_sql_file!(
    "../../sql/install/attachments.sql",
    name = "attachment_table"
);

thread_local! {
    /// INSERT plans kept for the backend's life (SPI_keepplan), by table:
    /// parsing and planning per attachment cost more than running it.
    /// PostgreSQL re-plans them itself when the table changes. A plan is taken
    /// out while it runs, so that a nested call (a trigger on the table)
    /// prepares its own.
    static INSERTS: RefCell<HashMap<String, OwnedPreparedStatement>> = RefCell::new(HashMap::new());
}

/// Stores `payload` and returns the notification that points at it.
pub fn store(kind: MessageType, payload: Bytea, function: &'static str) -> String {
    let table = attachment_table::resolve(Right::AddMessages, function);
    table_lock::row_exclusive(table.oid, &table.name, function);
    let doing = Storing {
        bytes: payload.len,
        table: &table.name,
    };
    let id = on_error_say(doing, function, || {
        as_owner(table.owner, || {
            // Here, as the owner: compressing may ask the server a question
            // in SQL, which runs pinned as the INSERT does.
            let payload = payload.compressed();
            insert(&table.name, payload.datum)
        })
    });
    remember(table, id);
    stats::add(Counter::AttachmentsStored, 1);
    attachment_notification(EMITTER_UID, kind, id)
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

/// A message for the attachment table as a `bytea`, in the current memory
/// context, freed once stored: a statement trigger sends many messages in
/// one call, whose memory context is emptied only when it returns.
pub struct Bytea {
    datum: pg_sys::Datum,
    /// Of the message, without the varlena header.
    len: usize,
}

impl Bytea {
    /// Written once into memory of its final size (`palloc_huge`).
    pub fn of(payload: &Attachment, function: &'static str) -> Bytea {
        let size = pg_sys::VARHDRSZ + payload.len();
        let bytea = palloc_huge(size);
        unsafe {
            let mut body =
                std::slice::from_raw_parts_mut(bytea.add(pg_sys::VARHDRSZ), payload.len());
            payload.write_to(&mut body).or_raise(function);
            set_varsize_4b(bytea.cast(), size as i32);
        }
        Bytea {
            datum: pg_sys::Datum::from(bytea),
            len: payload.len(),
        }
    }

    /// Compressed where that pays (`compression::lz4`); the message itself
    /// is freed then, before the INSERT copies the compressed bytes.
    fn compressed(mut self) -> Bytea {
        // SAFETY: `of` wrote it: a 4-byte header and `len` bytes.
        if let Some(compressed) = unsafe { compression::lz4(self.datum, self.len) } {
            // SAFETY: palloc'd by `of`, and replaced by its compressed form.
            unsafe { pg_sys::pfree(self.datum.cast_mut_ptr()) };
            self.datum = compressed;
        }
        self
    }
}

impl Drop for Bytea {
    fn drop(&mut self) {
        // SAFETY: palloc'd by `of` (or by `compressed`, in `store`) in a
        // context that outlives the message, and referenced by nothing once
        // the INSERT that stored it has returned.
        unsafe { pg_sys::pfree(self.datum.cast_mut_ptr()) }
    }
}

fn insert(table: &str, payload: pg_sys::Datum) -> i64 {
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
                         VALUES (pg_catalog.clock_timestamp(), $1) RETURNING id"
                    ),
                    &[PgOid::BuiltIn(pg_sys::BuiltinOid::BYTEAOID)],
                )?
                .keep(),
        };
        let id = client
            // SAFETY: a bytea datum, alive for this statement.
            .update(
                &plan,
                Some(1),
                &[unsafe { DatumWithOid::new(payload, pg_sys::BYTEAOID) }],
            )?
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
    /// The table's owner, as whom the refresh runs (see `as_owner`).
    owner: pg_sys::Oid,
    table: String,
    id: i64,
    at: Instant,
}

thread_local! {
    static STORED: RefCell<Vec<Stored>> = const { RefCell::new(Vec::new()) };
}

fn remember(table: AttachmentTable, id: i64) {
    STORED.with_borrow_mut(|stored| {
        if stored.is_empty() {
            register_xact_callback(PgXactCallbackEvent::PreCommit, refresh_before_commit);
            register_xact_callback(PgXactCallbackEvent::Abort, || STORED.take().clear());
        }
        stored.push(Stored {
            owner: table.owner,
            table: table.name,
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
    // One UPDATE per table.
    old.sort_unstable_by(|a, b| (&a.table, a.owner.to_u32()).cmp(&(&b.table, b.owner.to_u32())));
    // COMMIT runs this with no snapshot of its own; SPI needs one.
    unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot()) };
    for group in old.chunk_by(|a, b| (a.owner, &a.table) == (b.owner, &b.table)) {
        let (owner, table) = (group[0].owner, &group[0].table);
        let ids: Vec<i64> = group.iter().map(|row| row.id).collect();
        as_owner(owner, || {
            Spi::run_with_args(
                &format!(
                    "UPDATE {table} SET created_at = pg_catalog.clock_timestamp() \
                      WHERE id = ANY($1)"
                ),
                &[ids.into()],
            )
        })
        .unwrap_or_else(|e| panic!("refreshing attachments of {table}: {e}"));
    }
    unsafe { pg_sys::PopActiveSnapshot() };
}

/// Deletes attachments older than `older_than` and returns how many it
/// deleted. Rows are read by listeners within milliseconds of COMMIT; the
/// default, 30 s, is the Node.js adapter's own.
#[pg_extern]
fn sio_cleanup(older_than: default!(Interval, "'30 seconds'")) -> i64 {
    // Compared as PostgreSQL compares intervals (a month is 30 days), so
    // '1 day -1 hour' is 23 hours, not negative.
    let span = (i128::from(older_than.months()) * 30 + i128::from(older_than.days()))
        * 86_400_000_000
        + i128::from(older_than.micros());
    if span < 0 {
        fail(
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                format!("older_than must not be negative: {older_than}"),
                "sio_cleanup",
            )
            .set_detail(
                "A negative age would delete attachments that listeners are about to read.",
            ),
        );
    }
    delete_older_than(older_than, "sio_cleanup")
}

/// The DELETE of `sio_cleanup`, for a caller with the right to delete.
pub fn delete_older_than(older_than: Interval, function: &'static str) -> i64 {
    let table = attachment_table::resolve(Right::Delete, function);
    table_lock::row_exclusive(table.oid, &table.name, function);
    // An age beyond the timestamp range (now - 6000 years is before 4713 BC
    // in a few thousand years) has nothing older than it: no cutoff, rather
    // than an out-of-range error.
    let name = &table.name;
    let deleted = as_owner(table.owner, || {
        Spi::get_one_with_args::<i64>(
            &format!(
                "WITH gone AS (
                   DELETE FROM {name}
                    WHERE created_at < (SELECT CASE WHEN $1 < interval '6000 years'
                                                    THEN pg_catalog.clock_timestamp() - $1 END)
                   RETURNING 1)
                 SELECT pg_catalog.count(*) FROM gone"
            ),
            &[older_than.into()],
        )
    })
    .unwrap_or_else(|e| panic!("cleaning the attachment table {name}: {e}"))
    .unwrap_or(0);
    stats::add(Counter::AttachmentsCleaned, deleted as u64);
    deleted
}
