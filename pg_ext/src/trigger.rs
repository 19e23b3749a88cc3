//! `sio_trigger`: emits row changes, called by PostgreSQL as a trigger
//! function. Each row's columns are read from the tuple as `row_to_json`
//! would write them (`row_values`); rooms are rendered from those values,
//! and the event's argument is written once, with only the sent columns
//! (`protocol::row_change`).
//!
//! FOR EACH ROW: one message per row, to the rooms of its new and old
//! versions. FOR EACH STATEMENT with transition tables: one message per room
//! per statement, carrying every changed row of that room.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use pg_socketio_protocol::{
    union, ChangeJson, Flags, Operation, RowChange, SentEvent, StatementRows, Target,
    TemplateError, TriggerOptions, Version, TRIGGER_USAGE,
};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{PgMemoryContexts, PgSqlErrorCode};

use crate::raise::{fail, OrRaise};
use crate::row_values::{Layout, NoColumn, Values};
use crate::scratch::{in_scratch, Scratch};
use crate::send::{prepare, Prepared};
use crate::transition_table::TransitionTable;
use crate::trigger_check::check_definition;

const SIO_TRIGGER: &str = "sio_trigger";

thread_local! {
    /// Parsed arguments by trigger oid, kept with the arguments they came
    /// from: CREATE OR REPLACE TRIGGER keeps the oid and may change them.
    static OPTIONS: RefCell<HashMap<pg_sys::Oid, Parsed>> = RefCell::new(HashMap::new());
    /// Column layouts by trigger oid, kept with the options they were made
    /// for; remade when the table's columns change.
    static LAYOUTS: RefCell<HashMap<pg_sys::Oid, MadeFor>> = RefCell::new(HashMap::new());
}

