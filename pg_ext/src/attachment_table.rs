//! Which table holds attachments, and whether the caller may use it.
//!
//! The name comes from `pg_socketio.attachment_table`, which only superusers
//! (or roles granted SET on it) may change: a caller cannot steer a SECURITY
//! DEFINER function's emit into a table of its choosing. An unqualified name
//! is looked up in the extension's schema, never through `search_path`, so
//! a table in `pg_temp` or in a schema the caller controls cannot stand in
//! for it; temporary tables are refused even when named. The caller's right
//! is checked from the catalogs before any lock is taken.

use std::ffi::{CStr, CString};

use pg_socketio_protocol::TableName;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

use crate::raise::{fail, OrRaise};
use crate::settings;

/// The attachment table as found in the catalogs.
pub struct AttachmentTable {
    pub oid: pg_sys::Oid,
    /// Statements on the table run as this role (see `as_owner`).
    pub owner: pg_sys::Oid,
    /// Quoted and schema-qualified: safe to splice into SQL.
    pub name: String,
}

/// What the caller is about to do to the table.
#[derive(Clone, Copy)]
pub enum Right {
    /// Emit: INSERT on the `payload` column (what `socketio_emitter` has).
    AddMessages,
    /// `sio_cleanup`: DELETE.
    Delete,
}

/// The table named by `pg_socketio.attachment_table`, once the current user
/// has been found to hold `right` on it; otherwise an ERROR that says how
/// to get it.
pub fn resolve(right: Right, function: &'static str) -> AttachmentTable {
    let setting = settings::attachment_table();
    let name = TableName::parse(&setting).or_raise(function);
    let namespace = match &name.schema {
        Some(schema) => unsafe { pg_sys::get_namespace_oid(c_string(schema).as_ptr(), true) },
        None => extension_schema(),
    };
    let oid = if namespace == pg_sys::InvalidOid {
        pg_sys::InvalidOid
    } else {
        unsafe { pg_sys::get_relname_relid(c_string(&name.name).as_ptr(), namespace) }
    };
    if oid == pg_sys::InvalidOid {
        fail(
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
                format!("attachment table \"{setting}\" does not exist"),
                function,
            )
            .set_detail(
                "Messages with binary arguments or of 8000 bytes or more are stored there. \
                 An unqualified name is looked up in the extension's schema, not in search_path.",
            )
            .set_hint(
                "CREATE EXTENSION pg_socketio creates socket_io_attachments; \
                 pg_socketio.attachment_table (superuser) names another table, as schema.table.",
            ),
        );
    }
    if unsafe { pg_sys::isAnyTempNamespace(namespace) } {
        fail(ErrorReport::new(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("attachment table \"{setting}\" is a temporary table: servers cannot read it"),
            function,
        ));
    }
    let table = AttachmentTable {
        oid,
        owner: owner_of(oid),
        name: qualified_name(namespace, oid),
    };
    check_right(&table, right, function);
    table
}

fn check_right(table: &AttachmentTable, right: Right, function: &'static str) {
    let user = unsafe { pg_sys::GetUserId() };
    let (granted, doing, role) = match right {
        Right::AddMessages => {
            let column = unsafe { pg_sys::get_attnum(table.oid, c"payload".as_ptr()) };
            if column == pg_sys::InvalidAttrNumber as pg_sys::AttrNumber {
                fail(ErrorReport::new(
                    PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
                    format!("attachment table {} has no column \"payload\"", table.name),
                    function,
                ));
            }
            // The table's privilege (which superusers and the owner have),
            // else the column's: pg_attribute_aclcheck reads the column's
            // ACL only, as the executor's own check does after the table's.
            // AclMode is u32 before PostgreSQL 16, u64 from it.
            let insert = pg_sys::ACL_INSERT as pg_sys::AclMode;
            let granted = match unsafe { pg_sys::pg_class_aclcheck(table.oid, user, insert) } {
                pg_sys::AclResult::ACLCHECK_OK => pg_sys::AclResult::ACLCHECK_OK,
                _ => unsafe { pg_sys::pg_attribute_aclcheck(table.oid, column, user, insert) },
            };
            (granted, "add messages to", "socketio_emitter")
        }
        Right::Delete => {
            let granted = unsafe {
                pg_sys::pg_class_aclcheck(table.oid, user, pg_sys::ACL_DELETE as pg_sys::AclMode)
            };
            (granted, "delete from", "socketio_server")
        }
    };
    if granted != pg_sys::AclResult::ACLCHECK_OK {
        fail(
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!(
                    "permission denied to {doing} the attachment table {}",
                    table.name
                ),
                function,
            )
            .set_hint(format!("GRANT {role} TO the role that calls {function}.")),
        );
    }
}

