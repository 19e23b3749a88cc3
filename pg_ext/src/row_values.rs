//! A row's columns read straight from the tuple as `row_to_json` would
//! write them (`protocol::ColumnValue`), without `row_to_json`: it flattens
//! the whole tuple and grows its text by doubling, so a 100 MB row was held
//! three times over. Here a large text column is detoasted once, borrowed
//! while the message is written, and let go right after.
//!
//! Each column type is written the way PostgreSQL's `datum_to_json` writes
//! it (utils/adt/json.c), decided once per column: integers, booleans,
//! text and `json` here; numbers, `jsonb` and other built-in scalars by
//! their output functions; dates and timestamps by `JsonEncodeDateTime`;
//! arrays, composites and types of extensions (which may have a cast to
//! `json`) by PostgreSQL's own `to_json`.

use pg_socketio_protocol::{
    is_json_number, member_key, ColumnValue, Columns, DatumKind, RoomTemplates, TemplateError,
    TriggerOptions,
};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{PgSqlErrorCode, PgTupleDesc};

use crate::raise::fail;
use crate::scratch::Scratch;

/// How a column's values are written.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Bool,
    Int2,
    Int4,
    Int8,
    /// `float4`, `float8`: their output, quoted unless it is a JSON number
    /// (`NaN`, `Infinity` are not).
    Number(pg_sys::Oid),
    /// `numeric`: written from its bytes as `numeric_out` writes it; the
    /// output function's text, as for `Number`, for NaN and the infinities.
    Numeric(pg_sys::Oid),
    /// `text`, `varchar`, `bpchar`: the stored text, quoted.
    Text,
    /// `json`: the stored text as it is.
    Json,
    /// `jsonb`: its output as it is, written from its bytes where
    /// `DatumText` can.
    Jsonb(pg_sys::Oid),
    /// `date`, `timestamp`, `timestamptz`: ISO 8601, quoted.
    DateTime(pg_sys::Oid),
    /// Other built-in scalars: their output, quoted.
    Other(pg_sys::Oid),
    /// Arrays, composites, extensions' types: `to_json`.
    ToJson,
}

/// A table's columns as a trigger writes them: which are sent and which
/// are read (sent, or named by a room template). Made once per trigger and
/// table definition.
pub struct Layout {
    columns: Vec<Column>,
    templates: RoomTemplates,
}

struct Column {
    name: String,
    /// `"name":`
    key: String,
    typid: pg_sys::Oid,
    typmod: i32,
    collation: pg_sys::Oid,
    dropped: bool,
    /// PostgreSQL 18's virtual generated column: triggers never see its
    /// value (its content in a trigger's tuple is undefined), so it is NULL.
    virtual_generated: bool,
    kind: Kind,
    sent: bool,
    read: bool,
}

/// A filter or template names a column the table does not have.
pub struct NoColumn {
    pub name: String,
    pub in_filter: bool,
}

impl Layout {
    /// # Safety
    /// `tupdesc` is a valid tuple descriptor.
    pub unsafe fn new(
        tupdesc: pg_sys::TupleDesc,
        options: &TriggerOptions,
    ) -> Result<Layout, NoColumn> {
        let mut columns: Vec<Column> = unsafe { attributes(tupdesc) }
            .map(|a| {
                let name = unsafe { std::ffi::CStr::from_ptr(a.attname.data.as_ptr()) }
                    .to_string_lossy()
                    .into_owned();
                let sent = !a.attisdropped
                    && match &options.columns {
                        Columns::All => true,
                        Columns::Only(list) => list.contains(&name),
                        Columns::AllBut(list) => !list.contains(&name),
                    };
                Column {
                    key: member_key(&name),
                    typid: a.atttypid,
                    typmod: a.atttypmod,
                    collation: a.attcollation,
                    dropped: a.attisdropped,
                    virtual_generated: is_virtual_generated(a),
                    kind: if a.attisdropped {
                        Kind::ToJson
                    } else {
                        unsafe { kind_of(a.atttypid) }
                    },
                    sent,
                    read: sent,
                    name,
                }
            })
            .collect();
        if let Columns::Only(list) | Columns::AllBut(list) = &options.columns {
            if let Some(missing) = list.iter().find(|name| position(&columns, name).is_none()) {
                return Err(NoColumn {
                    name: missing.clone(),
                    in_filter: true,
                });
            }
        }
        let templates = RoomTemplates::compile(&options.rooms, |name| position(&columns, name))
            .map_err(|e| match e {
                TemplateError::NoColumn(name) => NoColumn {
                    name,
                    in_filter: false,
                },
                // CREATE TRIGGER and the options' parsing checked the syntax.
                other => unreachable!("{other}"),
            })?;
        for at in templates.columns() {
            columns[at].read = true;
        }
        Ok(Layout { columns, templates })
    }

