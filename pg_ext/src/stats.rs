//! `sio_stats()`: what pg_socketio has done, without reading logs. With the
//! library in `shared_preload_libraries` the counters are the whole
//! server's, in shared memory (scope `cluster`), as `pg_stat_*` views count;
//! without, each session counts its own (scope `session`). Calls are counted
//! when made, whether their transaction commits or not, as PostgreSQL's
//! statistics are; `sio_stats_reset()` starts them again.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};

use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PGRXSharedMemory, PgAtomic};

/// What is counted; the index of each in the counters.
#[derive(Clone, Copy)]
pub enum Counter {
    EmitsInline,
    EmitsAttachment,
    BytesSent,
    AttachmentsStored,
    AttachmentsCleaned,
    Refused,
    SioEmit,
    SioEmitArgs,
    SioSocketsJoin,
    SioSocketsLeave,
    SioDisconnectSockets,
    SioServerSideEmit,
    SioTrigger,
}

const COUNTERS: usize = Counter::SioTrigger as usize + 1;

/// The counter of calls to `function`, by its SQL name.
pub fn calls_of(function: &str) -> Option<Counter> {
    Some(match function {
        "sio_emit" => Counter::SioEmit,
        "sio_emit_args" => Counter::SioEmitArgs,
        "sio_sockets_join" => Counter::SioSocketsJoin,
        "sio_sockets_leave" => Counter::SioSocketsLeave,
        "sio_disconnect_sockets" => Counter::SioDisconnectSockets,
        "sio_server_side_emit" => Counter::SioServerSideEmit,
        "sio_trigger" => Counter::SioTrigger,
        _ => return None,
    })
}

/// Everything `sio_stats()` shows, in one place of shared memory; atomics
/// only, so counting takes no lock.
#[derive(Default)]
pub struct Stats {
    counters: [AtomicU64; COUNTERS],
    /// Microseconds since the PostgreSQL epoch; 0: never (NULL, as
    /// `pg_stat_database.stats_reset` before a reset).
    reset_at: AtomicI64,
    /// One per place in `pg_socketio.cleanup_database`, of the database
    /// last cleaned there.
    cleanup: [Cleanup; CLEANUP_WORKERS],
}

/// How many databases `pg_socketio.cleanup_database` may name.
pub const CLEANUP_WORKERS: usize = 32;

/// A cleanup worker's last run.
#[derive(Default)]
struct Cleanup {
    /// Its database's OID; 0 until its first run.
    database: AtomicU32,
    at: AtomicI64,
    /// Rows its last run deleted; -1: it failed.
    deleted: AtomicI64,
}

// SAFETY: atomics and integers only, no pointers.
unsafe impl PGRXSharedMemory for Stats {}

static SHARED: PgAtomic<Stats> = unsafe { PgAtomic::new(c"pg_socketio stats") };
/// Set in the postmaster before it forks any backend.
static PRELOADED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static SESSION: RefCell<Option<&'static Stats>> = const { RefCell::new(None) };
}

/// Called from `_PG_init` while preloading.
pub fn init_shared() {
    pg_shmem_init!(SHARED);
    PRELOADED.store(true, Ordering::Relaxed);
}

fn stats() -> &'static Stats {
    if PRELOADED.load(Ordering::Relaxed) {
        return SHARED.get();
    }
    // A session's own counters, for its life (one per backend).
    SESSION.with_borrow_mut(|session| *session.get_or_insert_with(|| Box::leak(Box::default())))
}

pub fn add(counter: Counter, n: u64) {
    add_each([(counter, n)]);
}

/// Several counts at once, the counters looked up once (an emit counts
/// three).
pub fn add_each(counts: impl IntoIterator<Item = (Counter, u64)>) {
    let stats = stats();
    for (counter, n) in counts {
        stats.counters[counter as usize].fetch_add(n, Ordering::Relaxed);
    }
}

