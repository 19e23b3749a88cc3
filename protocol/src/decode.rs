//! The listener's side: turns what arrives on a channel — an inline JSON
//! notification, or an attachment row's MessagePack — into a typed message.
//!
//! Anyone who may call `pg_notify` can write to the channel, so nothing here
//! trusts its input: every field is checked, and a malformed message is an
//! error, never a panic. Both encodings are read by one code path: serde into
//! the typed envelope below (field names are matched, not allocated), with
//! `rmpv::Value` (which holds binary, unlike JSON values) for event arguments
//! and the fields whose shape depends on the message type.

use std::fmt;

use rmpv::Value;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use thiserror::Error;

use crate::exact_args;
use crate::js_number::may_lose_digits;
use crate::message::MessageType;
use crate::msgpack_walk::{walk, Kind};
use crate::transcode::Placeholders;
use crate::value_de::{optional, SizedValue};

#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("not MessagePack: {0}")]
    MessagePack(String),
    #[error("{0} is not a map")]
    NotAMap(&'static str),
    /// A field of the wrong type, as serde reports it.
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("missing field {0}")]
    Missing(&'static str),
    #[error("field {field} is not {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("unknown message type {0}")]
    UnknownType(String),
}

/// What a notification says.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// The whole message, inline.
    Message(Message),
    /// The message is in attachment row `id`; read it and [`decode_attachment`].
    Attachment {
        uid: String,
        kind: MessageType,
        id: i64,
    },
}

/// One message of the adapter protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The sender: a server's random id, or `"emitter"`.
    pub uid: String,
    /// Absent in messages of the official emitter 0.1.1 and of old adapters.
    pub nsp: Option<String>,
    pub body: Body,
    /// The JSON text of its arguments as an array (`args`; `[packet]` for
    /// a SERVER_SIDE_EMIT_RESPONSE), present when a number in them has
    /// digits float64 cannot hold (`numeric`'s 40 digits, `1e400`). The
    /// values above are what every Node.js server reads, JavaScript's
    /// float64; this text keeps each digit, for a decimal or big-integer
    /// type. Placeholders of binary arguments stay placeholder objects.
    /// Inline, it is the notification's own text; through the attachment
    /// table, the extension sends it along (`exactArgs`).
    pub exact_args: Option<String>,
}

/// Which sockets an operation applies to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReceivedOpts {
    pub rooms: Vec<String>,
    pub except: Vec<String>,
    pub flags: ReceivedFlags,
}

/// Broadcast flags as sent; absent flags are Socket.IO's defaults.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReceivedFlags {
    pub volatile: bool,
    /// `Some(false)` when the sender asked not to compress.
    pub compress: Option<bool>,
    /// Milliseconds an acknowledged broadcast waits.
    pub timeout: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Body {
    InitialHeartbeat,
    Heartbeat,
    AdapterClose,
    Broadcast {
        event: String,
        args: Vec<Value>,
        opts: ReceivedOpts,
        /// Present when the sender collects acknowledgements.
        request_id: Option<String>,
    },
    SocketsJoin {
        opts: ReceivedOpts,
        rooms: Vec<String>,
    },
    SocketsLeave {
        opts: ReceivedOpts,
        rooms: Vec<String>,
    },
    DisconnectSockets {
        opts: ReceivedOpts,
        close: bool,
    },
    FetchSockets {
        opts: ReceivedOpts,
        request_id: String,
    },
    FetchSocketsResponse {
        request_id: String,
        sockets: Vec<Value>,
    },
    ServerSideEmit {
        event: String,
        args: Vec<Value>,
        request_id: Option<String>,
    },
    ServerSideEmitResponse {
        request_id: String,
        packet: Value,
    },
    BroadcastClientCount {
        request_id: String,
        client_count: u64,
    },
    BroadcastAck {
        request_id: String,
        packet: Value,
    },
}

/// A socket of another server, as its FETCH_SOCKETS_RESPONSE describes it
/// (Node.js's `RemoteSocket`).
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteSocket {
    pub id: String,
    /// Its rooms, its own id among them.
    pub rooms: Vec<String>,
    /// `socket.data`, as the server's application set it.
    pub data: Value,
    pub handshake: Handshake,
}

