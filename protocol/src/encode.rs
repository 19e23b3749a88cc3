//! The emitter's side: turns an operation into what PostgreSQL must carry —
//! an inline notification, or an attachment row plus a short notification.

use std::cell::Cell;
use std::io::Write;

use serde_json::value::RawValue;

use crate::channel::channel_name;
use crate::envelope_template::{self, Shape};
use crate::exact_args::{array_len, write_array};
use crate::message::{Envelope, MessageType, Operation, Sender, SentEvent, Target};
use crate::msgpack_walk::{walk, Kind};
use crate::transcode::{io, plan, str_header_len, Placeholders, Plan};
use crate::Error;

/// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
pub const MAX_NOTIFY_PAYLOAD: usize = 7999;

/// Messages whose JSON has at least this many bytes go to the attachment
/// table. The Node.js packages test `> 8000` and so lose a message of exactly
/// 8000 bytes; this codec sends it as an attachment.
pub const DEFAULT_PAYLOAD_THRESHOLD: usize = MAX_NOTIFY_PAYLOAD + 1;

/// The largest `bytea` PostgreSQL stores: 1 GB less the varlena header.
pub const MAX_ATTACHMENT: usize = 0x3fff_ffff - 4;

/// How messages are addressed and split; the GUCs of the extension and the
/// options of the Rust emitter.
#[derive(Debug, Clone)]
pub struct Settings {
    pub channel_prefix: String,
    /// Inline when the JSON is shorter than this; values above
    /// [`DEFAULT_PAYLOAD_THRESHOLD`] act as that value.
    pub payload_threshold: usize,
    /// Add `"source":"_sio_adapter"` for Node-cluster workers.
    pub cluster_source: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            channel_prefix: crate::channel::DEFAULT_PREFIX.to_owned(),
            payload_threshold: DEFAULT_PAYLOAD_THRESHOLD,
            // Harmless to standalone adapters, required by Node-cluster workers.
            cluster_source: true,
        }
    }
}

/// What to send for one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Encoded<'a> {
    /// `pg_notify(channel, payload)`.
    Inline { channel: String, payload: String },
    /// Insert `payload` (MessagePack of the whole message) into the attachment
    /// table, then `pg_notify(channel, attachment_notification(kind, id))`.
    Attachment {
        channel: String,
        kind: MessageType,
        payload: Attachment<'a>,
    },
}

/// A message for the attachment table, measured before it is written, so
/// that the caller allocates it once at its final size (a 300 MB binary
/// argument is then held once by the encoder, not several times).
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment<'a> {
    /// The MessagePack of the message with an empty `bin` where each JSON
    /// argument goes: its layout stays defined in one place (`message.rs`).
    envelope: Vec<u8>,
    /// Where those empty `bin`s are, in argument order.
    slots: Vec<usize>,
    args: Vec<ArgMsgpack<'a>>,
    binary: &'a [&'a [u8]],
    /// The arguments' JSON texts, for `exactArgs` (the envelope's last
    /// slot then), or none.
    exact_args: Vec<&'a str>,
    len: usize,
}

/// The empty `bin` that stands for an argument in the envelope.
const SLOT: [u8; 2] = [0xc4, 0x00];

impl Attachment<'_> {
    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never: a message has a type and a namespace at least.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes exactly [`len`](Self::len) bytes.
    pub fn write_to<W: Write>(&self, out: &mut W) -> Result<(), Error> {
        let mut from = 0;
        let mut slots = self.slots.iter();
        // Arguments first: `zip` then leaves the last slot in `slots`.
        for (arg, &slot) in self.args.iter().zip(slots.by_ref()) {
            out.write_all(&self.envelope[from..slot]).map_err(io)?;
            arg.write(self.binary, out)?;
            from = slot + SLOT.len();
        }
        if let (Some(&slot), Some(len)) = (slots.next(), array_len(&self.exact_args)) {
            out.write_all(&self.envelope[from..slot]).map_err(io)?;
            // One MessagePack string holding the array.
            rmp::encode::write_str_len(out, u32::try_from(len).map_err(io)?).map_err(io)?;
            write_array(out, &self.exact_args).map_err(io)?;
            from = slot + SLOT.len();
        }
        out.write_all(&self.envelope[from..]).map_err(io)
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.len);
        self.write_to(&mut bytes)
            .expect("writing into a Vec does not fail");
        bytes
    }
}

