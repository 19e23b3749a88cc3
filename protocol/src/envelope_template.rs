//! Inline emits that differ only in their arguments, rooms and `seq` — a
//! statement that emits per row, a trigger's changes — have the same JSON
//! envelope around them. serde_json writes it for the first of them; the
//! emits after it copy the text kept from then, with their own arguments,
//! rooms and `seq` put in. A profile of 1,000 emits in one statement found
//! serde's writing of the envelope at 11 % of the backend's time; copying
//! it takes a fraction. The rooms are not part of the shape: a trigger's
//! room template names a room per row, and while they were, a row trigger
//! wrote its whole envelope with serde per row. They are written into the
//! kept text, or copied when they are the kept shape's.
//!
//! One template per thread: the last shape written. Comparing a shape with
//! it costs a few string comparisons, and a new shape reuses its buffers.

use std::cell::RefCell;

use crate::encode::JsonArg;
use crate::message::{Flags, Sender, Target};

/// What an emit's envelope depends on, besides its arguments, rooms and
/// `seq`.
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
    /// The rooms of the kept shape, and their JSON: an emit to the same
    /// rooms copies it.
    rooms: Vec<String>,
    rooms_json: Vec<u8>,
    except: Vec<String>,
    event: String,
    flags: Flags,
    cluster_source: bool,
    /// The envelope's text up to `seq`'s digits, a `null` in each
    /// argument's place and nothing in the rooms' place; what follows the
    /// digits is `}`. Empty until a shape is kept.
    text: Vec<u8>,
    /// Where each argument's `null` is: all before `rooms_at`, as `data`
    /// comes before `opts`.
    slots: Vec<usize>,
    /// Where the rooms' array goes.
    rooms_at: usize,
}

const NULL: usize = "null".len();

fn same(kept: &[String], given: &[&str]) -> bool {
    kept.len() == given.len() && kept.iter().zip(given).all(|(k, g)| k == g)
}

impl Template {
    fn fits(&self, shape: &Shape) -> bool {
        !self.text.is_empty()
            && self.slots.len() == shape.args
            && self.flags == shape.flags
            && self.cluster_source == shape.cluster_source
            && self.event == shape.event
            && self.uid == shape.sender.uid
            && self.request_id.as_deref() == shape.sender.request_id
            && self.nsp == shape.target.nsp
            && same(&self.except, shape.target.except)
    }
}

/// The payload of an emit of `shape`, when the kept template has that
/// shape, with room for one more byte (PostgreSQL's C string's NUL) unless
/// new rooms needed escapes.
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
        let same_rooms = same(&kept.rooms, shape.target.rooms);
        let rooms_len = if same_rooms {
            kept.rooms_json.len()
        } else {
            // Their text, quotes and commas, unless escaped.
            shape
                .target
                .rooms
                .iter()
                .map(|r| r.len() + 3)
                .sum::<usize>()
                + 2
        };
        let about = kept.text.len() - NULL * args.len() + args_len + rooms_len + digits.len() + 1;
        let mut out = Vec::with_capacity(about + 1);
        let mut from = 0;
        for (&slot, arg) in kept.slots.iter().zip(args) {
            out.extend_from_slice(&kept.text[from..slot]);
            out.extend_from_slice(arg.json().as_bytes());
            from = slot + NULL;
        }
        out.extend_from_slice(&kept.text[from..kept.rooms_at]);
        if same_rooms {
            out.extend_from_slice(&kept.rooms_json);
        } else {
            serde_json::to_writer(&mut out, shape.target.rooms)
                .expect("writing into a Vec does not fail");
        }
        out.extend_from_slice(&kept.text[kept.rooms_at..]);
        out.extend_from_slice(digits);
        out.push(b'}');
        Some(out)
    })
}

/// Keeps `text`, serde_json's envelope for `shape` with a `null` at each
/// of `slots` and `"seq":N}` at its end, as the template.
pub(crate) fn keep(shape: &Shape, text: &[u8], slots: impl Iterator<Item = usize>) {
    let Some(seq_at) = text.iter().rposition(|&b| b == b':') else {
        return;
    };
    // The first `"rooms":` is the key in `opts`: before it, the event name
    // and the other strings are JSON strings, whose quotes are escaped, and
    // the arguments are still `null`.
    const KEY: &[u8] = b"\"rooms\":";
    let mut rooms = Vec::new();
    serde_json::to_writer(&mut rooms, shape.target.rooms)
        .expect("writing into a Vec does not fail");
    let Some(rooms_at) = text
        .windows(KEY.len())
        .position(|w| w == KEY)
        .map(|at| at + KEY.len())
        .filter(|&at| text[at..seq_at].starts_with(&rooms))
    else {
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
        kept.rooms_json.clear();
        kept.rooms_json.extend_from_slice(&rooms);
        copy(&mut kept.except, shape.target.except);
        set(&mut kept.event, shape.event);
        kept.flags = shape.flags;
        kept.cluster_source = shape.cluster_source;
        kept.text.clear();
        kept.text.extend_from_slice(&text[..rooms_at]);
        kept.text
            .extend_from_slice(&text[rooms_at + rooms.len()..seq_at + 1]);
        kept.rooms_at = rooms_at;
        kept.slots.clear();
        kept.slots.extend(slots);
        if kept.slots.iter().any(|&slot| slot > rooms_at) {
            kept.text.clear();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{encode, Flags, Operation, RawValue, SentEvent, Settings};

    /// What makes a trigger's rows cheap: the envelope kept for one row's
    /// room serves the next row's, with what serde_json writes for it afresh
    /// (on a new thread, which has kept no envelope).
    #[test]
    fn the_envelope_kept_for_one_room_serves_another() {
        let arg = RawValue::from_string("1".into()).unwrap();
        let args: &[&RawValue] = &[&arg];
        let target = |rooms| Target {
            rooms,
            ..Target::default()
        };
        let op = Operation::Emit {
            event: SentEvent::new("e", args),
            flags: Flags::default(),
        };
        encode(&Settings::default(), target(&["room1"]), op, 1).unwrap();
        let shape = Shape {
            sender: Sender::EMITTER,
            target: target(&["room2"]),
            event: "e",
            flags: Flags::default(),
            cluster_source: Settings::default().cluster_source,
            args: 1,
        };
        let kept = from_kept(&shape, args, 1, 2).expect("the kept envelope fits");
        let afresh = std::thread::scope(|t| {
            t.spawn(|| encode(&Settings::default(), target(&["room2"]), op, 2))
                .join()
                .unwrap()
        });
        let Ok(crate::Encoded::Inline { payload, .. }) = afresh else {
            panic!("{afresh:?}")
        };
        assert_eq!(String::from_utf8(kept).unwrap(), payload);
    }
}