/// What the client sent when it connected (`socket.handshake`); a field the
/// server left out is its zero value (nil for the maps).
#[derive(Debug, Clone, PartialEq)]
pub struct Handshake {
    pub headers: Value,
    /// When, as the server's `Date.toString()` wrote it.
    pub time: String,
    /// When, in milliseconds since the epoch.
    pub issued: u64,
    pub address: String,
    pub xdomain: bool,
    pub secure: bool,
    pub url: String,
    pub query: Value,
    pub auth: Value,
}

impl RemoteSocket {
    /// Reads the `sockets` of a [`Body::FetchSocketsResponse`].
    pub fn decode_all(sockets: &[Value]) -> Result<Vec<RemoteSocket>, DecodeError> {
        sockets.iter().map(RemoteSocket::decode).collect()
    }

    fn decode(value: &Value) -> Result<RemoteSocket, DecodeError> {
        let socket = Fields::of(value, "sockets[]")?;
        let h = match socket.opt("handshake") {
            Some(h) => Fields::of(h, "handshake")?,
            None => Fields(&[]),
        };
        let text = |key: &'static str| -> Result<String, DecodeError> {
            h.opt(key).map_or(Ok(String::new()), |v| {
                v.as_str().map(str::to_owned).ok_or(DecodeError::WrongType {
                    field: key,
                    expected: "a string",
                })
            })
        };
        let flag = |key: &'static str| h.opt(key).and_then(Value::as_bool).unwrap_or(false);
        let any = |key: &'static str| h.opt(key).cloned().unwrap_or(Value::Nil);
        let handshake = Handshake {
            headers: any("headers"),
            time: text("time")?,
            // A JavaScript number: MessagePack may carry it as a float.
            issued: h.opt("issued").map_or(Ok(0), |v| {
                v.as_u64()
                    .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
                    .ok_or(DecodeError::WrongType {
                        field: "issued",
                        expected: "a number of milliseconds",
                    })
            })?,
            address: text("address")?,
            xdomain: flag("xdomain"),
            secure: flag("secure"),
            url: text("url")?,
            query: any("query"),
            auth: any("auth"),
        };
        Ok(RemoteSocket {
            id: socket
                .req("id")?
                .as_str()
                .ok_or(DecodeError::WrongType {
                    field: "id",
                    expected: "a string",
                })?
                .to_owned(),
            rooms: strings(socket.req("rooms")?, "rooms")?,
            data: socket.opt("data").cloned().unwrap_or(Value::Nil),
            handshake,
        })
    }
}

/// How deeply a message's values may nest. Inline JSON cannot go deeper (a
/// NOTIFY payload has fewer than 8000 bytes, two per level); attachments are
/// held to the same bound, so that a decoded message is also safe to drop and
/// to walk recursively on a thread's stack. Parsing itself grows the stack as
/// it needs (serde_stacker), whatever the depth.
pub const MAX_DEPTH: usize = 4096;

/// Decodes a notification's payload.
pub fn decode_notification(payload: &str) -> Result<Notice, DecodeError> {
    // Node.js's JSON.parse has no fixed limit: neither has this, within the
    // 8000-byte payload (at most 4000 levels). The common, shallow case is
    // read without growing the stack.
    let read = match read_json(payload, false) {
        Err(e) if e.to_string().starts_with("recursion limit exceeded") => read_json(payload, true),
        read => read,
    };
    let wire = match read {
        Ok(wire) => wire,
        // serde_json refuses a number beyond f64 (`1e400`), which
        // JavaScript reads as ±Infinity: read such a payload the way
        // attachments carry JSON, through the transcoder, which applies
        // JavaScript's rule to every number.
        Err(e) if e.to_string().starts_with("number out of range") => {
            return as_messagepack(payload).map(|m| Notice::Message(exact(m, payload)));
        }
        Err(e) => {
            return Err(match e.classify() {
                serde_json::error::Category::Data => DecodeError::Malformed(e.to_string()),
                _ => DecodeError::Json(e.to_string()),
            })
        }
    };
    if let Some(id) = &wire.attachment_id {
        // A string in the Node packages, a number in some; both are accepted.
        let id = match id {
            Value::String(s) => s.as_str().and_then(|s| s.parse().ok()),
            other => other.as_i64(),
        }
        .ok_or(DecodeError::WrongType {
            field: "attachmentId",
            expected: "an integer",
        })?;
        return Ok(Notice::Attachment {
            uid: wire.uid.ok_or(DecodeError::Missing("uid"))?,
            kind: message_type(wire.kind.as_ref().ok_or(DecodeError::Missing("type"))?)?,
            id,
        });
    }
    message(wire).map(|m| Notice::Message(exact(m, payload)))
}

