//! pg_socketio: emit Socket.IO events from SQL to servers that use the Node.js
//! `@socket.io/postgres-adapter`. The protocol lives in the
//! `pg_socketio_protocol` crate; this crate is the thin pgrx glue around it.

use pgrx::prelude::*;

mod args;
mod attachments;
mod cleanup_worker;
mod emit;
mod error_detail;
mod jsonb_text;
mod operations;
mod queue_check;
mod raise;
mod room_template;
mod send;
mod settings;
mod table_lock;

::pgrx::pg_module_magic!(name, version);

// Roles and grants, once every function and the table exist.
extension_sql_file!("../../sql/privileges.sql", name = "privileges", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    settings::register();
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        settings::register_cleanup();
        cleanup_worker::register();
    }
}

#[cfg(any(test, feature = "pg_test"))]
mod pg_tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
