//! Rust client for pg_socketio: listener and emitter (in progress).
pub use pg_socketio_protocol as protocol;