/// `message`, read from `payload`, with [`Message::exact_args`] when a
/// number in its arguments lost digits to float64. Only a float can have:
/// integers of 64 bits are read as they are, and most messages hold no
/// float, so the payload's text is looked at again only for those that do
/// (perf: the look cost a third of decoding the listener benchmark's
/// messages).
fn exact(mut message: Message, payload: &str) -> Message {
    let (kind, args) = match &message.body {
        Body::Broadcast { args, .. } => (MessageType::Broadcast, &args[..]),
        Body::ServerSideEmit { args, .. } => (MessageType::ServerSideEmit, &args[..]),
        Body::ServerSideEmitResponse { packet, .. } => (
            MessageType::ServerSideEmitResponse,
            std::slice::from_ref(packet),
        ),
        _ => return message,
    };
    if message.exact_args.is_none()
        && args.iter().any(|value| may_hold_float(value, 32))
        && may_lose_digits(payload)
    {
        message.exact_args = exact_args::inline(payload, kind);
    }
    message
}

/// Whether `value` holds a float; past `depth` levels, taken to hold one.
fn may_hold_float(value: &Value, depth: usize) -> bool {
    match value {
        Value::F32(_) | Value::F64(_) => true,
        Value::Array(items) => depth == 0 || items.iter().any(|v| may_hold_float(v, depth - 1)),
        Value::Map(members) => {
            depth == 0 || members.iter().any(|(_, v)| may_hold_float(v, depth - 1))
        }
        _ => false,
    }
}

/// Reads the envelope; `deep`: past serde_json's recursion limit, on a
/// stack that grows as needed (slower, so only when the limit was hit).
fn read_json(payload: &str, deep: bool) -> Result<Wire, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(payload);
    let wire = if deep {
        de.disable_recursion_limit();
        Wire::deserialize(serde_stacker::Deserializer::new(&mut de))?
    } else {
        Wire::deserialize(&mut de)?
    };
    de.end()?;
    Ok(wire)
}

/// Reads the envelope and says how many bytes follow it: up to 128 levels
/// (as serde_json; Node.js servers write at most 100) on the thread's stack,
/// or, `deep`, up to `MAX_DEPTH` on a stack that grows as needed.
fn read_messagepack(
    mut bytes: &[u8],
    deep: bool,
) -> Result<(Wire, usize), rmp_serde::decode::Error> {
    let mut de = rmp_serde::Deserializer::new(&mut bytes);
    let wire = if deep {
        de.set_max_depth(MAX_DEPTH);
        Wire::deserialize(serde_stacker::Deserializer::new(&mut de))?
    } else {
        de.set_max_depth(128);
        Wire::deserialize(&mut de)?
    };
    Ok((wire, bytes.len()))
}

/// A JSON payload decoded as its MessagePack transcoding.
fn as_messagepack(payload: &str) -> Result<Message, DecodeError> {
    // What was sent is data: an object shaped like a placeholder stays one.
    let plan = crate::transcode::plan(payload, Placeholders::Data)
        .map_err(|e| DecodeError::Json(e.to_string()))?;
    let mut bytes = Vec::with_capacity(plan.len());
    plan.write(&[], &mut bytes)
        .map_err(|e| DecodeError::Json(e.to_string()))?;
    decode_attachment(&bytes)
}

