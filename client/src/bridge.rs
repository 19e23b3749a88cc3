//! Applies what arrives from PostgreSQL to the sockets of a socketioxide
//! server (feature `socketioxide`): broadcasts with rooms, except, volatile
//! and binary arguments, and join / leave / disconnect.
//!
//! ```no_run
//! # async fn run(io: socketioxide::SocketIo) -> Result<(), pg_socketio_client::ListenerError> {
//! use pg_socketio_client::{bridge, Event, Listener};
//! let mut listener = Listener::builder("postgres://postgres@127.0.0.1/test").connect().await?;
//! while let Some(event) = listener.recv().await {
//!     if let Event::Message { namespace, message } = &event {
//!         if let Err(e) = bridge::apply(&io, namespace, message).await {
//!             eprintln!("not applied: {e}");
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! What is applied only to this server's sockets (`local()`), whatever
//! adapter the socketioxide server has: the message already reached every
//! server that listens. Limits of socketioxide 0.18: no per-event `compress`
//! flag (ignored), and no public way to close a client's whole connection, so
//! `disconnectSockets(true)` disconnects the sockets from their namespace
//! (socket.io-client closes the connection when no namespace is left).

use pg_socketio_protocol::{Body, Message, ReceivedOpts, Value};
use serde::ser::{Serialize, SerializeTuple, Serializer};
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;
use socketioxide::SocketIo;

/// What [`apply`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Applied {
    /// Done on this server's sockets.
    Sockets,
    /// The server has no such namespace: no socket to apply it to.
    NoNamespace,
    /// Not about sockets (a server-side emit, a heartbeat, a request or a
    /// response between servers): left to the caller.
    NotForSockets,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    #[error("broadcast to namespace {nsp}: {error}")]
    Broadcast {
        nsp: String,
        error: socketioxide::BroadcastError,
    },
    #[error("join or leave in namespace {nsp}: {error}")]
    Rooms { nsp: String, error: String },
}

/// Applies `message`, received on the channel of `namespace`, to the local
/// sockets of `io`. The message's own `nsp` wins (as in adapter 0.5.0);
/// messages without one (adapter 0.3, the official emitter) use `namespace`.
pub async fn apply<A: Adapter>(
    io: &SocketIo<A>,
    namespace: &str,
    message: &Message,
) -> Result<Applied, BridgeError> {
    let nsp = message.nsp.as_deref().unwrap_or(namespace);
    let Some(sockets) = io.of(nsp) else {
        return Ok(Applied::NoNamespace);
    };
    let select = |opts: &ReceivedOpts| {
        let mut op = sockets.clone().local();
        if !opts.rooms.is_empty() {
            op = op.within(opts.rooms.clone());
        }
        if !opts.except.is_empty() {
            op = op.except(opts.except.clone());
        }
        op
    };
    let rooms_error = |error: A::Error| BridgeError::Rooms {
        nsp: nsp.to_owned(),
        error: error.to_string(),
    };
    match &message.body {
        Body::Broadcast {
            event, args, opts, ..
        } => {
            let mut op: BroadcastOperators<A> = select(opts);
            if opts.flags.volatile {
                op = op.volatile();
            }
            op.emit(event, &Args(args))
                .await
                .map_err(|error| BridgeError::Broadcast {
                    nsp: nsp.to_owned(),
                    error,
                })?;
        }
        Body::SocketsJoin { opts, rooms } => {
            select(opts)
                .join(rooms.clone())
                .await
                .map_err(rooms_error)?;
        }
        Body::SocketsLeave { opts, rooms } => {
            select(opts)
                .leave(rooms.clone())
                .await
                .map_err(rooms_error)?;
        }
        Body::DisconnectSockets { opts, .. } => {
            select(opts)
                .disconnect()
                .await
                .map_err(|error| BridgeError::Broadcast {
                    nsp: nsp.to_owned(),
                    error,
                })?;
        }
        _ => return Ok(Applied::NotForSockets),
    }
    Ok(Applied::Sockets)
}

/// Event arguments as socketioxide wants them: a tuple is several
/// arguments (a sequence would be one array argument), and `rmpv`'s binary
/// values serialize as bytes, which socketioxide sends as binary attachments.
struct Args<'a>(&'a [Value]);

impl Serialize for Args<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut tuple = s.serialize_tuple(self.0.len())?;
        for arg in self.0 {
            tuple.serialize_element(arg)?;
        }
        tuple.end()
    }
}
