//! What an emitter asks the servers to do, and how it looks on the wire.
//!
//! The structs here serialize with serde into both encodings the adapter
//! speaks: JSON for inline notifications and MessagePack (string-keyed maps)
//! for attachments. Field order follows what the Node.js packages write.

use serde::ser::{Serialize, SerializeSeq, Serializer};

use crate::Error;

/// The `uid` of every participant that is not a server. Servers do not count
/// it as a cluster node, so they never wait for its replies.
pub const EMITTER_UID: &str = "emitter";

/// The marker that Node-cluster workers (`@socket.io/cluster-adapter`) require
/// on every message; standalone adapters ignore the field.
pub const CLUSTER_SOURCE: &str = "_sio_adapter";

/// The member of an attachment's message that holds its arguments' JSON
/// text when MessagePack could not keep every digit of their numbers.
pub(crate) const EXACT_ARGS: &str = "exactArgs";

/// Message types of the adapter protocol (socket.io-adapter's `MessageType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    InitialHeartbeat = 1,
    Heartbeat = 2,
    Broadcast = 3,
    SocketsJoin = 4,
    SocketsLeave = 5,
    DisconnectSockets = 6,
    FetchSockets = 7,
    FetchSocketsResponse = 8,
    ServerSideEmit = 9,
    ServerSideEmitResponse = 10,
    BroadcastClientCount = 11,
    BroadcastAck = 12,
    AdapterClose = 13,
}

/// Events that Socket.IO refuses to emit to clients.
pub const RESERVED_EVENTS: &[&str] = &[
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Events that would be mistaken for the namespace's own when emitted between
/// servers (`connection` would call connection handlers with a string).
pub const RESERVED_SERVER_SIDE_EVENTS: &[&str] = &["connection", "new_namespace"];

/// Socket.IO's packet type for an event; the receiving server turns it into a
/// binary event itself when an argument is binary.
const PACKET_EVENT: u8 = 2;

/// Which sockets of which namespace an operation applies to.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub nsp: &'a str,
    /// Empty means every socket of the namespace.
    pub rooms: &'a [&'a str],
    /// Sockets in any of these rooms are left out, even when in `rooms`.
    pub except: &'a [&'a str],
}

impl Default for Target<'_> {
    fn default() -> Self {
        Target {
            nsp: "/",
            rooms: &[],
            except: &[],
        }
    }
}

/// Delivery flags of an emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags {
    /// Drop the event for clients that cannot take it right now.
    pub volatile: bool,
    /// Let the transport compress the event (Socket.IO's default).
    pub compress: bool,
}

impl Default for Flags {
    fn default() -> Self {
        Flags {
            volatile: false,
            compress: true,
        }
    }
}

/// An event name with its arguments, as sent (what arrives is a
/// [`Body::Broadcast`](crate::Body::Broadcast)).
#[derive(Debug, Clone, Copy)]
pub struct SentEvent<'a, A> {
    pub name: &'a str,
    pub args: &'a [A],
    /// Binary arguments, referred to from `args` by Socket.IO's
    /// placeholders, `{"_placeholder":true,"num":N}`. A message with any goes
    /// to the attachment table.
    pub binary: &'a [&'a [u8]],
}

impl<'a, A> SentEvent<'a, A> {
    /// The same event with its arguments to be replaced (name and binary kept).
    pub(crate) fn with_no_args<B>(&self) -> SentEvent<'a, B> {
        SentEvent {
            name: self.name,
            args: &[],
            binary: self.binary,
        }
    }

    /// An event without binary arguments.
    pub fn new(name: &'a str, args: &'a [A]) -> Self {
        SentEvent {
            name,
            args,
            binary: &[],
        }
    }
}