/// An argument's MessagePack: transcoded from its JSON, or written
/// beforehand ([`JsonArg::msgpack`]).
#[derive(Debug, Clone, PartialEq)]
enum ArgMsgpack<'a> {
    Transcoded(Plan<'a>),
    Written { bytes: &'a [u8], keeps_digits: bool },
}

impl ArgMsgpack<'_> {
    fn len(&self) -> usize {
        match self {
            ArgMsgpack::Transcoded(plan) => plan.len(),
            ArgMsgpack::Written { bytes, .. } => bytes.len(),
        }
    }

    fn write<W: Write>(&self, binary: &[&[u8]], out: &mut W) -> Result<(), Error> {
        match self {
            ArgMsgpack::Transcoded(plan) => plan.write(binary, out).map(drop),
            ArgMsgpack::Written { bytes, .. } => out.write_all(bytes).map_err(io),
        }
    }

    fn keeps_digits(&self) -> bool {
        match self {
            ArgMsgpack::Transcoded(plan) => plan.keeps_digits(),
            ArgMsgpack::Written { keeps_digits, .. } => *keeps_digits,
        }
    }

    /// The binary arguments it uses.
    fn used(&self) -> impl Iterator<Item = usize> + '_ {
        match self {
            ArgMsgpack::Transcoded(plan) => Some(plan.used()),
            ArgMsgpack::Written { .. } => None,
        }
        .into_iter()
        .flatten()
    }
}

/// An argument's place in the envelope.
#[derive(Clone, Copy)]
struct Slot;

impl serde::Serialize for Slot {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&[])
    }
}

/// An event argument's JSON text, which must be valid JSON: the encoder
/// writes it into messages as it is, without parsing it again.
pub trait JsonArg {
    fn json(&self) -> &str;

    /// Whether an object `{"_placeholder":true,"num":N}` in it stands for
    /// binary argument N (what a caller writes, and must get right) or is
    /// data that looks like one (a row's columns: never a reason to refuse
    /// the row's write).
    fn has_placeholders(&self) -> bool {
        true
    }

    /// Its MessagePack, when it was written with its JSON (what
    /// transcoding the JSON would write, without placeholders): the
    /// attachment path then takes it as it is.
    fn msgpack(&self) -> Option<&[u8]> {
        None
    }

    /// Whether [`msgpack`](Self::msgpack) kept every number's digits (a
    /// number float64 cannot hold loses some: `numeric`'s 40 digits).
    fn msgpack_keeps_digits(&self) -> bool {
        true
    }
}

/// Text serde_json has checked.
impl JsonArg for RawValue {
    fn json(&self) -> &str {
        self.get()
    }
}

impl<T: JsonArg + ?Sized> JsonArg for &T {
    fn json(&self) -> &str {
        (**self).json()
    }

    fn has_placeholders(&self) -> bool {
        (**self).has_placeholders()
    }

    fn msgpack(&self) -> Option<&[u8]> {
        (**self).msgpack()
    }

    fn msgpack_keeps_digits(&self) -> bool {
        (**self).msgpack_keeps_digits()
    }
}

/// Encodes `op` for the servers of `target.nsp`.
///
/// JSON arguments are written into the inline payload as they are; a message
/// with binary arguments, or whose JSON reaches the threshold, is encoded as
/// MessagePack for the attachment table. `seq` must differ between the calls
/// of one transaction, since PostgreSQL delivers identical notifications of a
/// transaction once.
pub fn encode<'a, A: JsonArg>(
    settings: &Settings,
    target: Target,
    op: Operation<'a, A>,
    seq: u64,
) -> Result<Encoded<'a>, Error> {
    encode_as(settings, Sender::EMITTER, target, op, seq)
}

