//! `sio_trigger`: emits row changes, called by PostgreSQL as a trigger
//! function. Each row's JSON is written once, by PostgreSQL's own
//! `row_to_json` from the tuple (so every type reads exactly as
//! `row_to_json` writes it); rooms, column filters and the event's argument
//! are made from that text (`protocol::row_change`).
//!
//! FOR EACH ROW: one message per row, to the rooms of its new and old
//! versions. FOR EACH STATEMENT with transition tables: one message per room
//! per statement, carrying every changed row of that room.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use pg_socketio_protocol::{
    filter_row, rooms_of, row_change, statement_change, Flags, Operation, RawValue, SentEvent,
    Target, TemplateError, TriggerOptions, TRIGGER_USAGE,
};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{direct_function_call, PgMemoryContexts, PgSqlErrorCode};

use crate::raise::fail;
use crate::send::publish;
use crate::trigger_check::check_definition;

const SIO_TRIGGER: &str = "sio_trigger";

thread_local! {
    /// Parsed arguments by trigger oid, kept with the arguments they came
    /// from: CREATE OR REPLACE TRIGGER keeps the oid and may change them.
    static OPTIONS: RefCell<HashMap<pg_sys::Oid, Parsed>> = RefCell::new(HashMap::new());
    /// Where `row_to_json` works, emptied after each row: the flattened
    /// tuple and the JSON's buffers would otherwise stay until the trigger
    /// returns, for every row of a statement.
    static SCRATCH: RefCell<Option<PgMemoryContexts>> = const { RefCell::new(None) };
}

/// A trigger's arguments and what they say.
type Parsed = (Vec<String>, Rc<TriggerOptions>);

#[pg_trigger]
fn sio_trigger<'a>(
    trigger: &'a pgrx::PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, std::convert::Infallible> {
    let data = trigger.trigger_data();
    let call = Call::new(data);
    call.check_execute();
    // The definition was checked when the options were first read: no
    // BEFORE, INSTEAD OF or TRUNCATE trigger gets past it.
    let options = call.options();
    let op = match data.tg_event & pg_sys::TRIGGER_EVENT_OPMASK {
        pg_sys::TRIGGER_EVENT_INSERT => "INSERT",
        pg_sys::TRIGGER_EVENT_UPDATE => "UPDATE",
        _ => "DELETE",
    };
    if data.tg_event & pg_sys::TRIGGER_EVENT_ROW != 0 {
        call.row(op, &options);
    } else {
        call.statement(op, &options);
    }
    Ok(None)
}

/// One firing of the trigger.
struct Call<'a> {
    data: &'a pg_sys::TriggerData,
    tupdesc: pg_sys::TupleDesc,
    /// The table users created the trigger on (the partitioned parent, for
    /// a trigger PostgreSQL cloned onto a partition).
    table: String,
    schema: String,
}

impl<'a> Call<'a> {
    fn new(data: &'a pg_sys::TriggerData) -> Call<'a> {
        let name = |ptr: *const std::ffi::c_char| {
            unsafe { std::ffi::CStr::from_ptr(ptr) }
                .to_string_lossy()
                .into_owned()
        };
        let (schema, table) = unsafe {
            let relation = &*(*data.tg_relation).rd_rel;
            let root = (*data.tg_trigger)
                .tgisclone
                .then(|| created_on((*data.tg_trigger).tgoid))
                .filter(|&root| root != pg_sys::InvalidOid);
            let (namespace, table) = match root {
                Some(root) => (
                    pg_sys::get_rel_namespace(root),
                    name(pg_sys::get_rel_name(root)),
                ),
                None => (relation.relnamespace, name(relation.relname.data.as_ptr())),
            };
            (name(pg_sys::get_namespace_name(namespace)), table)
        };
        Call {
            data,
            tupdesc: unsafe { (*data.tg_relation).rd_att },
            table,
            schema,
        }
    }

    fn trigger_name(&self) -> String {
        unsafe { std::ffi::CStr::from_ptr((*self.data.tg_trigger).tgname) }
            .to_string_lossy()
            .into_owned()
    }

    /// Which trigger on which table, for an error's detail.
    fn place(&self) -> String {
        format!(
            "trigger \"{}\" on table {}.{}",
            self.trigger_name(),
            self.schema,
            self.table
        )
    }

    /// 22023, naming the trigger and table, with what is allowed.
    fn misuse(&self, message: String, hint: &str) -> ! {
        fail(
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                message,
                SIO_TRIGGER,
            )
            .set_detail(self.place())
            .set_hint(hint.to_owned()),
        )
    }

