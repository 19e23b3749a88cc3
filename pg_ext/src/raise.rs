//! Raising errors: the one way this crate ends a call with an ERROR.

use pg_socketio_protocol::{Error, ErrorKind};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

/// Raises `report` as an ERROR, which aborts the statement and so the
/// transaction: nothing this call queued is ever delivered.
pub fn fail(report: ErrorReport) -> ! {
    crate::stats::add(crate::stats::Counter::Refused, 1);
    report.report(PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}

/// Raises a protocol error with the SQLSTATE of its class.
pub fn raise(err: Error, function: &'static str) -> ! {
    let code = match err.kind() {
        ErrorKind::Null => PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
        ErrorKind::InvalidValue => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        ErrorKind::LimitExceeded => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        ErrorKind::OutOfMemory => PgSqlErrorCode::ERRCODE_OUT_OF_MEMORY,
    };
    fail(ErrorReport::new(code, err.to_string(), function))
}

/// Unwraps `result` or raises its error.
pub trait OrRaise<T> {
    fn or_raise(self, function: &'static str) -> T;
}

impl<T> OrRaise<T> for Result<T, Error> {
    fn or_raise(self, function: &'static str) -> T {
        self.unwrap_or_else(|err| raise(err, function))
    }
}