/// [`encode`], sent as a cluster member or with a request id.
pub fn encode_as<'a, A: JsonArg>(
    settings: &Settings,
    sender: Sender,
    target: Target,
    op: Operation<'a, A>,
    seq: u64,
) -> Result<Encoded<'a>, Error> {
    let channel = channel_name(&settings.channel_prefix, target.nsp)?;
    op.check()?;
    let (args, binary) = args_of(&op);
    if binary.is_empty() {
        // A placeholder without binary arguments is a mistake; looking for
        // one costs a substring scan, planning only when one may be there.
        for arg in args
            .iter()
            .filter(|a| a.has_placeholders() && a.json().contains("\"_placeholder\""))
        {
            plan(arg.json(), placeholders(arg, binary))?;
        }
        let threshold = settings.payload_threshold.min(DEFAULT_PAYLOAD_THRESHOLD);
        // The inline JSON holds every argument's text: when those alone
        // reach the threshold, it is not worth writing.
        let args_len = args.iter().map(|a| a.json().len()).sum::<usize>();
        if args_len < threshold {
            let payload = to_json(settings, sender, target, &op, seq, args, args_len)?;
            if payload.len() < threshold {
                return Ok(Encoded::Inline { channel, payload });
            }
        }
    }
    let plans = args
        .iter()
        .map(|arg| match arg.msgpack() {
            Some(bytes) => Ok(ArgMsgpack::Written {
                bytes,
                keeps_digits: arg.msgpack_keeps_digits(),
            }),
            None => plan(arg.json(), placeholders(arg, binary)).map(ArgMsgpack::Transcoded),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut used = vec![false; binary.len()];
    plans
        .iter()
        .flat_map(ArgMsgpack::used)
        .for_each(|i| used[i] = true);
    if let Some(index) = used.iter().position(|u| !u) {
        return Err(Error::UnusedBinary { index });
    }
    // The JSON texts go along when MessagePack lost a number's digits: a
    // Rust listener then has them, as it has them from inline JSON.
    let mut exact_args = if plans.iter().all(ArgMsgpack::keeps_digits) {
        Vec::new()
    } else {
        args.iter().map(JsonArg::json).collect()
    };
    let arg_slots = vec![Slot; args.len()];
    // The envelope with an empty `bin` for each argument and, `exact`, one
    // for `exactArgs`; and where those are.
    let layout = |exact: bool| -> Result<(Vec<u8>, Vec<usize>), Error> {
        let envelope = Envelope {
            sender,
            target,
            op: with_args(&op, &arg_slots),
            cluster_source: settings.cluster_source,
            // The row id makes the notification unique.
            seq: None,
            exact_args: exact.then_some(Slot),
        };
        let envelope =
            rmp_serde::to_vec_named(&envelope).map_err(|e| Error::Json(e.to_string()))?;
        let slots = empty_bins(&envelope)?;
        debug_assert_eq!(slots.len(), args.len() + usize::from(exact));
        Ok((envelope, slots))
    };
    let args_len = plans.iter().map(ArgMsgpack::len).sum::<usize>();
    let measure = |envelope: &[u8], slots: &[usize], exact_args: &[&str]| {
        envelope.len() - SLOT.len() * slots.len()
            + args_len
            + array_len(exact_args).map_or(0, |len| str_header_len(len) + len)
    };
    let (mut envelope, mut slots) = layout(!exact_args.is_empty())?;
    let mut len = measure(&envelope, &slots, &exact_args);
    if len > MAX_ATTACHMENT && !exact_args.is_empty() {
        // The text only spares Rust listeners the float64: a message that
        // fits without it is sent without it, as Node.js servers read it.
        exact_args.clear();
        (envelope, slots) = layout(false)?;
        len = measure(&envelope, &slots, &exact_args);
    }
    if len > MAX_ATTACHMENT {
        return Err(Error::TooLarge {
            len,
            max: MAX_ATTACHMENT,
        });
    }
    Ok(Encoded::Attachment {
        channel,
        kind: op.message_type(),
        payload: Attachment {
            envelope,
            slots,
            args: plans,
            binary,
            exact_args,
            len,
        },
    })
}

/// How `arg`'s placeholder-shaped objects are read (see
/// [`JsonArg::has_placeholders`]).
fn placeholders<'b, A: JsonArg>(arg: &A, binary: &'b [&'b [u8]]) -> Placeholders<'b> {
    if arg.has_placeholders() {
        Placeholders::Binary(binary)
    } else {
        Placeholders::Data
    }
}

/// The message's JSON: the envelope written by serde with `null` where
/// each argument goes, its place noted as it is written, then the
/// arguments' text put there, in one allocation with room for the
/// arguments and the NUL that PostgreSQL's C string needs (so handing it
/// over does not reallocate). An emit shaped as the one before copies its
/// envelope instead (`envelope_template`).
fn to_json<A: JsonArg>(
    settings: &Settings,
    sender: Sender,
    target: Target,
    op: &Operation<'_, A>,
    seq: u64,
    args: &[A],
    args_len: usize,
) -> Result<String, Error> {
    let shape = match op {
        Operation::Emit { event, flags } => Some(Shape {
            sender,
            target,
            event: event.name,
            flags: *flags,
            cluster_source: settings.cluster_source,
            args: args.len(),
        }),
        _ => None,
    };
    if let Some(out) = shape
        .as_ref()
        .and_then(|shape| envelope_template::from_kept(shape, args, args_len, seq))
    {
        return Ok(String::from_utf8(out).expect("the template and the arguments are UTF-8"));
    }
    let written = Cell::new(0);
    let slot = || JsonSlot {
        written: &written,
        place: Cell::new(0),
    };
    // One argument is the common case: no allocation for its slot.
    let (one, many): ([JsonSlot; 1], Vec<JsonSlot>);
    let slots: &[JsonSlot] = if args.len() == 1 {
        one = [slot()];
        &one
    } else {
        many = args.iter().map(|_| slot()).collect();
        &many
    };
    let envelope = Envelope {
        sender,
        target,
        op: with_args(op, slots),
        cluster_source: settings.cluster_source,
        seq: Some(seq),
        // The text itself carries every digit.
        exact_args: None,
    };
    let mut text = Counted {
        bytes: Vec::with_capacity(ENVELOPE_TEXT + args_len + 1),
        written: &written,
    };
    serde_json::to_writer(&mut text, &envelope).map_err(|e| Error::Json(e.to_string()))?;
    let mut out = text.bytes;
    if let Some(shape) = &shape {
        envelope_template::keep(shape, &out, slots.iter().map(|s| s.place.get()));
    }
    // From the last place back, so that the places before stay where they
    // were noted.
    for (slot, arg) in slots.iter().zip(args).rev() {
        replace(
            &mut out,
            slot.place.get(),
            NULL.len(),
            arg.json().as_bytes(),
        );
    }
    Ok(String::from_utf8(out).expect("serde_json and the arguments write UTF-8"))
}

/// Replaces the `len` bytes at `at` with `with`, moving what follows.
fn replace(out: &mut Vec<u8>, at: usize, len: usize, with: &[u8]) {
    let (old_len, new_len) = (out.len(), out.len() - len + with.len());
    if new_len > old_len {
        out.resize(new_len, 0);
    }
    out.copy_within(at + len..old_len, at + with.len());
    out.truncate(new_len);
    out[at..at + with.len()].copy_from_slice(with);
}

/// About what an envelope with a few short rooms takes besides its arguments.
const ENVELOPE_TEXT: usize = 256;

/// What serde_json writes for a [`JsonSlot`].
const NULL: &str = "null";

/// An argument's place in the envelope's JSON: it notes where serde_json is
/// about to write it (after any comma), then writes `null`.
struct JsonSlot<'c> {
    written: &'c Cell<usize>,
    place: Cell<usize>,
}

impl serde::Serialize for JsonSlot<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.place.set(self.written.get());
        s.serialize_unit()
    }
}