/// A layout and the options it was made for.
type MadeFor = (Rc<TriggerOptions>, Rc<Layout>);

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
    let layout = call.layout(&options);
    let op = match data.tg_event & pg_sys::TRIGGER_EVENT_OPMASK {
        pg_sys::TRIGGER_EVENT_INSERT => "INSERT",
        pg_sys::TRIGGER_EVENT_UPDATE => "UPDATE",
        _ => "DELETE",
    };
    if data.tg_event & pg_sys::TRIGGER_EVENT_ROW != 0 {
        call.row(op, &options, &layout);
    } else {
        call.statement(op, &options, &layout);
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

    /// The columns as this trigger reads and sends them, made when the
    /// trigger or the table changed.
    fn layout(&self, options: &Rc<TriggerOptions>) -> Rc<Layout> {
        let trigger = unsafe { (*self.data.tg_trigger).tgoid };
        let cached = LAYOUTS.with_borrow(|cache| {
            cache
                .get(&trigger)
                .filter(|(made_for, layout)| {
                    Rc::ptr_eq(made_for, options) && unsafe { layout.fits(self.tupdesc) }
                })
                .map(|(_, layout)| layout.clone())
        });
        if let Some(layout) = cached {
            return layout;
        }
        let layout = unsafe { Layout::new(self.tupdesc, options) }
            .map(Rc::new)
            .unwrap_or_else(|missing| self.no_column(missing));
        LAYOUTS.with_borrow_mut(|cache| cache.insert(trigger, (options.clone(), layout.clone())));
        layout
    }

    /// 42703: a template or filter names a column the table does not have
    /// (any more: CREATE TRIGGER checked it).
    fn no_column(&self, missing: NoColumn) -> ! {
        let message = if missing.in_filter {
            format!(
                "sio_trigger's column filter names column \"{}\", which the table does not have",
                missing.name
            )
        } else {
            TemplateError::NoColumn(missing.name.clone()).to_string()
        };
        fail(
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
                message,
                SIO_TRIGGER,
            )
            .set_detail(format!(
                "trigger \"{}\" on table {}.{}, which has no column \"{}\"",
                self.trigger_name(),
                self.schema,
                self.table,
                missing.name
            )),
        )
    }

    fn row(&self, op: &str, options: &TriggerOptions, layout: &Layout) {
        let data = self.data;
        let (new, old) = match op {
            "INSERT" => (Some(data.tg_trigtuple), None),
            "UPDATE" => (Some(data.tg_newtuple), Some(data.tg_trigtuple)),
            _ => (None, Some(data.tg_trigtuple)),
        };
        let outer = unsafe { pg_sys::CurrentMemoryContext };
        // The row is read, and its message written, in the scratch context;
        // the message is handed to PostgreSQL after that is emptied, so a
        // large row is held once by the INSERT of its attachment, not more.
        let prepared = in_scratch(|scratch| {
            let new = new.map(|tuple| self.tuple_values(scratch, tuple, layout));
            let old = old.map(|tuple| self.tuple_values(scratch, tuple, layout));
            let rooms_of = |values: Option<&Values>| values.map_or(Vec::new(), |v| layout.rooms(v));
            let (new_rooms, old_rooms) = (rooms_of(new.as_ref()), rooms_of(old.as_ref()));
            let rooms: Vec<&str> = union(&new_rooms, &old_rooms).map(String::as_str).collect();
            if rooms.is_empty() {
                return None;
            }
            let (new_row, old_row) = (
                new.as_ref().map(|v| layout.sent(v)),
                old.as_ref().map(|v| layout.sent(v)),
            );
            let change = RowChange::new(
                op,
                &self.schema,
                &self.table,
                new_row.as_ref(),
                old_row.as_ref(),
            );
            let payload = change.write(scratch.buffer(change.len()));
            drop((new_row, old_row, new, old));
            Some(unsafe {
                PgMemoryContexts::For(outer).switch_to(|_| self.prepare(&rooms, &payload, options))
            })
        });
        if let Some(prepared) = prepared {
            prepared.send();
        }
    }

    /// Reads the NEW and OLD tables side by side (the i-th rows of each are
    /// one row's two versions) and sends one message per room; once the
    /// rows held reach `pg_socketio.statement_memory`, it sends what it has
    /// and goes on with the next rows, so that a statement of any size is
    /// sent in bounded memory, as several messages per room.
    fn statement(&self, op: &str, options: &TriggerOptions, layout: &Layout) {
        let data = self.data;
        let open = |wanted: bool, store| {
            // SAFETY: the firing trigger's own transition tables, of its table.
            wanted
                .then(|| unsafe { TransitionTable::open(store, self.tupdesc) })
                .flatten()
        };
        let mut tables = [
            (open(op != "DELETE", data.tg_newtable), Version::New),
            (open(op != "INSERT", data.tg_oldtable), Version::Old),
        ];
        let limit = crate::settings::statement_memory();
        let mut rows = StatementRows::default();
        loop {
            let mut read = false;
            for (table, version) in &mut tables {
                if let Some((datums, nulls)) = table.as_mut().and_then(TransitionTable::next) {
                    add_row(*version, layout, datums, nulls, &mut rows);
                    read = true;
                }
            }
            if read && rows.held() < limit {
                continue;
            }
            for (room, indexes) in rows.by_room().or_raise(SIO_TRIGGER) {
                let payload = rows
                    .change(op, &self.schema, &self.table, &indexes)
                    .or_raise(SIO_TRIGGER);
                self.prepare(&[room], &payload, options).send();
            }
            if !read {
                break;
            }
            rows.clear();
        }
        for table in tables.into_iter().filter_map(|(table, _)| table) {
            table.close();
        }
    }

    /// A trigger tuple's values.
    fn tuple_values<'s>(
        &self,
        scratch: &'s Scratch,
        tuple: pg_sys::HeapTuple,
        layout: &Layout,
    ) -> Values<'s> {
        let natts = unsafe { (*self.tupdesc).natts as usize };
        let mut datums = vec![pg_sys::Datum::from(0); natts];
        let mut nulls = vec![true; natts];
        unsafe {
            pg_sys::heap_deform_tuple(tuple, self.tupdesc, datums.as_mut_ptr(), nulls.as_mut_ptr());
            Values::read(scratch, layout, &datums, &nulls)
        }
    }

    /// The change's message, encoded and written, for `send` later.
    fn prepare(&self, rooms: &[&str], payload: &ChangeJson, options: &TriggerOptions) -> Prepared {
        let args = [payload];
        let target = Target {
            nsp: &options.nsp,
            rooms,
            except: &[],
        };
        let op = Operation::Emit {
            event: SentEvent::new(options.event.as_deref().unwrap_or(&self.table), &args),
            flags: Flags::default(),
        };
        prepare(target, op, SIO_TRIGGER)
    }
}

/// Adds one row of a transition table, and its rooms, to `rows`.
fn add_row(
    version: Version,
    layout: &Layout,
    datums: &[pg_sys::Datum],
    nulls: &[bool],
    rows: &mut StatementRows,
) {
    in_scratch(|scratch| {
        // SAFETY: the datums are of the trigger's table, valid until the
        // table's next row is read.
        let values = unsafe { Values::read(scratch, layout, datums, nulls) };
        rows.add_row(version, &layout.sent(&values))
            .or_raise(SIO_TRIGGER);
        let mut added = Ok(());
        layout.each_room(&values, |room| {
            if added.is_ok() {
                added = rows.add_room(version, room);
            }
        });
        added.or_raise(SIO_TRIGGER);
    });
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