/// What the servers are asked to do.
#[derive(Debug, Clone, Copy)]
pub enum Operation<'a, A> {
    /// `io.to(rooms).except(except).emit(event, ...args)`
    Emit {
        event: SentEvent<'a, A>,
        flags: Flags,
    },
    /// `io.in(rooms).socketsJoin(rooms)`
    SocketsJoin { rooms: &'a [&'a str] },
    /// `io.in(rooms).socketsLeave(rooms)`
    SocketsLeave { rooms: &'a [&'a str] },
    /// `io.in(rooms).disconnectSockets(close)`
    DisconnectSockets { close: bool },
    /// `io.serverSideEmit(event, ...args)`: reaches the servers' own
    /// `io.on(event)` listeners, not clients.
    ServerSideEmit { event: SentEvent<'a, A> },
    /// `io.in(rooms).fetchSockets()`: each server answers with its sockets
    /// (a request: sent with a [`Sender::request_id`]).
    FetchSockets,
    /// A cluster member's presence: `initial` asks every server to answer
    /// with its own heartbeat at once.
    Heartbeat { initial: bool },
    /// A cluster member leaves: servers stop waiting for its answers.
    AdapterClose,
    /// The answer of a member without sockets to a FETCH_SOCKETS.
    NoSockets,
    /// The answer to a broadcast with acknowledgements: how many clients
    /// were sent it (and so how many acknowledgements to expect).
    BroadcastClientCount { count: u64 },
    /// The answer to a SERVER_SIDE_EMIT with acknowledgement: the one value
    /// the handler passed to its callback.
    ServerSideEmitResponse { answer: &'a A },
}

/// Who sends a message, and the request it starts or answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sender<'a> {
    /// Servers count every `uid` but [`EMITTER_UID`] as a cluster member
    /// whose answers they wait for.
    pub uid: &'a str,
    /// Asks for answers (a request), or names the request answered.
    pub request_id: Option<&'a str>,
}

impl Sender<'_> {
    /// What emitters send as: not a member, no request.
    pub const EMITTER: Sender<'static> = Sender {
        uid: EMITTER_UID,
        request_id: None,
    };
}

impl<A> Operation<'_, A> {
    pub fn message_type(&self) -> MessageType {
        match self {
            Operation::Emit { .. } => MessageType::Broadcast,
            Operation::SocketsJoin { .. } => MessageType::SocketsJoin,
            Operation::SocketsLeave { .. } => MessageType::SocketsLeave,
            Operation::DisconnectSockets { .. } => MessageType::DisconnectSockets,
            Operation::ServerSideEmit { .. } => MessageType::ServerSideEmit,
            Operation::FetchSockets => MessageType::FetchSockets,
            Operation::Heartbeat { initial: true } => MessageType::InitialHeartbeat,
            Operation::Heartbeat { initial: false } => MessageType::Heartbeat,
            Operation::AdapterClose => MessageType::AdapterClose,
            Operation::NoSockets => MessageType::FetchSocketsResponse,
            Operation::BroadcastClientCount { .. } => MessageType::BroadcastClientCount,
            Operation::ServerSideEmitResponse { .. } => MessageType::ServerSideEmitResponse,
        }
    }

    /// Refuses event names that Socket.IO would refuse or misread.
    pub fn check(&self) -> Result<(), Error> {
        match self {
            Operation::Emit { event, .. } => check_reserved(event.name, RESERVED_EVENTS),
            Operation::ServerSideEmit { event } => {
                check_reserved(event.name, RESERVED_EVENTS)?;
                check_reserved(event.name, RESERVED_SERVER_SIDE_EVENTS)
            }
            _ => Ok(()),
        }
    }
}

fn check_reserved(event: &str, reserved: &[&str]) -> Result<(), Error> {
    if reserved.contains(&event) {
        return Err(Error::ReservedEvent {
            event: event.to_owned(),
            reserved: reserved.join(", "),
        });
    }
    Ok(())
}

/// A whole message: `{"type", "data", "uid", "nsp"}` plus this project's
/// optional fields. Generic over the argument type so that JSON (raw text,
/// spliced in unparsed) and MessagePack (`rmpv::Value`, which holds binary)
/// share one layout.
pub(crate) struct Envelope<'a, A> {
    pub sender: Sender<'a>,
    pub target: Target<'a>,
    pub op: Operation<'a, A>,
    /// Adds `"source":"_sio_adapter"` for Node-cluster workers.
    pub cluster_source: bool,
    /// Makes each notification unique (PostgreSQL folds identical ones
    /// within a transaction); `None` where the payload is unique anyway.
    pub seq: Option<u64>,
    /// `"exactArgs"`: where the arguments' JSON text goes when MessagePack
    /// lost digits of a number in them (attachments only; Node.js servers
    /// ignore the member).
    pub exact_args: Option<A>,
}