    /// As when sio_trigger was PL/pgSQL calling sio_emit: the role that
    /// writes needs EXECUTE on it (socketio_emitter), not only the role
    /// that created the trigger.
    fn check_execute(&self) {
        let function = unsafe { (*self.data.tg_trigger).tgfoid };
        if !crate::acl::may_execute(function) {
            fail(
                ErrorReport::new(
                    PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                    "permission denied for function sio_trigger",
                    SIO_TRIGGER,
                )
                .set_detail(format!(
                    "Writing to {}.{} emits through trigger \"{}\".",
                    self.schema,
                    self.table,
                    self.trigger_name()
                ))
                .set_hint("GRANT socketio_emitter TO the role that writes."),
            );
        }
    }

    /// The trigger's options, its definition checked: parsed once per
    /// trigger and kept, the cache compared with the arguments in place.
    fn options(&self) -> Rc<TriggerOptions> {
        let trigger = unsafe { &*self.data.tg_trigger };
        let args = || {
            (0..trigger.tgnargs as usize)
                .map(|i| unsafe { std::ffi::CStr::from_ptr(*trigger.tgargs.add(i)) })
        };
        if let Some(options) = OPTIONS.with_borrow(|cache| {
            cache
                .get(&trigger.tgoid)
                .filter(|(cached, _)| {
                    cached.len() == trigger.tgnargs as usize
                        && cached
                            .iter()
                            .zip(args())
                            .all(|(c, a)| c.as_bytes() == a.to_bytes())
                })
                .map(|(_, options)| options.clone())
        }) {
            return options;
        }
        let owned: Vec<String> = args().map(|a| a.to_string_lossy().into_owned()).collect();
        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
        let transition_tables = !trigger.tgnewtable.is_null() || !trigger.tgoldtable.is_null();
        let options = check_definition(trigger.tgtype, transition_tables, &refs, &self.table)
            .map(Rc::new)
            .unwrap_or_else(|(code, message)| {
                fail(
                    ErrorReport::new(code, message, SIO_TRIGGER)
                        .set_detail(self.place())
                        .set_hint(format!("EXECUTE FUNCTION {TRIGGER_USAGE}")),
                )
            });
        OPTIONS.with_borrow_mut(|cache| cache.insert(trigger.tgoid, (owned, options.clone())));
        options
    }

    fn rooms(&self, row: Option<&str>, options: &TriggerOptions) -> Vec<String> {
        let Some(row) = row else { return Vec::new() };
        rooms_of(row, &options.rooms).unwrap_or_else(|e| match &e {
            TemplateError::NoColumn(column) => fail(
                ErrorReport::new(
                    PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
                    e.to_string(),
                    SIO_TRIGGER,
                )
                .set_detail(format!(
                    "trigger \"{}\" on table {}.{}, which has no column \"{column}\"",
                    self.trigger_name(),
                    self.schema,
                    self.table
                )),
            ),
            other => self.misuse(other.to_string(), TRIGGER_USAGE),
        })
    }

