//! A background worker that deletes old attachments, for deployments where no
//! Node.js server does it (the emitter never cleans up). It runs only when the
//! library is in `shared_preload_libraries`.

use std::time::Duration;

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::prelude::*;

use crate::{attachment_table, attachments, settings, stats};

const NAME: &str = "pg_socketio cleanup";

/// One worker per database of `pg_socketio.cleanup_database`, numbered
/// in its order (where each keeps its last run in `sio_stats()`).
pub fn register() {
    let databases = settings::cleanup_databases();
    if databases.len() > stats::CLEANUP_WORKERS {
        error!(
            "pg_socketio.cleanup_database names {} databases; at most {} are allowed",
            databases.len(),
            stats::CLEANUP_WORKERS
        );
    }
    for (worker, database) in databases.iter().enumerate() {
        // bgw_extra holds 128 bytes, a database name at most 63.
        if database.len() >= pg_sys::NAMEDATALEN as usize {
            error!("pg_socketio.cleanup_database: \"{database}\" is longer than a database name can be");
        }
        BackgroundWorkerBuilder::new(&format!("{NAME} {database}"))
            .set_type(NAME)
            .set_library("pg_socketio")
            .set_function("pg_socketio_cleanup_main")
            .set_argument(Some(pg_sys::Datum::from(worker)))
            .set_extra(database)
            .enable_spi_access()
            // After an error (say, the table was dropped), try again later.
            .set_restart_time(Some(Duration::from_secs(10)))
            .load();
    }
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_socketio_cleanup_main(worker: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let worker = worker.value();
    let database = BackgroundWorker::get_extra().to_owned();
    BackgroundWorker::connect_worker_to_spi(Some(&database), None);
    log!("{NAME}: deleting attachments older than the interval in database \"{database}\"");
    while BackgroundWorker::wait_latch(Some(settings::cleanup_interval())) {
        if BackgroundWorker::sighup_received() {
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        // A failed run is recorded before the error ends the worker (the
        // postmaster starts it again after its restart time).
        stats::cleanup_ran(worker, None);
        let deleted = BackgroundWorker::transaction(cleanup_once);
        stats::cleanup_ran(worker, Some(deleted));
    }
}

/// One pass, in its own transaction; nothing to do where the extension is
/// not installed. The DELETE runs as the table's owner, like every
/// statement on the table (`as_owner`).
fn cleanup_once() -> i64 {
    if !attachment_table::extension_installed() {
        return 0;
    }
    let interval = settings::cleanup_interval();
    let older_than = Interval::new(0, 0, interval.as_micros() as i64).unwrap();
    let deleted = attachments::delete_older_than(older_than, NAME);
    debug1!("{NAME}: deleted {deleted} attachments");
    deleted
}