/// Cleanup worker number `worker` ran in this database; `None`: failed.
pub fn cleanup_ran(worker: usize, deleted: Option<i64>) {
    let here = unsafe { pg_sys::MyDatabaseId }.to_u32();
    let stats = stats();
    // A reloaded list may have moved this database: its old place is stale.
    for (other, cleanup) in stats.cleanup.iter().enumerate() {
        if other != worker && cleanup.database.load(Ordering::Relaxed) == here {
            cleanup.database.store(0, Ordering::Relaxed);
        }
    }
    let cleanup = &stats.cleanup[worker];
    cleanup.database.store(here, Ordering::Relaxed);
    cleanup.at.store(now(), Ordering::Relaxed);
    cleanup
        .deleted
        .store(deleted.unwrap_or(-1), Ordering::Relaxed);
}

/// The last run of this database's cleanup worker: when, and how many rows
/// it deleted (`None` when it failed); `None` when it has not run here.
fn cleanup_here(stats: &Stats) -> Option<(i64, Option<i64>)> {
    let here = unsafe { pg_sys::MyDatabaseId }.to_u32();
    let cleanup = stats
        .cleanup
        .iter()
        .find(|c| c.database.load(Ordering::Relaxed) == here)?;
    let deleted = cleanup.deleted.load(Ordering::Relaxed);
    Some((
        cleanup.at.load(Ordering::Relaxed),
        (deleted >= 0).then_some(deleted),
    ))
}

fn now() -> i64 {
    unsafe { pg_sys::GetCurrentTimestamp() }
}

fn timestamp(micros: i64) -> Option<TimestampWithTimeZone> {
    (micros != 0)
        .then(|| TimestampWithTimeZone::try_from(micros as pg_sys::TimestampTz).ok())
        .flatten()
}

#[allow(clippy::type_complexity)]
#[pg_extern(volatile)]
fn sio_stats() -> TableIterator<
    'static,
    (
        name!(scope, String),
        name!(emits_inline, i64),
        name!(emits_attachment, i64),
        name!(bytes_sent, i64),
        name!(attachments_stored, i64),
        name!(attachments_cleaned, i64),
        name!(refused, i64),
        name!(sio_emit, i64),
        name!(sio_emit_args, i64),
        name!(sio_sockets_join, i64),
        name!(sio_sockets_leave, i64),
        name!(sio_disconnect_sockets, i64),
        name!(sio_server_side_emit, i64),
        name!(sio_trigger, i64),
        name!(cleanup_last_run, Option<TimestampWithTimeZone>),
        name!(cleanup_last_deleted, Option<i64>),
        name!(notify_queue_usage, f64),
        name!(stats_reset, Option<TimestampWithTimeZone>),
    ),
> {
    let stats = stats();
    let n = |c: Counter| stats.counters[c as usize].load(Ordering::Relaxed) as i64;
    let (cleanup_at, deleted) = cleanup_here(stats).unwrap_or((0, None));
    // SAFETY: takes no arguments and returns a float8.
    let queue =
        unsafe { pgrx::direct_function_call::<f64>(pg_sys::pg_notification_queue_usage, &[]) }
            .unwrap_or(0.0);
    let scope = if PRELOADED.load(Ordering::Relaxed) {
        "cluster"
    } else {
        "session"
    };
    TableIterator::once((
        scope.to_owned(),
        n(Counter::EmitsInline),
        n(Counter::EmitsAttachment),
        n(Counter::BytesSent),
        n(Counter::AttachmentsStored),
        n(Counter::AttachmentsCleaned),
        n(Counter::Refused),
        n(Counter::SioEmit),
        n(Counter::SioEmitArgs),
        n(Counter::SioSocketsJoin),
        n(Counter::SioSocketsLeave),
        n(Counter::SioDisconnectSockets),
        n(Counter::SioServerSideEmit),
        n(Counter::SioTrigger),
        timestamp(cleanup_at),
        deleted,
        queue,
        timestamp(stats.reset_at.load(Ordering::Relaxed)),
    ))
}

/// Sets every counter of `sio_stats()` to zero (the cleanup worker's last
/// run is kept: it is a state, not a count).
#[pg_extern(volatile)]
fn sio_stats_reset() {
    let stats = stats();
    for counter in &stats.counters {
        counter.store(0, Ordering::Relaxed);
    }
    stats.reset_at.store(now(), Ordering::Relaxed);
}
