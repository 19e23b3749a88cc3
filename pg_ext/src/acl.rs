//! Privilege checks that differ between PostgreSQL majors.

use pgrx::prelude::*;

/// Whether the current user may execute `function`.
pub fn may_execute(function: pg_sys::Oid) -> bool {
    let user = unsafe { pg_sys::GetUserId() };
    let mode = pg_sys::ACL_EXECUTE as pg_sys::AclMode;
    #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15"))]
    let granted = unsafe { pg_sys::pg_proc_aclcheck(function, user, mode) };
    #[cfg(not(any(feature = "pg13", feature = "pg14", feature = "pg15")))]
    let granted =
        unsafe { pg_sys::object_aclcheck(pg_sys::ProcedureRelationId, function, user, mode) };
    granted == pg_sys::AclResult::ACLCHECK_OK
}