impl<A: Serialize> Serialize for Envelope<'_, A> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", &(self.op.message_type() as u8))?;
        // Presence messages carry no data, as Node.js sends them.
        if !matches!(
            self.op,
            Operation::Heartbeat { .. } | Operation::AdapterClose
        ) {
            m.serialize_entry("data", &SentData(self))?;
        }
        m.serialize_entry("uid", self.sender.uid)?;
        m.serialize_entry("nsp", self.target.nsp)?;
        if self.cluster_source {
            m.serialize_entry("source", CLUSTER_SOURCE)?;
        }
        if let Some(seq) = self.seq {
            m.serialize_entry("seq", &seq)?;
        }
        if let Some(exact_args) = &self.exact_args {
            m.serialize_entry(EXACT_ARGS, exact_args)?;
        }
        m.end()
    }
}

/// The `data` member, whose shape depends on the message type.
struct SentData<'e, 'a, A>(&'e Envelope<'a, A>);

impl<A: Serialize> Serialize for SentData<'_, '_, A> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let target = &self.0.target;
        let request_id = self.0.sender.request_id;
        // Join, leave, disconnect and fetch carry no flags, as Node.js writes them.
        let no_flags = SentOpts {
            target,
            flags: None,
        };
        let mut m = s.serialize_map(None)?;
        // Field order follows Node.js's ClusterAdapter.
        match &self.0.op {
            Operation::Emit { event, flags } => {
                m.serialize_entry("packet", &Packet { target, event })?;
                if let Some(id) = request_id {
                    m.serialize_entry("requestId", id)?;
                }
                m.serialize_entry(
                    "opts",
                    &SentOpts {
                        target,
                        flags: Some(flags),
                    },
                )?;
            }
            Operation::SocketsJoin { rooms } | Operation::SocketsLeave { rooms } => {
                m.serialize_entry("opts", &no_flags)?;
                m.serialize_entry("rooms", rooms)?;
            }
            Operation::DisconnectSockets { close } => {
                m.serialize_entry("opts", &no_flags)?;
                m.serialize_entry("close", close)?;
            }
            Operation::ServerSideEmit { event } => {
                if let Some(id) = request_id {
                    m.serialize_entry("requestId", id)?;
                }
                m.serialize_entry("packet", &EventArray(event))?;
            }
            Operation::FetchSockets => {
                m.serialize_entry("opts", &no_flags)?;
                m.serialize_entry("requestId", &request_id)?;
            }
            Operation::NoSockets => {
                m.serialize_entry("requestId", &request_id)?;
                m.serialize_entry("sockets", &[(); 0])?;
            }
            Operation::BroadcastClientCount { count } => {
                m.serialize_entry("requestId", &request_id)?;
                m.serialize_entry("clientCount", count)?;
            }
            Operation::ServerSideEmitResponse { answer } => {
                m.serialize_entry("requestId", &request_id)?;
                m.serialize_entry("packet", answer)?;
            }
            Operation::Heartbeat { .. } | Operation::AdapterClose => {}
        }
        m.end()
    }
}

/// A Socket.IO EVENT packet: `{"type":2,"data":[event, ...args],"nsp":..}`.
struct Packet<'t, 'e, 'a, A> {
    target: &'t Target<'a>,
    event: &'e SentEvent<'a, A>,
}

impl<A: Serialize> Serialize for Packet<'_, '_, '_, A> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("type", &PACKET_EVENT)?;
        m.serialize_entry("data", &EventArray(self.event))?;
        m.serialize_entry("nsp", self.target.nsp)?;
        m.end()
    }
}

/// `[event, ...args]`
struct EventArray<'e, 'a, A>(&'e SentEvent<'a, A>);

impl<A: Serialize> Serialize for EventArray<'_, '_, A> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(1 + self.0.args.len()))?;
        seq.serialize_element(self.0.name)?;
        for arg in self.0.args {
            seq.serialize_element(arg)?;
        }
        seq.end()
    }
}

/// Broadcast options: `{"rooms":[..],"except":[..],"flags":{..}}`.
struct SentOpts<'t, 'a> {
    target: &'t Target<'a>,
    /// Present for emits only, as the Node.js packages write it.
    flags: Option<&'t Flags>,
}

impl Serialize for SentOpts<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("rooms", self.target.rooms)?;
        m.serialize_entry("except", self.target.except)?;
        if let Some(flags) = self.flags {
            m.serialize_entry("flags", flags)?;
        }
        m.end()
    }
}

/// Only flags that differ from Socket.IO's defaults are written, as Node does.
impl Serialize for Flags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        if self.volatile {
            m.serialize_entry("volatile", &true)?;
        }
        if !self.compress {
            m.serialize_entry("compress", &false)?;
        }
        m.end()
    }
}