    /// Whether the table still has the columns this layout was made from.
    ///
    /// # Safety
    /// `tupdesc` is a valid tuple descriptor.
    pub unsafe fn fits(&self, tupdesc: pg_sys::TupleDesc) -> bool {
        let attributes = unsafe { attributes(tupdesc) };
        attributes.len() == self.columns.len()
            && attributes.zip(&self.columns).all(|(a, c)| {
                a.atttypid == c.typid
                    && a.attisdropped == c.dropped
                    && is_virtual_generated(a) == c.virtual_generated
                    && unsafe { std::ffi::CStr::from_ptr(a.attname.data.as_ptr()) }.to_bytes()
                        == c.name.as_bytes()
            })
    }

    /// The rooms of a row's values, each once.
    pub fn rooms(&self, values: &Values) -> Vec<String> {
        self.templates
            .rooms(|at| values.get(at).expect("a template's column is read"))
    }

    /// Calls `found` with each room of a row's values (see
    /// `RoomTemplates::each_room`).
    pub fn each_room(&self, values: &Values, found: impl FnMut(&str)) {
        self.templates.each_room(
            |at| values.get(at).expect("a template's column is read"),
            found,
        )
    }

    /// The row's sent columns as JSON members, in column order.
    pub fn sent<'v>(&'v self, values: &Values<'v>) -> pg_socketio_protocol::Row<'v> {
        // Sized once: a statement makes one per row, and growing it was
        // 3 % of a statement-mode UPDATE (perf).
        let mut members = Vec::with_capacity(self.columns.len());
        members.extend(
            self.columns
                .iter()
                .zip(&values.values)
                .filter(|(c, _)| c.sent)
                .map(|(c, v)| (c.key.as_str(), v.expect("a sent column is read"))),
        );
        pg_socketio_protocol::Row { members }
    }
}

/// The attribute index of the column called `name`.
fn position(columns: &[Column], name: &str) -> Option<usize> {
    columns.iter().position(|c| !c.dropped && c.name == name)
}

/// # Safety
/// `tupdesc` is a valid tuple descriptor.
unsafe fn attributes(
    tupdesc: pg_sys::TupleDesc,
) -> impl ExactSizeIterator<Item = &'static pg_sys::FormData_pg_attribute> {
    // pgrx knows where each major version keeps the attributes.
    let desc = unsafe { PgTupleDesc::from_pg_unchecked(tupdesc) };
    (0..desc.len()).map(move |i| {
        let attribute: *const pg_sys::FormData_pg_attribute =
            desc.get(i).expect("an attribute below natts");
        // SAFETY: the attribute lives in the descriptor, not in `desc`.
        unsafe { &*attribute }
    })
}

/// `attgenerated` of a virtual generated column (`ATTRIBUTE_GENERATED_VIRTUAL`,
/// PostgreSQL 18; earlier majors have stored ones only).
fn is_virtual_generated(attribute: &pg_sys::FormData_pg_attribute) -> bool {
    attribute.attgenerated == b'v' as std::ffi::c_char
}

