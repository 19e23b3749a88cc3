//! Statements on the attachment table run as the table's owner, inside a
//! security-restricted operation and with `search_path` pinned — as
//! PostgreSQL runs VACUUM, ANALYZE and REFRESH MATERIALIZED VIEW. Neither
//! the caller's `search_path` (which could shadow a function or operator the
//! statement uses) nor a trigger on the table then runs anything with the
//! caller's rights, which may be a SECURITY DEFINER function owner's. The
//! caller's own right on the table is checked before (`attachment_table`).

use pgrx::prelude::*;
use std::ffi::CStr;

/// Settings for the statements, restored after them.
const SETTINGS: [(&CStr, &CStr); 2] = [
    // `pg_temp` last: the statements name every relation with its schema,
    // so nothing is ever looked up in it.
    (c"search_path", c"pg_catalog, pg_temp"),
    // A custom plan would copy the payload parameter into a constant of
    // the plan (twice, measured: 600 MB for a 300 MB message); a generic
    // plan reads it where it is.
    (c"plan_cache_mode", c"force_generic_plan"),
];

pub fn as_owner<R>(owner: pg_sys::Oid, f: impl FnOnce() -> R) -> R {
    let (mut user, mut context) = (pg_sys::InvalidOid, 0);
    let nest = unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(
            owner,
            context
                | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32
                | pg_sys::SECURITY_RESTRICTED_OPERATION as i32,
        );
        let nest = pg_sys::NewGUCNestLevel();
        for (name, value) in SETTINGS {
            pg_sys::set_config_option(
                name.as_ptr(),
                value.as_ptr(),
                pg_sys::GucContext::PGC_USERSET,
                pg_sys::GucSource::PGC_S_SESSION,
                pg_sys::GucAction::GUC_ACTION_SAVE,
                true,
                0,
                false,
            );
        }
        nest
    };
    // An ERROR in `f` aborts the (sub)transaction, which restores both the
    // user and the setting, as it does for a SECURITY DEFINER function.
    let result = f();
    unsafe {
        pg_sys::AtEOXact_GUC(true, nest);
        pg_sys::SetUserIdAndSecContext(user, context);
    }
    result
}
