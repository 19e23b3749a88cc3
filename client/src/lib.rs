//! Socket.IO over PostgreSQL for Rust servers, compatible with the Node.js
//! [`@socket.io/postgres-adapter`](https://www.npmjs.com/package/@socket.io/postgres-adapter)
//! and with the pg_socketio extension (`SELECT sio_emit(...)` in SQL).
//!
//! - [`Listener`]: LISTENs on the channels of some namespaces and yields every
//!   message — inline or from the attachment table — decoded, in wire order;
//!   reconnects by itself and reports each [`Event::Gap`]; never panics on
//!   what anyone writes to the channel ([`Event::Invalid`]).
//! - [`Emitter`]: what Node.js `io.to(..).emit(..)`, `socketsJoin`,
//!   `socketsLeave`, `disconnectSockets` and `serverSideEmit` do, sent through a
//!   tokio-postgres `Client` or `Transaction`; Node.js servers deliver it.
//! - [`DurableListener`]: the same messages from a logical replication slot
//!   (`pg_socketio.delivery = 'wal'`), in commit order, resuming after what
//!   it confirmed: nothing lost across disconnects and restarts.
//! - [`Peer`]: requests with answers (`fetchSockets`, `serverSideEmit` with
//!   acknowledgements, broadcasts with acknowledgements) to Node.js servers.
//! - `bridge` (feature `socketioxide`): applies received messages to the
//!   sockets of a socketioxide server.
//!
//! Every connection takes a tokio-postgres TLS connector: `connect_with`.
//!
//! The wire format is in [`protocol`] (shared with the extension) and
//! described in `docs/protocol.md` of the repository.
//!
//! # Listening
//! ```no_run
//! use pg_socketio_client::protocol::Body;
//! use pg_socketio_client::{Event, Listener};
//!
//! # async fn run() -> Result<(), pg_socketio_client::ListenerError> {
//! let mut listener = Listener::builder("postgres://postgres@127.0.0.1/test")
//!     .namespaces(["/", "/admin"])
//!     .connect()
//!     .await?;
//! while let Some(event) = listener.recv().await {
//!     match event {
//!         Event::Message { namespace, message } => {
//!             if let Body::Broadcast { event, args, opts, .. } = message.body {
//!                 println!("{namespace}: {event} {args:?} to {:?}", opts.rooms);
//!             }
//!         }
//!         Event::Gap { reason } => eprintln!("lost messages while reconnecting: {reason}"),
//!         Event::Invalid { error, .. } => eprintln!("skipped: {error}"),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Emitting, in a transaction
//! ```no_run
//! use pg_socketio_client::Emitter;
//! use serde_json::json;
//!
//! # async fn run(mut db: tokio_postgres::Client) -> Result<(), Box<dyn std::error::Error>> {
//! let emitter = Emitter::new();
//! let tx = db.transaction().await?;
//! tx.execute("UPDATE orders SET state = 'paid' WHERE id = 7", &[]).await?;
//! emitter.to("order:7").emit(&tx, "paid", &json!([{"id": 7}])).await?;
//! tx.commit().await?; // the clients in room order:7 get `paid` now, not before
//! # Ok(()) }
//! ```
pub use pg_socketio_protocol as protocol;

#[cfg(feature = "socketioxide")]
pub mod bridge;
mod durable;
mod emitter;
mod events;
mod listener;
mod peer;
mod replication;
mod session;
mod tls;

pub use durable::{
    DurableBuilder, DurableError, DurableEvent, DurableListener, Lag, Offset, ServerError,
};
pub use emitter::{placeholder, Broadcast, EmitError, Emitter};
pub use events::{Event, ListenerError};
pub use listener::{Listener, ListenerBuilder};
pub use peer::{
    Acks, Answer, Answers, Peer, PeerBuilder, PeerError, Select, Server, ServerSideHandler,
};
pub use session::MakeTls;
pub use tls::MakeDurableTls;