    fn filtered<'r>(
        &self,
        row: Option<&'r str>,
        options: &TriggerOptions,
    ) -> Option<std::borrow::Cow<'r, str>> {
        row.map(|row| {
            filter_row(row, &options.columns).unwrap_or_else(|problem| {
                fail(
                    ErrorReport::new(
                        PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
                        format!("sio_trigger's column filter names a {problem}"),
                        SIO_TRIGGER,
                    )
                    .set_detail(self.place()),
                )
            })
        })
    }

    fn row(&self, op: &str, options: &TriggerOptions) {
        let data = self.data;
        let (new, old) = match op {
            "INSERT" => (Some(data.tg_trigtuple), None),
            "UPDATE" => (Some(data.tg_newtuple), Some(data.tg_trigtuple)),
            _ => (None, Some(data.tg_trigtuple)),
        };
        // The rows' text is read where row_to_json wrote it and let go of
        // once the payload holds it: a large row is not copied once more.
        let message = in_scratch(|scratch| {
            let new = new.map(|tuple| self.row_text(scratch, tuple));
            let old = old.map(|tuple| self.row_text(scratch, tuple));
            let mut rooms = self.rooms(new, options);
            for room in self.rooms(old, options) {
                if !rooms.contains(&room) {
                    rooms.push(room);
                }
            }
            (!rooms.is_empty()).then(|| {
                let payload = row_change(
                    op,
                    &self.schema,
                    &self.table,
                    self.filtered(new, options).as_deref(),
                    self.filtered(old, options).as_deref(),
                );
                (rooms, payload)
            })
        });
        if let Some((rooms, payload)) = message {
            self.emit(&rooms, payload, options);
        }
    }

    fn statement(&self, op: &str, options: &TriggerOptions) {
        let data = self.data;
        let new = if op == "DELETE" {
            Vec::new()
        } else {
            self.table_rows(data.tg_newtable)
        };
        let old = if op == "INSERT" {
            Vec::new()
        } else {
            self.table_rows(data.tg_oldtable)
        };
        // UPDATE's transition tables hold old and new versions in the same
        // order, so the i-th of each are one row.
        let count = new.len().max(old.len());
        // Rooms in the order rows first name them, each with its rows.
        let mut by_room: Vec<(String, Vec<usize>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for i in 0..count {
            let mut rooms = self.rooms(new.get(i).map(String::as_str), options);
            for room in self.rooms(old.get(i).map(String::as_str), options) {
                if !rooms.contains(&room) {
                    rooms.push(room);
                }
            }
            for room in rooms {
                match index.get(&room) {
                    Some(&at) => by_room[at].1.push(i),
                    None => {
                        index.insert(room.clone(), by_room.len());
                        by_room.push((room, vec![i]));
                    }
                }
            }
        }
        let new: Vec<_> = new
            .iter()
            .map(|r| self.filtered(Some(r), options))
            .collect();
        let old: Vec<_> = old
            .iter()
            .map(|r| self.filtered(Some(r), options))
            .collect();
        for (room, rows) in by_room {
            let payload = statement_change(
                op,
                &self.schema,
                &self.table,
                rows.iter().map(|&i| {
                    (
                        new.get(i).and_then(|r| r.as_deref()),
                        old.get(i).and_then(|r| r.as_deref()),
                    )
                }),
            );
            self.emit(&[room], payload, options);
        }
    }

    /// Every row of a transition table as JSON, in order.
    fn table_rows(&self, store: *mut pg_sys::Tuplestorestate) -> Vec<String> {
        if store.is_null() {
            return Vec::new();
        }
        let mut rows = Vec::new();
        unsafe {
            // A read pointer of its own, as a scan of the table in SQL takes.
            let pointer =
                pg_sys::tuplestore_alloc_read_pointer(store, pg_sys::EXEC_FLAG_REWIND as i32);
            pg_sys::tuplestore_select_read_pointer(store, pointer);
            pg_sys::tuplestore_rescan(store);
            let slot = pg_sys::MakeSingleTupleTableSlot(self.tupdesc, &pg_sys::TTSOpsMinimalTuple);
            while pg_sys::tuplestore_gettupleslot(store, true, false, slot) {
                let mut free = false;
                let tuple = pg_sys::ExecFetchSlotHeapTuple(slot, false, &mut free);
                rows.push(self.row_json(tuple));
                if free {
                    pg_sys::heap_freetuple(tuple);
                }
            }
            pg_sys::ExecDropSingleTupleTableSlot(slot);
            pg_sys::tuplestore_select_read_pointer(store, 0);
        }
        rows
    }

    /// The row as `row_to_json` writes it.
    fn row_json(&self, tuple: pg_sys::HeapTuple) -> String {
        in_scratch(|scratch| self.row_text(scratch, tuple).to_owned())
    }

    /// The row as `row_to_json` writes it, in the scratch context: borrowed
    /// from `in_scratch`'s token, so it cannot outlive the context's reset.
    fn row_text<'s>(&self, _: &'s Scratch, tuple: pg_sys::HeapTuple) -> &'s str {
        unsafe {
            let datum = pg_sys::heap_copy_tuple_as_datum(tuple, self.tupdesc);
            direct_function_call::<&str>(pg_sys::row_to_json, &[Some(datum)])
                .expect("row_to_json of a row is not NULL")
        }
    }

    fn emit(&self, rooms: &[String], payload: String, options: &TriggerOptions) {
        let arg = RawValue::from_string(payload).expect("row_to_json and row_change write JSON");
        let args: [&RawValue; 1] = [&arg];
        let rooms: Vec<&str> = rooms.iter().map(String::as_str).collect();
        let target = Target {
            nsp: &options.nsp,
            rooms: &rooms,
            except: &[],
        };
        let op = Operation::Emit {
            event: SentEvent::new(options.event.as_deref().unwrap_or(&self.table), &args),
            flags: Flags::default(),
        };
        publish(target, op, SIO_TRIGGER);
    }
}