/// Decodes an attachment row's payload (MessagePack of the whole message).
pub fn decode_attachment(bytes: &[u8]) -> Result<Message, DecodeError> {
    let read = read_attachment(bytes);
    // rmp-serde hands a string of invalid UTF-8 over as binary (and fails
    // on one in the envelope): only then are the strings looked at, and
    // the message read again with them as Node.js reads them.
    if !matches!(read, Ok((_, false))) {
        if let Some(rewritten) = lossy_strings(bytes) {
            drop(read);
            return read_attachment(&rewritten).map(|(message, _)| message);
        }
    }
    read.map(|(message, _)| message)
}

/// The message, and whether it carries binary.
fn read_attachment(bytes: &[u8]) -> Result<(Message, bool), DecodeError> {
    let read = match read_messagepack(bytes, false) {
        Err(rmp_serde::decode::Error::DepthLimitExceeded) => read_messagepack(bytes, true),
        read => read,
    };
    let (wire, trailing) = read.map_err(|e| match e {
        rmp_serde::decode::Error::Syntax(_) | rmp_serde::decode::Error::TypeMismatch(_) => {
            DecodeError::Malformed(e.to_string())
        }
        _ => DecodeError::MessagePack(e.to_string()),
    })?;
    if trailing > 0 {
        return Err(DecodeError::MessagePack(format!(
            "{trailing} bytes after the message"
        )));
    }
    let mut message = message(wire)?;
    let mut binary = false;
    message
        .body
        .values_mut(|value| binary |= as_javascript_reads(value));
    Ok((message, binary))
}

/// The message with each string of invalid UTF-8 written again with U+FFFD
/// in place of the bad bytes, as the Node.js adapter's decoder reads it
/// (rmp-serde would hand such a string over as binary); `None` when every
/// string is valid, or when the structure is broken (decoding says how).
fn lossy_strings(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut bad = Vec::new();
    walk(bytes, |span| {
        let valid = bytes
            .get(span.data.clone())
            .is_none_or(|b| std::str::from_utf8(b).is_ok());
        if span.kind == Kind::Str && !valid {
            bad.push(span);
        }
    })
    .ok()?;
    if bad.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() + 3 * bad.len());
    let mut from = 0;
    for span in bad {
        out.extend_from_slice(&bytes[from..span.at]);
        let text = String::from_utf8_lossy(&bytes[span.data.clone()]);
        rmp::encode::write_str(&mut out, &text).ok()?;
        from = span.data.end;
    }
    out.extend_from_slice(&bytes[from..]);
    Some(out)
}

impl Body {
    /// Calls `f` on every value the message carries (arguments, answers,
    /// sockets).
    fn values_mut(&mut self, mut f: impl FnMut(&mut Value)) {
        match self {
            Body::Broadcast { args, .. } | Body::ServerSideEmit { args, .. } => {
                args.iter_mut().for_each(f)
            }
            Body::FetchSocketsResponse { sockets, .. } => sockets.iter_mut().for_each(f),
            Body::ServerSideEmitResponse { packet, .. } | Body::BroadcastAck { packet, .. } => {
                f(packet)
            }
            _ => {}
        }
    }
}

/// What the Node.js adapter's MessagePack decoder (`@msgpack/msgpack`)
/// makes of an attachment, where it differs from the bytes: a timestamp
/// (extension -1, what it encodes a `Date` as) is a `Date`, which clients
/// receive as its ISO text — as they would from inline JSON. Says whether
/// the value holds binary. Iterative: values may nest `MAX_DEPTH` deep.
fn as_javascript_reads(value: &mut Value) -> bool {
    let mut binary = false;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Binary(_) => binary = true,
            Value::Ext(-1, bytes) => {
                if let Some(text) = timestamp_text(bytes) {
                    *v = Value::from(text);
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Map(entries) => {
                for (k, v) in entries.iter_mut() {
                    stack.push(k);
                    stack.push(v);
                }
            }
            _ => {}
        }
    }
    binary
}

