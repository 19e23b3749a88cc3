//! The listener's side: turns what arrives on a channel — an inline JSON
//! notification, or an attachment row's MessagePack — into a typed message.
//!
//! Anyone who may call `pg_notify` can write to the channel, so nothing here
//! trusts its input: every field is looked up and checked, and a malformed
//! message is an error, never a panic. Both encodings are parsed into
//! `rmpv::Value` (which holds binary, unlike JSON values) and read by one
//! code path.

use rmpv::Value;
use thiserror::Error;

use crate::message::MessageType;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum DecodeError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("not MessagePack: {0}")]
    MessagePack(String),
    #[error("{0} is not a map")]
    NotAMap(&'static str),
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
}

/// Which sockets an operation applies to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Opts {
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
pub enum Body {
    InitialHeartbeat,
    Heartbeat,
    AdapterClose,
    Broadcast {
        event: String,
        args: Vec<Value>,
        opts: Opts,
        /// Present when the sender collects acknowledgements.
        request_id: Option<String>,
    },
    SocketsJoin {
        opts: Opts,
        rooms: Vec<String>,
    },
    SocketsLeave {
        opts: Opts,
        rooms: Vec<String>,
    },
    DisconnectSockets {
        opts: Opts,
        close: bool,
    },
    FetchSockets {
        opts: Opts,
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

/// Decodes a notification's payload.
pub fn decode_notification(payload: &str) -> Result<Notice, DecodeError> {
    let value: Value =
        serde_json::from_str(payload).map_err(|e| DecodeError::Json(e.to_string()))?;
    let top = Fields::of(&value, "message")?;
    if let Some(id) = top.opt("attachmentId") {
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
            uid: top.string("uid")?,
            kind: message_type(top.req("type")?)?,
            id,
        });
    }
    message(&top).map(Notice::Message)
}

/// Decodes an attachment row's payload (MessagePack of the whole message).
pub fn decode_attachment(bytes: &[u8]) -> Result<Message, DecodeError> {
    let mut rest = bytes;
    let value =
        rmpv::decode::read_value(&mut rest).map_err(|e| DecodeError::MessagePack(e.to_string()))?;
    if !rest.is_empty() {
        let trailing = rest.len();
        return Err(DecodeError::MessagePack(format!(
            "{trailing} bytes after the message"
        )));
    }
    message(&Fields::of(&value, "message")?)
}

fn message(top: &Fields) -> Result<Message, DecodeError> {
    let kind = message_type(top.req("type")?)?;
    let data = || Fields::of(top.req("data")?, "data");
    let body = match kind {
        MessageType::InitialHeartbeat => Body::InitialHeartbeat,
        MessageType::Heartbeat => Body::Heartbeat,
        MessageType::AdapterClose => Body::AdapterClose,
        MessageType::Broadcast => {
            let data = data()?;
            let packet = Fields::of(data.req("packet")?, "packet")?;
            let (event, args) = event_array(packet.req("data")?, "packet.data")?;
            Body::Broadcast {
                event,
                args,
                opts: opts(data.req("opts")?)?,
                request_id: data.opt_string("requestId")?,
            }
        }
        MessageType::SocketsJoin | MessageType::SocketsLeave => {
            let data = data()?;
            let opts = opts(data.req("opts")?)?;
            let rooms = strings(data.req("rooms")?, "rooms")?;
            if kind == MessageType::SocketsJoin {
                Body::SocketsJoin { opts, rooms }
            } else {
                Body::SocketsLeave { opts, rooms }
            }
        }
        MessageType::DisconnectSockets => {
            let data = data()?;
            Body::DisconnectSockets {
                opts: opts(data.req("opts")?)?,
                close: data.opt("close").and_then(Value::as_bool).unwrap_or(false),
            }
        }
        MessageType::FetchSockets => {
            let data = data()?;
            Body::FetchSockets {
                opts: opts(data.req("opts")?)?,
                request_id: data.string("requestId")?,
            }
        }
        MessageType::FetchSocketsResponse => {
            let data = data()?;
            Body::FetchSocketsResponse {
                request_id: data.string("requestId")?,
                sockets: array(data.req("sockets")?, "sockets")?.to_vec(),
            }
        }
        MessageType::ServerSideEmit => {
            let data = data()?;
            let (event, args) = event_array(data.req("packet")?, "packet")?;
            Body::ServerSideEmit {
                event,
                args,
                request_id: data.opt_string("requestId")?,
            }
        }
        MessageType::ServerSideEmitResponse | MessageType::BroadcastAck => {
            let data = data()?;
            let request_id = data.string("requestId")?;
            let packet = data.opt("packet").cloned().unwrap_or(Value::Nil);
            if kind == MessageType::BroadcastAck {
                Body::BroadcastAck { request_id, packet }
            } else {
                Body::ServerSideEmitResponse { request_id, packet }
            }
        }
        MessageType::BroadcastClientCount => {
            let data = data()?;
            Body::BroadcastClientCount {
                request_id: data.string("requestId")?,
                client_count: data
                    .req("clientCount")?
                    .as_u64()
                    .ok_or(DecodeError::WrongType {
                        field: "clientCount",
                        expected: "a non-negative integer",
                    })?,
            }
        }
    };
    Ok(Message {
        uid: top.string("uid")?,
        nsp: top.opt_string("nsp")?,
        body,
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
        .and_then(|n| ALL.iter().copied().find(|t| *t as u64 == n))
        .ok_or_else(|| DecodeError::UnknownType(value.to_string()))
}

/// `[event, ...args]`
fn event_array(value: &Value, field: &'static str) -> Result<(String, Vec<Value>), DecodeError> {
    let items = array(value, field)?;
    let (event, args) = items.split_first().ok_or(DecodeError::Missing(field))?;
    let event = event.as_str().ok_or(DecodeError::WrongType {
        field,
        expected: "an array starting with the event name",
    })?;
    Ok((event.to_owned(), args.to_vec()))
}

fn opts(value: &Value) -> Result<Opts, DecodeError> {
    let opts = Fields::of(value, "opts")?;
    let flags = match opts.opt("flags") {
        Some(flags @ Value::Map(_)) => {
            let flags = Fields::of(flags, "flags")?;
            ReceivedFlags {
                volatile: flags
                    .opt("volatile")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                compress: flags.opt("compress").and_then(Value::as_bool),
                timeout: flags.opt("timeout").and_then(Value::as_u64),
            }
        }
        _ => ReceivedFlags::default(),
    };
    Ok(Opts {
        rooms: opts
            .opt("rooms")
            .map_or(Ok(Vec::new()), |r| strings(r, "rooms"))?,
        except: opts
            .opt("except")
            .map_or(Ok(Vec::new()), |r| strings(r, "except"))?,
        flags,
    })
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

    fn string(&self, key: &'static str) -> Result<String, DecodeError> {
        self.opt_string(key)?.ok_or(DecodeError::Missing(key))
    }

    fn opt_string(&self, key: &'static str) -> Result<Option<String>, DecodeError> {
        self.opt(key)
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or(DecodeError::WrongType {
                    field: key,
                    expected: "a string",
                })
            })
            .transpose()
    }
}
