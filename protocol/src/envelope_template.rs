//! Inline emits that differ only in their arguments and `seq` — a statement
//! that emits per row, a trigger's changes to one room — have the same JSON
//! envelope. serde_json writes it for the first of them; the emits after it
//! copy the text kept from then, with their own arguments and `seq` put in.
//! A profile of 1,000 emits in one statement found serde's writing of the
//! envelope at 11 % of the backend's time; copying it takes a fraction.
//!
//! One template per thread: the last shape written. Comparing a shape with
//! it costs a few string comparisons, and a new shape reuses its buffers.

use std::cell::RefCell;

use crate::encode::JsonArg;
use crate::message::{Flags, Sender, Target};

/// What an emit's envelope depends on, besides its arguments and `seq`.
pub(crate) struct Shape<'a> {
    pub sender: Sender<'a>,
    pub target: Target<'a>,
    pub event: &'a str,
    pub flags: Flags,
    pub cluster_source: bool,
    pub args: usize,
}

thread_local! {
    static LAST: RefCell<Template> = RefCell::new(Template::default());
}

#[derive(Default)]
struct Template {
    uid: String,
    request_id: Option<String>,
    nsp: String,
    rooms: Vec<String>,
    except: Vec<String>,
    event: String,
    flags: Flags,
    cluster_source: bool,
    /// The envelope's text up to `seq`'s digits, a `null` in each
    /// argument's place; what follows the digits is `}`. Empty until a
    /// shape is kept.
    text: Vec<u8>,
    /// Where each argument's `null` is.
    slots: Vec<usize>,
}

const NULL: usize = "null".len();

impl Template {
    fn fits(&self, shape: &Shape) -> bool {
        let same = |kept: &[String], given: &[&str]| {
            kept.len() == given.len() && kept.iter().zip(given).all(|(k, g)| k == g)
        };
        !self.text.is_empty()
            && self.slots.len() == shape.args
            && self.flags == shape.flags
            && self.cluster_source == shape.cluster_source
            && self.event == shape.event
            && self.uid == shape.sender.uid
            && self.request_id.as_deref() == shape.sender.request_id
            && self.nsp == shape.target.nsp
            && same(&self.rooms, shape.target.rooms)
            && same(&self.except, shape.target.except)
    }
}

/// The payload of an emit of `shape`, when the kept template has that
/// shape, with room for one more byte (PostgreSQL's C string's NUL).
/// `args_len`: the arguments' JSON length, summed.
pub(crate) fn from_kept<A: JsonArg>(
    shape: &Shape,
    args: &[A],
    args_len: usize,
    seq: u64,
) -> Option<Vec<u8>> {
    LAST.with_borrow(|kept| {
        if !kept.fits(shape) {
            return None;
        }
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(seq).as_bytes();
        let len = kept.text.len() - NULL * args.len() + args_len + digits.len() + 1;
        let mut out = Vec::with_capacity(len + 1);
        let mut from = 0;
        for (&slot, arg) in kept.slots.iter().zip(args) {
            out.extend_from_slice(&kept.text[from..slot]);
            out.extend_from_slice(arg.json().as_bytes());
            from = slot + NULL;
        }
        out.extend_from_slice(&kept.text[from..]);
        out.extend_from_slice(digits);
        out.push(b'}');
        debug_assert_eq!(out.len(), len);
        Some(out)
    })
}

/// Keeps `text`, serde_json's envelope for `shape` with a `null` at each
/// of `slots` and `"seq":N}` at its end, as the template.
pub(crate) fn keep(shape: &Shape, text: &[u8], slots: impl Iterator<Item = usize>) {
    let Some(seq_at) = text.iter().rposition(|&b| b == b':') else {
        return;
    };
    // Into the buffers of the shape before, so that switching between shapes
    // allocates only when a text grows.
    fn set(to: &mut String, from: &str) {
        to.clear();
        to.push_str(from);
    }
    fn copy(to: &mut Vec<String>, from: &[&str]) {
        to.resize_with(from.len(), String::new);
        for (t, s) in to.iter_mut().zip(from) {
            set(t, s);
        }
    }
    LAST.with_borrow_mut(|kept| {
        set(&mut kept.uid, shape.sender.uid);
        kept.request_id = shape.sender.request_id.map(str::to_owned);
        set(&mut kept.nsp, shape.target.nsp);
        copy(&mut kept.rooms, shape.target.rooms);
        copy(&mut kept.except, shape.target.except);
        set(&mut kept.event, shape.event);
        kept.flags = shape.flags;
        kept.cluster_source = shape.cluster_source;
        kept.text.clear();
        kept.text.extend_from_slice(&text[..seq_at + 1]);
        kept.slots.clear();
        kept.slots.extend(slots);
    });
}