/// A MessagePack timestamp (32, 64 or 96 bits) as JavaScript's
/// `Date.prototype.toISOString` writes it (milliseconds, `Z`).
fn timestamp_text(bytes: &[u8]) -> Option<String> {
    let (secs, nanos): (i64, u32) = match bytes.len() {
        4 => (i64::from(u32::from_be_bytes(bytes.try_into().ok()?)), 0),
        8 => {
            let v = u64::from_be_bytes(bytes.try_into().ok()?);
            ((v & 0x3_ffff_ffff) as i64, (v >> 34) as u32)
        }
        12 => (
            i64::from_be_bytes(bytes[4..].try_into().ok()?),
            u32::from_be_bytes(bytes[..4].try_into().ok()?),
        ),
        _ => return None,
    };
    // humantime writes 1970 to 9999 (and panics outside): other dates stay
    // the extension they came as.
    if !(0..253_402_300_800).contains(&secs) || nanos >= 1_000_000_000 {
        return None;
    }
    let time = std::time::UNIX_EPOCH + std::time::Duration::new(secs as u64, nanos);
    Some(humantime::format_rfc3339_millis(time).to_string())
}

/// The envelope as sent: every field optional, so that a missing one is
/// reported by name. `data` and its `opts` are boxed: serde builds each
/// nested struct and moves it into its parent, and unboxed those moves were
/// 18 % of decoding a notification (boxed: 735 → 590 ns).
struct Wire {
    kind: Option<Value>,
    uid: Option<String>,
    nsp: Option<String>,
    attachment_id: Option<Value>,
    data: Option<Box<WireData>>,
    exact_args: Option<String>,
}