/// Whether CREATE EXTENSION pg_socketio ran in this database.
pub fn extension_installed() -> bool {
    unsafe { pg_sys::get_extension_oid(c"pg_socketio".as_ptr(), true) != pg_sys::InvalidOid }
}

/// The schema CREATE EXTENSION put the extension (and its table) in, or
/// InvalidOid before it. Read from pg_extension by an index scan, as
/// `get_extension_oid` reads it: the pg_extension syscache came to 15–17 in
/// 15.16, 16.12 and 17.8 (17 calls it ZEXTENSIONOID), and a library built
/// against those headers looked past the cache array of an older server
/// (scripts/older-minors.sh).
fn extension_schema() -> pg_sys::Oid {
    unsafe {
        let catalog = pg_sys::table_open(
            pg_sys::ExtensionRelationId,
            pg_sys::AccessShareLock as pg_sys::LOCKMODE,
        );
        let mut key = pg_sys::ScanKeyData::default();
        pg_sys::ScanKeyInit(
            &mut key,
            pg_sys::Anum_pg_extension_extname as pg_sys::AttrNumber,
            pg_sys::BTEqualStrategyNumber as pg_sys::StrategyNumber,
            pg_sys::RegProcedure::from(pg_sys::F_NAMEEQ),
            pg_sys::Datum::from(c"pg_socketio".as_ptr()),
        );
        let scan = pg_sys::systable_beginscan(
            catalog,
            pg_sys::Oid::from(pg_sys::ExtensionNameIndexId),
            true,
            std::ptr::null_mut(),
            1,
            &mut key,
        );
        let row = pg_sys::systable_getnext(scan);
        let schema = if row.is_null() {
            pg_sys::InvalidOid
        } else {
            (*pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_extension>(row)).extnamespace
        };
        pg_sys::systable_endscan(scan);
        pg_sys::table_close(catalog, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        schema
    }
}

fn owner_of(table: pg_sys::Oid) -> pg_sys::Oid {
    unsafe {
        syscache_field(
            pg_sys::SysCacheIdentifier::RELOID,
            table,
            |row: &pg_sys::FormData_pg_class| row.relowner,
        )
    }
}

/// A field of the catalog row with this oid; the row was just found, so it
/// exists unless dropped concurrently, which is an ERROR like any other.
///
/// # Safety
/// `T` must be the row type of `cache`.
unsafe fn syscache_field<T, R>(
    cache: pg_sys::SysCacheIdentifier::Type,
    oid: pg_sys::Oid,
    field: impl FnOnce(&T) -> R,
) -> R {
    unsafe {
        let tuple = pg_sys::SearchSysCache1(cache as i32, oid.into());
        if tuple.is_null() {
            fail(ErrorReport::new(
                PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
                format!("catalog row {} vanished while it was read", oid.to_u32()),
                "pg_socketio",
            ));
        }
        let value = field(&*pg_sys::heap_tuple_get_struct::<T>(tuple));
        pg_sys::ReleaseSysCache(tuple);
        value
    }
}

fn qualified_name(namespace: pg_sys::Oid, table: pg_sys::Oid) -> String {
    unsafe {
        let quoted = pg_sys::quote_qualified_identifier(
            pg_sys::get_namespace_name(namespace),
            pg_sys::get_rel_name(table),
        );
        CStr::from_ptr(quoted).to_string_lossy().into_owned()
    }
}

fn c_string(part: &str) -> CString {
    // A NUL cannot be in a setting's value, so cannot be in a part of it.
    CString::new(part).expect("no NUL in a setting")
}
