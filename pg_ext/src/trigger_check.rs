//! `CREATE TRIGGER ... EXECUTE FUNCTION sio_trigger(...)` is checked when it
//! runs, not at the table's first write: an event trigger at the end of
//! every CREATE TRIGGER looks at the triggers it made, and fails the
//! statement (22023, 42703) when one of them is an sio_trigger that could
//! never emit. Other triggers are left alone.

use pg_socketio_protocol::{TriggerOptions, RESERVED_EVENTS, TRIGGER_USAGE};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

use crate::raise::fail;

// pg_trigger.tgtype bits (catalog/pg_trigger.h).
const ROW: i16 = 1 << 0;
const BEFORE: i16 = 1 << 1;
const TRUNCATE: i16 = 1 << 5;
const INSTEAD: i16 = 1 << 6;

extension_sql!(
    r#"
CREATE FUNCTION @extschema@.sio_check_triggers() RETURNS event_trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'sio_check_triggers';
CREATE EVENT TRIGGER pg_socketio_check_triggers ON ddl_command_end
    WHEN TAG IN ('CREATE TRIGGER')
    EXECUTE FUNCTION @extschema@.sio_check_triggers();
"#,
    name = "check_triggers"
);

#[unsafe(no_mangle)]
pub extern "C" fn pg_finfo_sio_check_triggers() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn sio_check_triggers(_fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // Names and operators qualified: the caller's search_path is not ours.
    let made = Spi::connect(|client| {
        client
            .select(
                "SELECT t.tgname::text, c.relname::text, n.nspname::text, t.tgtype, t.tgargs,
                        t.tgnewtable IS NOT NULL OR t.tgoldtable IS NOT NULL,
                        ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                               WHERE a.attrelid OPERATOR(pg_catalog.=) t.tgrelid
                                 AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped),
                        ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                               WHERE a.attrelid OPERATOR(pg_catalog.=) t.tgrelid
                                 AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
                                 AND a.attgenerated OPERATOR(pg_catalog.=) 'v')
                   FROM pg_catalog.pg_event_trigger_ddl_commands() d
                   JOIN pg_catalog.pg_trigger t ON t.oid OPERATOR(pg_catalog.=) d.objid
                   JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) t.tgfoid
                   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.tgrelid
                   JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                  WHERE d.object_type OPERATOR(pg_catalog.=) 'trigger'
                    AND p.prosrc OPERATOR(pg_catalog.=) 'sio_trigger_wrapper'",
                None,
                &[],
            )?
            .map(|row| {
                Ok(Made {
                    trigger: row.get(1)?.unwrap_or_default(),
                    table: row.get(2)?.unwrap_or_default(),
                    schema: row.get(3)?.unwrap_or_default(),
                    tgtype: row.get(4)?.unwrap_or_default(),
                    args: split_args(&row.get::<Vec<u8>>(5)?.unwrap_or_default()),
                    transition_tables: row.get(6)?.unwrap_or_default(),
                    columns: row.get(7)?.unwrap_or_default(),
                    virtual_columns: row.get(8)?.unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<Made>, pgrx::spi::SpiError>>()
    })
    .unwrap_or_else(|e| panic!("reading the triggers CREATE TRIGGER made: {e}"));
    for made in made {
        made.check();
    }
    pg_sys::Datum::from(0)
}

/// An sio_trigger that CREATE TRIGGER made.
struct Made {
    trigger: String,
    table: String,
    schema: String,
    tgtype: i16,
    args: Vec<String>,
    transition_tables: bool,
    columns: Vec<String>,
    /// PostgreSQL 18's virtual generated columns.
    virtual_columns: Vec<String>,
}

impl Made {
    fn check(&self) {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let options = check_definition(self.tgtype, self.transition_tables, &args, &self.table)
            .unwrap_or_else(|(code, message)| self.refuse(code, message));
        if let Some(missing) = options
            .named_columns()
            .into_iter()
            .find(|c| !self.columns.iter().any(|have| have == c))
        {
            self.refuse(
                PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
                format!("sio_trigger names column \"{missing}\", which the table does not have"),
            );
        }
        // A virtual generated column is NULL in every trigger's row: a room
        // template naming one would never name a room.
        if let Some(column) = options
            .room_columns()
            .into_iter()
            .find(|c| self.virtual_columns.iter().any(|v| v == c))
        {
            self.refuse(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                format!(
                    "sio_trigger's room template names column \"{column}\", a virtual generated \
                     column: PostgreSQL does not compute those for triggers, so it would never \
                     name a room (make the column STORED, or name another)"
                ),
            );
        }
    }

    fn refuse(&self, code: PgSqlErrorCode, message: String) -> ! {
        fail(
            ErrorReport::new(code, message, "sio_trigger")
                .set_detail(format!(
                    "trigger \"{}\" on table {}.{}, checked at CREATE TRIGGER",
                    self.trigger, self.schema, self.table
                ))
                .set_hint(format!("EXECUTE FUNCTION {TRIGGER_USAGE}")),
        )
    }
}

/// What makes an sio_trigger's definition unable to emit, wherever it is
/// looked at: at CREATE TRIGGER (above), and when a trigger made before
/// this check fires (`trigger.rs`). `tgtype` is pg_trigger's; `table`, the
/// table whose name is the default event.
pub(crate) fn check_definition(
    tgtype: i16,
    transition_tables: bool,
    args: &[&str],
    table: &str,
) -> Result<TriggerOptions, (PgSqlErrorCode, String)> {
    let misuse = |message: String| Err((PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, message));
    if tgtype & (BEFORE | INSTEAD) != 0 {
        return misuse(
            "sio_trigger must be an AFTER trigger: it emits what was committed, not what may \
             still change"
                .into(),
        );
    }
    if tgtype & TRUNCATE != 0 {
        return misuse(
            "sio_trigger cannot emit TRUNCATE: it has no rows to name rooms from".into(),
        );
    }
    if tgtype & ROW == 0 && !transition_tables {
        return misuse(
            "sio_trigger FOR EACH STATEMENT needs the statement's transition tables".into(),
        );
    }
    let options = match TriggerOptions::parse(args) {
        Ok(options) => options,
        Err(problem) => return misuse(format!("sio_trigger's arguments are invalid: {problem}")),
    };
    if options.event.is_none() && RESERVED_EVENTS.contains(&table) {
        return misuse(format!(
            "table \"{table}\" is named like a reserved event, which Socket.IO cannot emit"
        ));
    }
    Ok(options)
}

/// pg_trigger.tgargs: each argument followed by a NUL.
fn split_args(raw: &[u8]) -> Vec<String> {
    raw.split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .split_last()
        .map(|(_, args)| args.to_vec())
        .unwrap_or_default()
}
