//! Hands encoded messages to PostgreSQL, in the caller's transaction: NOTIFY
//! for inline messages, an attachment row plus NOTIFY for the others; and,
//! per `pg_socketio.delivery`, the whole message to the WAL.

use std::sync::atomic::{AtomicU64, Ordering};

use pg_socketio_protocol::{encode, wal_content, Encoded, JsonArg, MessageType, Operation, Target};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

use crate::args::{required, room_list};
use crate::attachments::{self, Bytea};
use crate::raise::{fail, OrRaise};
use crate::stats::{self, Counter};
use crate::{queue_check, settings, two_phase, wal};

/// PostgreSQL delivers identical notifications of one transaction once; a
/// per-backend counter makes every message of a transaction distinct.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// The one step from an SQL function's targeting arguments to `publish`:
/// sends `op` to the sockets in `rooms` (all when empty) but not in
/// `except_rooms` (none when NULL), of namespace `nsp`.
pub fn to_sockets<A: JsonArg>(
    rooms: &[&str],
    nsp: Option<&str>,
    except_rooms: &Option<Array<'_, &str>>,
    op: Operation<A>,
    function: &'static str,
) {
    let except = room_list(except_rooms, "except_rooms", function);
    let target = Target {
        nsp: required(nsp, "nsp", function),
        rooms,
        except: &except,
    };
    publish(target, op, function);
}

/// Encodes `op` with the session's settings and sends it the ways
/// `pg_socketio.delivery` says.
pub fn publish<A: JsonArg>(target: Target, op: Operation<A>, function: &'static str) {
    prepare(target, op, function).send();
}

/// A message encoded, and written where it goes, that PostgreSQL has not
/// been handed yet. It borrows nothing: what it was written from (a large
/// row's text, say) can be let go before the attachment row's INSERT makes
/// its own copy.
pub struct Prepared {
    channel: String,
    to_notify: Option<ToNotify>,
    function: &'static str,
}

enum ToNotify {
    Inline(String),
    Attachment { kind: MessageType, bytea: Bytea },
}

/// Encodes `op` with the session's settings; the WAL, if
/// `pg_socketio.delivery` includes it, takes the message now, NOTIFY at
/// [`Prepared::send`].
pub fn prepare<A: JsonArg>(target: Target, op: Operation<A>, function: &'static str) -> Prepared {
    refuse_if_read_only(function);
    let delivery = settings::delivery();
    if delivery.wal() {
        wal::require_logical(delivery, function);
    }
    let settings = settings::current();
    if delivery.notify() {
        queue_check::warn_if_filling(function);
    }
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let (channel, to_notify) = match encode(&settings, target, op, seq).or_raise(function) {
        Encoded::Inline { channel, payload } => {
            count_emit(function, Counter::EmitsInline, payload.len());
            if delivery.wal() {
                let content = wal_content(&channel, payload.len(), |out| {
                    out.extend_from_slice(payload.as_bytes())
                })
                .or_raise(function);
                wal::log_message(&content);
            }
            (
                channel,
                delivery.notify().then_some(ToNotify::Inline(payload)),
            )
        }
        Encoded::Attachment {
            channel,
            kind,
            payload,
        } => {
            count_emit(function, Counter::EmitsAttachment, payload.len());
            // The WAL takes the whole message: no attachment row.
            if delivery.wal() {
                let content = wal_content(&channel, payload.len(), |out| {
                    payload
                        .write_to(out)
                        .expect("writing into a Vec does not fail")
                })
                .or_raise(function);
                wal::log_message(&content);
            }
            let to_notify = delivery.notify().then(|| ToNotify::Attachment {
                kind,
                bytea: Bytea::of(&payload, function),
            });
            (channel, to_notify)
        }
    };
    Prepared {
        channel,
        to_notify,
        function,
    }
}

impl Prepared {
    /// Stores the attachment, if any, and queues the notification.
    pub fn send(self) {
        match self.to_notify {
            None => {}
            Some(ToNotify::Inline(payload)) => notify(self.channel, payload),
            Some(ToNotify::Attachment { kind, bytea }) => {
                let notification = attachments::store(kind, bytea, self.function);
                notify(self.channel, notification)
            }
        }
    }
}

/// `bytes`: the inline JSON, or the attachment's MessagePack.
fn count_emit(function: &str, kind: Counter, bytes: usize) {
    let calls = stats::calls_of(function).map(|calls| (calls, 1));
    stats::add_each(
        [(kind, 1), (Counter::BytesSent, bytes as u64)]
            .into_iter()
            .chain(calls),
    );
}

/// One rule for every message, whatever its size: an emit writes (an
/// attachment row when large), so none runs in a read-only transaction or
/// on a standby. Otherwise a small emit would pass and the same emit with a
/// larger payload fail.
fn refuse_if_read_only(function: &'static str) {
    if unsafe { pg_sys::XactReadOnly } {
        fail(
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
                format!("cannot execute {function} in a read-only transaction"),
                function,
            )
            .set_detail(
                "An emit may store its message in the attachment table, so emits are writes \
                 whatever their size.",
            ),
        );
    }
}

/// What `pg_notify` does after converting its text arguments, without
/// those copies: PostgreSQL's `Async_Notify` keeps its checks (no NOTIFY in a
/// parallel worker; channel and payload lengths), and the read-only check
/// above covers recovery. Neither string holds a NUL: JSON escapes it, and
/// the channel is made of settings and text arguments.
fn notify(channel: String, payload: String) {
    let (channel, payload) = (nul_terminated(channel), nul_terminated(payload));
    // SAFETY: two NUL-terminated strings, which Async_Notify copies; an
    // ERROR it raises comes back as a Rust panic through the guard.
    unsafe {
        pg_sys::submodules::ffi::pg_guard_ffi_boundary(|| {
            Async_Notify(channel.as_ptr().cast(), payload.as_ptr().cast())
        })
    };
    two_phase::notified();
}

/// `text` with a NUL after it, for C: in its own buffer, which its writer
/// made with room for the NUL (a `CString` would scan the text for a NUL it
/// cannot hold, and shrink the buffer to fit).
fn nul_terminated(text: String) -> Vec<u8> {
    debug_assert!(!text.contains('\0'));
    let mut bytes = text.into_bytes();
    bytes.push(0);
    bytes
}

// commands/async.h, which pgrx does not bind; unchanged from PostgreSQL 9.0
// to 18.
extern "C-unwind" {
    fn Async_Notify(channel: *const std::ffi::c_char, payload: *const std::ffi::c_char);
}
