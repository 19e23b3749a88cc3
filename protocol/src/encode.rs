//! The emitter's side: turns an operation into what PostgreSQL must carry —
//! an inline notification, or an attachment row plus a short notification.

use serde_json::value::RawValue;

use crate::binary::{check_placeholders, WithBinary};
use crate::channel::channel_name;
use crate::message::{Envelope, Event, MessageType, Operation, Target};
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
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    pub channel_prefix: &'a str,
    /// Inline when the JSON is shorter than this; values above
    /// [`DEFAULT_PAYLOAD_THRESHOLD`] act as that value.
    pub payload_threshold: usize,
    /// Add `"source":"_sio_adapter"` for Node-cluster workers.
    pub cluster_source: bool,
}

impl Default for Settings<'_> {
    fn default() -> Self {
        Settings {
            channel_prefix: crate::channel::DEFAULT_PREFIX,
            payload_threshold: DEFAULT_PAYLOAD_THRESHOLD,
            // Harmless to standalone adapters, required by Node-cluster workers.
            cluster_source: true,
        }
    }
}

/// What to send for one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Encoded {
    /// `pg_notify(channel, payload)`.
    Inline { channel: String, payload: String },
    /// Insert `payload` (MessagePack of the whole message) into the attachment
    /// table, then `pg_notify(channel, attachment_notification(kind, id))`.
    Attachment {
        channel: String,
        kind: MessageType,
        payload: Vec<u8>,
    },
}

/// Encodes `op` for the servers of `target.nsp`.
///
/// JSON arguments are written into the inline payload as they are; a message
/// with binary arguments, or whose JSON reaches the threshold, is encoded as
/// MessagePack for the attachment table. `seq` must differ between the calls
/// of one transaction, since PostgreSQL delivers identical notifications of a
/// transaction once.
pub fn encode(
    settings: &Settings,
    target: Target,
    op: Operation<&RawValue>,
    seq: u64,
) -> Result<Encoded, Error> {
    let channel = channel_name(settings.channel_prefix, target.nsp)?;
    op.check()?;
    let event = event_of(&op);
    let binary = event.map_or(&[][..], |e| e.binary);
    if binary.is_empty() {
        // A placeholder without binary arguments is a mistake; looking for
        // one costs a substring scan, parsing only when one may be there.
        if let Some(event) =
            event.filter(|e| e.args.iter().any(|a| a.get().contains("\"_placeholder\"")))
        {
            check_placeholders(&parse_args(event.args)?, 0)?;
        }
        let envelope = Envelope {
            target,
            op,
            cluster_source: settings.cluster_source,
            seq: Some(seq),
        };
        let payload = serde_json::to_string(&envelope).map_err(|e| Error::Json(e.to_string()))?;
        if payload.len() < settings.payload_threshold.min(DEFAULT_PAYLOAD_THRESHOLD) {
            return Ok(Encoded::Inline { channel, payload });
        }
    }
    let values = event.map_or(Ok(Vec::new()), |e| parse_args(e.args))?;
    check_placeholders(&values, binary.len())?;
    let args: Vec<WithBinary> = values
        .iter()
        .map(|value| WithBinary { value, binary })
        .collect();
    let envelope = Envelope {
        target,
        op: with_args(op, &args),
        cluster_source: settings.cluster_source,
        // The row id makes the notification unique.
        seq: None,
    };
    let payload = rmp_serde::to_vec_named(&envelope).map_err(|e| Error::Json(e.to_string()))?;
    if payload.len() > MAX_ATTACHMENT {
        return Err(Error::TooLarge {
            len: payload.len(),
            max: MAX_ATTACHMENT,
        });
    }
    Ok(Encoded::Attachment {
        channel,
        kind: op.message_type(),
        payload,
    })
}

/// Splits a JSON array into its elements, one per event argument.
pub fn split_args(args: &RawValue) -> Result<Vec<&RawValue>, Error> {
    serde_json::from_str(args.get()).map_err(|_| Error::ArgsNotArray {
        found: match args.get().trim_start().as_bytes().first() {
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
pub fn attachment_notification(kind: MessageType, id: i64) -> String {
    format!(
        r#"{{"uid":"{}","type":{},"attachmentId":"{id}"}}"#,
        crate::EMITTER_UID,
        kind as u8
    )
}

fn event_of<'o, 'a, A>(op: &'o Operation<'a, A>) -> Option<&'o Event<'a, A>> {
    match op {
        Operation::Emit { event, .. } | Operation::ServerSideEmit { event } => Some(event),
        _ => None,
    }
}

fn with_args<'a, A, B>(op: Operation<'a, A>, args: &'a [B]) -> Operation<'a, B> {
    match op {
        Operation::Emit { event, flags } => Operation::Emit {
            event: Event {
                args,
                ..event.with_no_args()
            },
            flags,
        },
        Operation::ServerSideEmit { event } => Operation::ServerSideEmit {
            event: Event {
                args,
                ..event.with_no_args()
            },
        },
        Operation::SocketsJoin { rooms } => Operation::SocketsJoin { rooms },
        Operation::SocketsLeave { rooms } => Operation::SocketsLeave { rooms },
        Operation::DisconnectSockets { close } => Operation::DisconnectSockets { close },
    }
}

fn parse_args(args: &[&RawValue]) -> Result<Vec<serde_json::Value>, Error> {
    args.iter()
        .map(|raw| serde_json::from_str(raw.get()).map_err(|e| Error::Json(e.to_string())))
        .collect()
}
