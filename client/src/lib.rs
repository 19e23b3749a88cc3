//! Rust client for pg_socketio and the Node.js `@socket.io/postgres-adapter`.
pub use pg_socketio_protocol as protocol;

#[cfg(feature = "socketioxide")]
pub mod bridge;
mod emitter;
mod listener;
mod session;

pub use emitter::{placeholder, Broadcast, EmitError, Emitter};
pub use listener::{Event, Listener, ListenerBuilder, ListenerError};
pub use session::MakeTls;