/// Stands for the scratch context's memory while `in_scratch` runs: what
/// borrows it cannot be returned from there.
struct Scratch;

/// Runs `f` in the scratch memory context, emptied before (an ERROR may
/// have left something behind) and after.
fn in_scratch<R>(f: impl FnOnce(&Scratch) -> R) -> R {
    SCRATCH.with_borrow_mut(|scratch| {
        let scratch = scratch.get_or_insert_with(|| unsafe {
            // The backend's life long: made once, emptied per row.
            PgMemoryContexts::TopMemoryContext
                .switch_to(|_| PgMemoryContexts::new("sio_trigger rows"))
        });
        unsafe {
            scratch.reset();
            let out = scratch.switch_to(|_| f(&Scratch));
            scratch.reset();
            out
        }
    })
}

thread_local! {
    /// `created_on`'s answers by trigger oid: a clone's parent never changes.
    static ROOTS: RefCell<HashMap<pg_sys::Oid, pg_sys::Oid>> = RefCell::new(HashMap::new());
}

/// The table a trigger that PostgreSQL cloned onto a partition was created
/// on (a partitioned table), following `tgparentid` up.
fn created_on(trigger: pg_sys::Oid) -> pg_sys::Oid {
    if let Some(root) = ROOTS.with_borrow(|roots| roots.get(&trigger).copied()) {
        return root;
    }
    // Names qualified, operators too: the caller's search_path is not ours.
    let root = Spi::get_one_with_args::<pg_sys::Oid>(
        "WITH RECURSIVE up AS (
           SELECT tgrelid, tgparentid FROM pg_catalog.pg_trigger
            WHERE oid OPERATOR(pg_catalog.=) $1
           UNION ALL
           SELECT t.tgrelid, t.tgparentid FROM pg_catalog.pg_trigger t
             JOIN up ON t.oid OPERATOR(pg_catalog.=) up.tgparentid)
         SELECT tgrelid FROM up WHERE tgparentid OPERATOR(pg_catalog.=) 0",
        &[trigger.into()],
    )
    .ok()
    .flatten()
    .unwrap_or(pg_sys::InvalidOid);
    ROOTS.with_borrow_mut(|roots| roots.insert(trigger, root));
    root
}
