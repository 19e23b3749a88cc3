//! A background worker that deletes old attachments, for deployments where no
//! Node.js server does it (the emitter never cleans up). It runs only when the
//! library is in `shared_preload_libraries`.

use std::time::Duration;

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::prelude::*;

use crate::{attachment_table, attachments, settings, stats};

const NAME: &str = "pg_socketio cleanup";

pub fn register() {
    BackgroundWorkerBuilder::new(NAME)
        .set_type(NAME)
        .set_library("pg_socketio")
        .set_function("pg_socketio_cleanup_main")
        .enable_spi_access()
        // After an error (say, the table was dropped), try again later.
        .set_restart_time(Some(Duration::from_secs(10)))
        .load();
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_socketio_cleanup_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let database = settings::cleanup_database();
    BackgroundWorker::connect_worker_to_spi(Some(&database), None);
    log!("{NAME}: deleting attachments older than the interval in database \"{database}\"");
    while BackgroundWorker::wait_latch(Some(settings::cleanup_interval())) {
        if BackgroundWorker::sighup_received() {
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        // A failed run is recorded before the error ends the worker (the
        // postmaster starts it again after its restart time).
        stats::cleanup_ran(None);
        let deleted = BackgroundWorker::transaction(cleanup_once);
        stats::cleanup_ran(Some(deleted));
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
