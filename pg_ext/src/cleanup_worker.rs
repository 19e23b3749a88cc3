//! Background workers that delete old attachments, for deployments where no
//! Node.js server does it (the emitter never cleans up). They run only when
//! the library is in `shared_preload_libraries`.
//!
//! A launcher, connected to no database, starts every
//! `pg_socketio.cleanup_interval` one short-lived worker per database of
//! `pg_socketio.cleanup_database`, one after another; each connects,
//! deletes, and exits. So the list is re-read at a reload, a listed
//! database can be dropped (no worker stays connected to it), a missing
//! one costs a log line per pass, and the cleanup takes two of
//! `max_worker_processes` however many databases are listed.

use std::time::Duration;

use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BackgroundWorkerStatus, SignalWakeFlags,
};
use pgrx::prelude::*;

use crate::{attachment_table, attachments, settings, stats};

const NAME: &str = "pg_socketio cleanup";
const LAUNCHER: &str = "pg_socketio cleanup launcher";

/// Registers the launcher; a list the server cannot take stops it from
/// starting, with the reason.
pub fn register() {
    if let Err(reason) = settings::cleanup_databases() {
        error!("{reason}");
    }
    BackgroundWorkerBuilder::new(LAUNCHER)
        .set_library("pg_socketio")
        .set_function("pg_socketio_cleanup_launcher")
        // Connected to no database, but in pg_stat_activity (as PostgreSQL's
        // logical replication launcher is); started when recovery ends, so
        // never on a standby.
        .enable_spi_access()
        .set_restart_time(Some(Duration::from_secs(10)))
        .load();
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_socketio_cleanup_launcher(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    BackgroundWorker::connect_worker_to_spi(None, None);
    // Checked when the server started.
    let mut databases = settings::cleanup_databases().unwrap_or_default();
    log!("{LAUNCHER}: cleaning {databases:?}");
    while BackgroundWorker::wait_latch(Some(settings::cleanup_interval())) {
        if BackgroundWorker::sighup_received() {
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
            match settings::cleanup_databases() {
                Ok(listed) if listed != databases => {
                    databases = listed;
                    log!("{LAUNCHER}: cleaning {databases:?}");
                }
                Ok(_) => {}
                Err(reason) => warning!("{reason}; still cleaning {databases:?}"),
            }
        }
        for (worker, database) in databases.iter().enumerate() {
            if !clean(worker, database) {
                return;
            }
        }
    }
}

/// Runs worker number `worker` in `database` and waits for it to exit;
/// false when the launcher must stop (SIGTERM, the postmaster gone).
fn clean(worker: usize, database: &str) -> bool {
    if BackgroundWorker::sigterm_received() {
        return false;
    }
    let started = BackgroundWorkerBuilder::new(&format!("{NAME} {database}"))
        .set_type(NAME)
        .set_library("pg_socketio")
        .set_function("pg_socketio_cleanup_main")
        .set_argument(Some(pg_sys::Datum::from(worker)))
        // bgw_extra holds 128 bytes; a listed name is at most 63.
        .set_extra(database)
        .enable_spi_access()
        .set_notify_pid(unsafe { pg_sys::MyProcPid })
        .load_dynamic();
    match started {
        Ok(worker) => !matches!(
            worker.wait_for_shutdown(),
            Err(BackgroundWorkerStatus::PostmasterDied)
        ),
        Err(_) => {
            warning!(
                "{LAUNCHER}: no background worker slot free to clean database \"{database}\"; \
                 raise max_worker_processes"
            );
            true
        }
    }
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_socketio_cleanup_main(worker: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGTERM);
    let worker = worker.value();
    let database = BackgroundWorker::get_extra().to_owned();
    BackgroundWorker::connect_worker_to_spi(Some(&database), None);
    // A failed run is recorded before the error ends the worker.
    stats::cleanup_ran(worker, None);
    let deleted = BackgroundWorker::transaction(cleanup_once);
    stats::cleanup_ran(worker, Some(deleted));
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
