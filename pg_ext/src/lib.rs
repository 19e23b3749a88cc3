//! pg_socketio: emit Socket.IO events from SQL to servers that use the Node.js
//! `@socket.io/postgres-adapter`. The protocol lives in the
//! `pg_socketio_protocol` crate; this crate is the thin pgrx glue around it.

use pgrx::prelude::*;

mod acl;
mod arg_abi;
mod args;
mod as_owner;
mod attachment_table;
mod attachments;
mod cleanup_worker;
mod compression;
mod datum_text;
mod emit;
mod error_detail;
mod jsonb_text;
mod operations;
mod queue_check;
mod raise;
mod room_template;
mod row_values;
mod scratch;
mod send;
mod settings;
mod stats;
mod table_lock;
mod text_arg;
mod transition_table;
mod trigger;
mod trigger_check;
mod two_phase;
mod wal;

::pgrx::pg_module_magic!(name, version);

// Socket.IO speaks JSON, which is UTF-8: text of another encoding could not
// be passed on unchanged, so such databases are refused at CREATE EXTENSION
// rather than at the first emit with a non-ASCII argument.
extension_sql!(
    r#"
DO $$
BEGIN
    IF pg_catalog.getdatabaseencoding() <> 'UTF8' THEN
        RAISE EXCEPTION 'pg_socketio needs a UTF8 database; this one is %',
            pg_catalog.getdatabaseencoding()
            USING ERRCODE = '22021',
                  HINT = 'CREATE DATABASE ... ENCODING ''UTF8'' TEMPLATE template0';
    END IF;
END
$$;
"#,
    name = "utf8_only",
    bootstrap
);

// Roles and grants, once every function and the table exist.
extension_sql_file!(
    "../../sql/install/privileges.sql",
    name = "privileges",
    finalize
);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    // pgrx adds a Rust backtrace to an ERROR's DETAIL when the server's
    // environment enables them (RUST_BACKTRACE): internals that clients must
    // not see. This turns capturing off for this process before any error.
    // SAFETY: a backend runs one thread, and nothing reads the environment
    // concurrently.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    settings::register();
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        stats::init_shared();
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