/// As `json_categorize_type` decides, domains looked through.
unsafe fn kind_of(typid: pg_sys::Oid) -> Kind {
    let base = unsafe { pg_sys::getBaseType(typid) };
    let output = || {
        let (mut function, mut varlena) = (pg_sys::InvalidOid, false);
        unsafe { pg_sys::getTypeOutputInfo(base, &mut function, &mut varlena) };
        function
    };
    match base {
        pg_sys::BOOLOID => Kind::Bool,
        pg_sys::INT2OID => Kind::Int2,
        pg_sys::INT4OID => Kind::Int4,
        pg_sys::INT8OID => Kind::Int8,
        pg_sys::FLOAT4OID | pg_sys::FLOAT8OID => Kind::Number(output()),
        pg_sys::NUMERICOID => Kind::Numeric(output()),
        pg_sys::TEXTOID | pg_sys::VARCHAROID | pg_sys::BPCHAROID => Kind::Text,
        pg_sys::JSONOID => Kind::Json,
        pg_sys::JSONBOID => Kind::Jsonb(output()),
        pg_sys::DATEOID | pg_sys::TIMESTAMPOID | pg_sys::TIMESTAMPTZOID => Kind::DateTime(base),
        _ if base.to_u32() >= pg_sys::FirstNormalObjectId
            || unsafe { pg_sys::get_element_type(base) } != pg_sys::InvalidOid
            || unsafe { pg_sys::type_is_rowtype(base) } =>
        {
            Kind::ToJson
        }
        _ => Kind::Other(output()),
    }
}

/// A row's values, read in the current memory context, which must outlive
/// them (the trigger's scratch context). What was detoasted or written for
/// them is freed when they are dropped: a large column is let go as soon as
/// the message holds it.
pub struct Values<'s> {
    /// By attribute; `None` for a column that is not read.
    values: Vec<Option<ColumnValue<'s>>>,
    allocated: Vec<*mut std::ffi::c_void>,
}