/// serde_json's output, with the count of bytes written so far where the
/// slots can read it.
struct Counted<'c> {
    bytes: Vec<u8>,
    written: &'c Cell<usize>,
}

// Inlined as writing into a `Vec` is: serde_json writes token by token.
impl Write for Counted<'_> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.bytes.extend_from_slice(buf);
        self.written.set(self.bytes.len());
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The offsets of the empty `bin`s in an envelope, found by walking its
/// structure (a string's bytes are never mistaken for one). The envelope
/// holds no other `bin`. Not noted while writing, as the JSON slots are:
/// rmp-serde writes a map of unknown length into a buffer of its own first.
fn empty_bins(bytes: &[u8]) -> Result<Vec<usize>, Error> {
    let mut found = Vec::new();
    walk(bytes, |span| {
        if span.kind == Kind::Bin {
            found.push(span.at)
        }
    })
    .map_err(|_| io(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)))?;
    Ok(found)
}

/// Splits a JSON array into its elements, one per event argument.
pub fn split_args(args: &str) -> Result<Vec<&RawValue>, Error> {
    serde_json::from_str(args).map_err(|_| Error::ArgsNotArray {
        found: match args.trim_start().as_bytes().first() {
            Some(b'{') => "an object",
            Some(b'"') => "a string",
            Some(b'n') => "null",
            Some(b't' | b'f') => "a boolean",
            _ => "a number",
        },
    })
}