/// `data`, for every message type at once; fields whose shape depends on the
/// type stay `Value`s.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct WireData {
    #[serde(deserialize_with = "optional")]
    packet: Option<Value>,
    opts: Option<Box<WireOpts>>,
    #[serde(deserialize_with = "optional")]
    rooms: Option<Value>,
    #[serde(deserialize_with = "optional")]
    close: Option<Value>,
    #[serde(deserialize_with = "optional")]
    request_id: Option<Value>,
    #[serde(deserialize_with = "optional")]
    sockets: Option<Value>,
    #[serde(deserialize_with = "optional")]
    client_count: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireOpts {
    rooms: Option<Vec<String>>,
    except: Option<Vec<String>>,
    flags: Option<WireFlags>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireFlags {
    #[serde(deserialize_with = "optional")]
    volatile: Option<Value>,
    #[serde(deserialize_with = "optional")]
    compress: Option<Value>,
    #[serde(deserialize_with = "optional")]
    timeout: Option<Value>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum WireField {
    Type,
    Uid,
    Nsp,
    AttachmentId,
    Data,
    ExactArgs,
    #[serde(other)]
    Other,
}

impl<'de> Deserialize<'de> for Wire {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(WireVisitor)
    }
}

struct WireVisitor;

impl<'de> Visitor<'de> for WireVisitor {
    type Value = Wire;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a message (a map)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Wire, A::Error> {
        let mut wire = Wire {
            kind: None,
            uid: None,
            nsp: None,
            attachment_id: None,
            data: None,
            exact_args: None,
        };
        while let Some(field) = map.next_key::<WireField>()? {
            match field {
                WireField::Type => wire.kind = map.next_value::<Option<SizedValue>>()?.map(|v| v.0),
                WireField::Uid => wire.uid = map.next_value()?,
                WireField::Nsp => wire.nsp = map.next_value()?,
                WireField::AttachmentId => {
                    wire.attachment_id = map.next_value::<Option<SizedValue>>()?.map(|v| v.0)
                }
                WireField::Data => wire.data = map.next_value()?,
                // Only ever a convenience: something else there is ignored,
                // as Node.js servers ignore the member.
                WireField::ExactArgs => {
                    wire.exact_args = map
                        .next_value::<Option<SizedValue>>()?
                        .and_then(|v| v.0.as_str().map(str::to_owned))
                }
                WireField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(wire)
    }
}

fn message(wire: Wire) -> Result<Message, DecodeError> {
    let kind = message_type(wire.kind.as_ref().ok_or(DecodeError::Missing("type"))?)?;
    let uid = wire.uid;
    let mut data = wire.data;
    let mut data = || data.take().ok_or(DecodeError::Missing("data"));
    let body = match kind {
        MessageType::InitialHeartbeat => Body::InitialHeartbeat,
        MessageType::Heartbeat => Body::Heartbeat,
        MessageType::AdapterClose => Body::AdapterClose,
        MessageType::Broadcast => {
            let data = data()?;
            let packet = data.packet.ok_or(DecodeError::Missing("packet"))?;
            let (event, args) = event_array(take(packet, "data", "packet")?, "packet.data")?;
            Body::Broadcast {
                event,
                args,
                opts: opts(data.opts)?,
                request_id: opt_string(data.request_id, "requestId")?,
            }
        }
        MessageType::SocketsJoin | MessageType::SocketsLeave => {
            let data = data()?;
            let opts = opts(data.opts)?;
            let rooms = strings(&data.rooms.ok_or(DecodeError::Missing("rooms"))?, "rooms")?;
            if kind == MessageType::SocketsJoin {
                Body::SocketsJoin { opts, rooms }
            } else {
                Body::SocketsLeave { opts, rooms }
            }
        }
        MessageType::DisconnectSockets => {
            let data = data()?;
            Body::DisconnectSockets {
                opts: opts(data.opts)?,
                close: data
                    .close
                    .as_ref()
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            }
        }
        MessageType::FetchSockets => {
            let data = data()?;
            Body::FetchSockets {
                opts: opts(data.opts)?,
                request_id: string(data.request_id, "requestId")?,
            }
        }
        MessageType::FetchSocketsResponse => {
            let data = data()?;
            let sockets = data.sockets.ok_or(DecodeError::Missing("sockets"))?;
            Body::FetchSocketsResponse {
                request_id: string(data.request_id, "requestId")?,
                sockets: owned_array(sockets, "sockets")?,
            }
        }
        MessageType::ServerSideEmit => {
            let data = data()?;
            let packet = data.packet.ok_or(DecodeError::Missing("packet"))?;
            let (event, args) = event_array(packet, "packet")?;
            Body::ServerSideEmit {
                event,
                args,
                request_id: opt_string(data.request_id, "requestId")?,
            }
        }
        MessageType::ServerSideEmitResponse | MessageType::BroadcastAck => {
            let data = data()?;
            let request_id = string(data.request_id, "requestId")?;
            let packet = data.packet.unwrap_or(Value::Nil);
            if kind == MessageType::BroadcastAck {
                Body::BroadcastAck { request_id, packet }
            } else {
                Body::ServerSideEmitResponse { request_id, packet }
            }
        }
        MessageType::BroadcastClientCount => {
            let data = data()?;
            Body::BroadcastClientCount {
                request_id: string(data.request_id, "requestId")?,
                client_count: data
                    .client_count
                    .ok_or(DecodeError::Missing("clientCount"))?
                    .as_u64()
                    .ok_or(DecodeError::WrongType {
                        field: "clientCount",
                        expected: "a non-negative integer",
                    })?,
            }
        }
    };
    Ok(Message {
        uid: uid.ok_or(DecodeError::Missing("uid"))?,
        nsp: wire.nsp,
        body,
        exact_args: wire.exact_args,
    })
}

fn message_type(value: &Value) -> Result<MessageType, DecodeError> {
    use MessageType::*;
    const ALL: [MessageType; 13] = [
        InitialHeartbeat,
        Heartbeat,
        Broadcast,
        SocketsJoin,
        SocketsLeave,
        DisconnectSockets,
        FetchSockets,
        FetchSocketsResponse,
        ServerSideEmit,
        ServerSideEmitResponse,
        BroadcastClientCount,
        BroadcastAck,
        AdapterClose,
    ];
    value
        .as_u64()
        // JavaScript has one number type: `3.0` is 3 to a Node.js server.
        .or_else(|| {
            value
                .as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        })
        .and_then(|n| ALL.iter().copied().find(|t| *t as u64 == n))
        .ok_or_else(|| DecodeError::UnknownType(value.to_string()))
}

/// `[event, ...args]`. Values are moved, never cloned: cloning (like
/// dropping) recurses once per level.
fn event_array(value: Value, field: &'static str) -> Result<(String, Vec<Value>), DecodeError> {
    let mut items = owned_array(value, field)?.into_iter();
    let event = match items.next() {
        Some(Value::String(s)) => s.into_str(),
        Some(_) => None,
        None => return Err(DecodeError::Missing(field)),
    }
    .ok_or(DecodeError::WrongType {
        field,
        expected: "an array starting with the event name",
    })?;
    Ok((event, items.collect()))
}

fn owned_array(value: Value, field: &'static str) -> Result<Vec<Value>, DecodeError> {
    match value {
        Value::Array(items) => Ok(items),
        _ => Err(DecodeError::WrongType {
            field,
            expected: "an array",
        }),
    }
}

/// Member `key` of map `value` (JSON null and MessagePack nil mean absent),
/// moved out.
fn take(value: Value, key: &'static str, what: &'static str) -> Result<Value, DecodeError> {
    match value {
        Value::Map(entries) => entries
            .into_iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
            .filter(|v| !v.is_nil())
            .ok_or(DecodeError::Missing(key)),
        _ => Err(DecodeError::NotAMap(what)),
    }
}

/// `opts`: absent rooms, except and flags are Socket.IO's defaults.
fn opts(opts: Option<Box<WireOpts>>) -> Result<ReceivedOpts, DecodeError> {
    let opts = opts.ok_or(DecodeError::Missing("opts"))?;
    let flags = opts.flags.unwrap_or_default();
    Ok(ReceivedOpts {
        rooms: opts.rooms.unwrap_or_default(),
        except: opts.except.unwrap_or_default(),
        flags: ReceivedFlags {
            volatile: flags
                .volatile
                .as_ref()
                .and_then(Value::as_bool)
                .unwrap_or(false),
            compress: flags.compress.as_ref().and_then(Value::as_bool),
            timeout: flags.timeout.as_ref().and_then(Value::as_u64),
        },
    })
}

fn string(value: Option<Value>, field: &'static str) -> Result<String, DecodeError> {
    opt_string(value, field)?.ok_or(DecodeError::Missing(field))
}

fn opt_string(value: Option<Value>, field: &'static str) -> Result<Option<String>, DecodeError> {
    value
        .map(|v| match v {
            Value::String(s) => s.into_str().ok_or(DecodeError::WrongType {
                field,
                expected: "a string",
            }),
            _ => Err(DecodeError::WrongType {
                field,
                expected: "a string",
            }),
        })
        .transpose()
}

fn array<'v>(value: &'v Value, field: &'static str) -> Result<&'v [Value], DecodeError> {
    match value {
        Value::Array(items) => Ok(items),
        _ => Err(DecodeError::WrongType {
            field,
            expected: "an array",
        }),
    }
}

fn strings(value: &Value, field: &'static str) -> Result<Vec<String>, DecodeError> {
    array(value, field)?
        .iter()
        .map(|v| {
            v.as_str().map(str::to_owned).ok_or(DecodeError::WrongType {
                field,
                expected: "an array of strings",
            })
        })
        .collect()
}

/// The string-keyed entries of a map.
struct Fields<'v>(&'v [(Value, Value)]);

impl<'v> Fields<'v> {
    fn of(value: &'v Value, what: &'static str) -> Result<Self, DecodeError> {
        match value {
            Value::Map(entries) => Ok(Fields(entries)),
            _ => Err(DecodeError::NotAMap(what)),
        }
    }

    fn opt(&self, key: &str) -> Option<&'v Value> {
        self.0
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
            // JSON null and MessagePack nil mean absent.
            .filter(|v| !v.is_nil())
    }

    fn req(&self, key: &'static str) -> Result<&'v Value, DecodeError> {
        self.opt(key).ok_or(DecodeError::Missing(key))
    }
}