impl<'s> Values<'s> {
    /// Reads the columns `layout` reads from `datums` and `nulls` (one of
    /// each per attribute). `_scratch` is what the values borrow.
    ///
    /// # Safety
    /// The datums are of the layout's table, valid while `'s` lasts.
    pub unsafe fn read(
        _scratch: &'s Scratch,
        layout: &Layout,
        datums: &[pg_sys::Datum],
        nulls: &[bool],
    ) -> Values<'s> {
        let mut values = Values {
            values: Vec::with_capacity(layout.columns.len()),
            // About one allocation per column read: sized once.
            allocated: Vec::with_capacity(layout.columns.len()),
        };
        for ((column, &datum), &null) in layout.columns.iter().zip(datums).zip(nulls) {
            let value = match (column.read, null || column.virtual_generated) {
                (false, _) => None,
                (true, true) => Some(ColumnValue::Null),
                (true, false) => Some(unsafe { values.value(column, datum) }),
            };
            values.values.push(value);
        }
        values
    }

    /// The value of attribute `index`, if it was read.
    pub fn get(&self, index: usize) -> Option<ColumnValue<'s>> {
        self.values.get(index).copied().flatten()
    }

    unsafe fn value(&mut self, column: &Column, datum: pg_sys::Datum) -> ColumnValue<'s> {
        unsafe {
            match column.kind {
                Kind::Bool => ColumnValue::Json(if datum.value() != 0 { "true" } else { "false" }),
                Kind::Int2 => self.integer(i64::from(datum.value() as i16)),
                Kind::Int4 => self.integer(i64::from(datum.value() as i32)),
                Kind::Int8 => self.integer(datum.value() as i64),
                Kind::Number(output) => self.number(output, datum),
                Kind::Text => ColumnValue::Text(self.text(datum)),
                Kind::Json => ColumnValue::Json(self.text(datum)),
                Kind::Numeric(output) => match self.written_here(datum, DatumKind::Numeric) {
                    Some(text) => ColumnValue::Json(text),
                    // NaN and the infinities: quoted.
                    None => self.number(output, datum),
                },
                Kind::Jsonb(output) => ColumnValue::Json(
                    self.written_here(datum, DatumKind::Jsonb)
                        .unwrap_or_else(|| self.output(output, datum)),
                ),
                Kind::DateTime(typid) => {
                    let buf = self.alloc(pg_sys::MAXDATELEN as usize + 1);
                    pg_sys::JsonEncodeDateTime(buf.cast(), datum, typid, std::ptr::null());
                    ColumnValue::Text(self.c_str(buf.cast()))
                }
                Kind::Other(output) => ColumnValue::Text(self.output(output, datum)),
                Kind::ToJson => ColumnValue::Json(self.pg_to_json(column, datum)),
            }
        }
    }

    /// A number's output, quoted unless it is a JSON number.
    unsafe fn number(&mut self, output: pg_sys::Oid, datum: pg_sys::Datum) -> ColumnValue<'s> {
        let text = unsafe { self.output(output, datum) };
        if is_json_number(text) {
            ColumnValue::Json(text)
        } else {
            ColumnValue::Text(text)
        }
    }

    /// The value's text written by the extension, in the scratch context.
    unsafe fn written_here(&mut self, datum: pg_sys::Datum, kind: DatumKind) -> Option<&'s str> {
        unsafe {
            crate::datum_text::written_here(datum.cast_mut_ptr(), kind, |len| self.alloc(len))
        }
    }

    fn integer(&mut self, n: i64) -> ColumnValue<'s> {
        let mut buffer = itoa::Buffer::new();
        let digits = buffer.format(n).as_bytes();
        let at = self.alloc(digits.len()).cast::<u8>();
        // SAFETY: `at` has room for the digits, and lives as long as 's.
        unsafe {
            std::ptr::copy_nonoverlapping(digits.as_ptr(), at, digits.len());
            ColumnValue::Json(std::str::from_utf8_unchecked(std::slice::from_raw_parts(
                at,
                digits.len(),
            )))
        }
    }

    /// A varlena's text, detoasted (a copy only when it was toasted).
    unsafe fn text(&mut self, datum: pg_sys::Datum) -> &'s str {
        unsafe {
            let stored = datum.cast_mut_ptr::<pg_sys::varlena>();
            let text = crate::text_arg::packed(stored);
            if text != stored {
                self.allocated.push(text.cast());
            }
            utf8(pgrx::varlena::varlena_to_byte_slice(text))
        }
    }

    unsafe fn output(&mut self, function: pg_sys::Oid, datum: pg_sys::Datum) -> &'s str {
        unsafe {
            let text = pg_sys::OidOutputFunctionCall(function, datum);
            self.allocated.push(text.cast());
            self.c_str(text)
        }
    }

    /// PostgreSQL's `to_json` of the value, called as SQL would call it on
    /// a column of this type (it reads the type from the call's expression).
    unsafe fn pg_to_json(&mut self, column: &Column, datum: pg_sys::Datum) -> &'s str {
        unsafe {
            let mut function = pg_sys::FmgrInfo::default();
            pg_sys::fmgr_info(pg_sys::Oid::from(pg_sys::F_TO_JSON), &mut function);
            let arg = pg_sys::makeNullConst(column.typid, column.typmod, column.collation);
            let mut args = pgrx::PgList::<pg_sys::Const>::new();
            args.push(arg);
            function.fn_expr = pg_sys::makeFuncExpr(
                function.fn_oid,
                pg_sys::JSONOID,
                args.into_pg(),
                pg_sys::InvalidOid,
                pg_sys::InvalidOid,
                pg_sys::CoercionForm::COERCE_EXPLICIT_CALL,
            )
            .cast();
            let json = pg_sys::FunctionCall1Coll(&mut function, column.collation, datum);
            self.allocated.push(json.cast_mut_ptr());
            self.text(json)
        }
    }

    fn alloc(&mut self, size: usize) -> *mut std::ffi::c_void {
        // SAFETY: palloc in the current (scratch) context, freed on drop.
        let at = unsafe { pg_sys::palloc(size) };
        self.allocated.push(at);
        at
    }

    unsafe fn c_str(&self, text: *const std::ffi::c_char) -> &'s str {
        utf8(unsafe { std::ffi::CStr::from_ptr(text) }.to_bytes())
    }
}

impl Drop for Values<'_> {
    fn drop(&mut self) {
        for &at in &self.allocated {
            // SAFETY: each was palloc'd by this row's reading, in a context
            // that outlives these values, and is freed once.
            unsafe { pg_sys::pfree(at) };
        }
    }
}

/// Text of a UTF8 database is UTF-8; a value that is not is refused rather
/// than sent altered.
fn utf8(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => fail(ErrorReport::new(
            PgSqlErrorCode::ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
            format!("sio_trigger read a column value that is not UTF-8: {e}"),
            "sio_trigger",
        )),
    }
}