/// The notification that points servers at attachment row `id`. The `uid`
/// is required: without it the adapter takes the message for its own.
pub fn attachment_notification(uid: &str, kind: MessageType, id: i64) -> String {
    let uid = serde_json::to_string(uid).expect("a string serializes");
    format!(
        r#"{{"uid":{uid},"type":{},"attachmentId":"{id}"}}"#,
        kind as u8
    )
}

/// The JSON values an operation carries, and the binary ones they refer to.
fn args_of<'a, A>(op: &Operation<'a, A>) -> (&'a [A], &'a [&'a [u8]]) {
    match op {
        Operation::Emit { event, .. } | Operation::ServerSideEmit { event } => {
            (event.args, event.binary)
        }
        Operation::ServerSideEmitResponse { answer } => (std::slice::from_ref(*answer), &[]),
        _ => (&[], &[]),
    }
}

fn with_args<'a, A, B>(op: &Operation<'a, A>, args: &'a [B]) -> Operation<'a, B> {
    match op {
        Operation::Emit { event, flags } => Operation::Emit {
            event: SentEvent {
                args,
                ..event.with_no_args()
            },
            flags: *flags,
        },
        Operation::ServerSideEmit { event } => Operation::ServerSideEmit {
            event: SentEvent {
                args,
                ..event.with_no_args()
            },
        },
        Operation::SocketsJoin { rooms } => Operation::SocketsJoin { rooms },
        Operation::SocketsLeave { rooms } => Operation::SocketsLeave { rooms },
        Operation::DisconnectSockets { close } => Operation::DisconnectSockets { close: *close },
        // One slot, for the one answer (see `args_of`).
        Operation::ServerSideEmitResponse { .. } => {
            Operation::ServerSideEmitResponse { answer: &args[0] }
        }
        Operation::FetchSockets => Operation::FetchSockets,
        Operation::Heartbeat { initial } => Operation::Heartbeat { initial: *initial },
        Operation::AdapterClose => Operation::AdapterClose,
        Operation::NoSockets => Operation::NoSockets,
        Operation::BroadcastClientCount { count } => {
            Operation::BroadcastClientCount { count: *count }
        }
    }
}
