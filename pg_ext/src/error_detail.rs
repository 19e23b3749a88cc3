//! Says what pg_socketio was doing when PostgreSQL raised an error on its
//! behalf: "No space left on device" alone does not tell the caller that
//! the disk filled up while their emit stored an attachment.

use std::fmt::Display;
use std::panic::{AssertUnwindSafe, RefUnwindSafe};

use pgrx::pg_sys::panic::{CaughtError, ErrorReport};
use pgrx::PgTryBuilder;

use crate::raise::fail;

/// Runs `f`. An error PostgreSQL raises in it is raised again, SQLSTATE,
/// message and hint unchanged, with `doing` added to its detail (formatted
/// only then: this wraps every attachment INSERT). pgrx keeps
/// no CONTEXT of errors it catches, hence the detail. Errors pg_socketio
/// raises itself already say what they are about and pass unchanged.
pub fn on_error_say<T>(
    doing: impl Display + RefUnwindSafe,
    function: &'static str,
    f: impl FnOnce() -> T,
) -> T {
    PgTryBuilder::new(AssertUnwindSafe(f))
        .catch_others(|caught| match caught {
            CaughtError::PostgresError(report) => {
                let detail = match report.detail() {
                    Some(theirs) => format!("{theirs}\n{doing}"),
                    None => doing.to_string(),
                };
                let mut again = ErrorReport::new(
                    report.sql_error_code(),
                    report.message().to_owned(),
                    function,
                )
                .set_detail(detail);
                if let Some(hint) = report.hint() {
                    again = again.set_hint(hint);
                }
                fail(again)
            }
            other => other.rethrow(),
        })
        .execute()
}
