//! The trigger's scratch memory context: where a row is read and its
//! message written, emptied after each row, so that a statement's rows do
//! not pile up until the trigger returns.

use std::cell::RefCell;

use pgrx::PgMemoryContexts;

thread_local! {
    static SCRATCH: RefCell<Option<PgMemoryContexts>> = const { RefCell::new(None) };
}

/// Stands for the scratch context's memory while `in_scratch` runs: what
/// borrows it cannot be returned from there.
pub struct Scratch;

impl Scratch {
    /// `len` bytes of the scratch context (see [`palloc_huge`]).
    // Each call hands out memory of its own, as an arena does.
    #[allow(clippy::mut_from_ref)]
    pub fn buffer(&self, len: usize) -> &mut [u8] {
        // SAFETY: fresh memory of `len` bytes, alive until the context is
        // emptied, which the `&self` borrow of `in_scratch`'s token outlasts.
        unsafe { std::slice::from_raw_parts_mut(palloc_huge(len), len) }
    }
}

/// `len` bytes of the current memory context from PostgreSQL's allocator,
/// which may exceed 1 GB's allocation limit: running out of memory is then
/// an ERROR (53200) of the statement, never an abort of the server process
/// as a failed Rust allocation would be.
pub fn palloc_huge(len: usize) -> *mut u8 {
    // SAFETY: allocates in CurrentMemoryContext, or raises an ERROR.
    unsafe {
        pgrx::pg_sys::MemoryContextAllocExtended(
            pgrx::pg_sys::CurrentMemoryContext,
            len.max(1),
            pgrx::pg_sys::MCXT_ALLOC_HUGE as i32,
        )
        .cast()
    }
}

/// Runs `f` in the scratch memory context, emptied before (an ERROR may
/// have left something behind) and after.
pub fn in_scratch<R>(f: impl FnOnce(&Scratch) -> R) -> R {
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
