//! A statement trigger's transition table (`REFERENCING NEW TABLE AS ...`),
//! read row by row with a read pointer of its own, as a scan of it in SQL
//! reads it: the NEW and OLD tables of an UPDATE can then be read side by
//! side, a row's two versions together.

use pgrx::prelude::*;

pub struct TransitionTable {
    store: *mut pg_sys::Tuplestorestate,
    slot: *mut pg_sys::TupleTableSlot,
    natts: usize,
}

impl TransitionTable {
    /// `None` when the trigger has no such table.
    ///
    /// # Safety
    /// `store` is a transition table of the firing trigger (or NULL), whose
    /// rows have the columns of `tupdesc`; both outlive the reader.
    pub unsafe fn open(
        store: *mut pg_sys::Tuplestorestate,
        tupdesc: pg_sys::TupleDesc,
    ) -> Option<TransitionTable> {
        if store.is_null() {
            return None;
        }
        unsafe {
            let pointer =
                pg_sys::tuplestore_alloc_read_pointer(store, pg_sys::EXEC_FLAG_REWIND as i32);
            pg_sys::tuplestore_select_read_pointer(store, pointer);
            pg_sys::tuplestore_rescan(store);
            Some(TransitionTable {
                store,
                slot: pg_sys::MakeSingleTupleTableSlot(tupdesc, &pg_sys::TTSOpsMinimalTuple),
                natts: (*tupdesc).natts as usize,
            })
        }
    }

    /// The next row's values and nulls, one of each per attribute, valid
    /// until the next call; `None` after the last row.
    pub fn next(&mut self) -> Option<(&[pg_sys::Datum], &[bool])> {
        // SAFETY: the store and slot `open` was given and made; the arrays
        // hold every attribute after slot_getallattrs.
        unsafe {
            if !pg_sys::tuplestore_gettupleslot(self.store, true, false, self.slot) {
                return None;
            }
            pg_sys::slot_getallattrs(self.slot);
            Some((
                std::slice::from_raw_parts((*self.slot).tts_values, self.natts),
                std::slice::from_raw_parts((*self.slot).tts_isnull, self.natts),
            ))
        }
    }

    /// Gives the slot back and makes the table's first read pointer active
    /// again, as the statement's next trigger expects. Not on drop: an
    /// ERROR while reading leaves this to the transaction's abort, and what
    /// runs while a Rust panic unwinds must not raise another.
    pub fn close(self) {
        // SAFETY: as in `next`.
        unsafe {
            pg_sys::ExecDropSingleTupleTableSlot(self.slot);
            pg_sys::tuplestore_select_read_pointer(self.store, 0);
        }
    }
}
