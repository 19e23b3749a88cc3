//! What a [`Listener`](crate::Listener) yields, and its errors: apart from
//! the listener and its sessions, which both use them.

use std::time::Duration;

use pg_socketio_protocol::Message;

/// What a [`Listener`](crate::Listener) yields.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A message, with its namespace: its own `nsp`, by which adapter 0.5.0
    /// routes it, or, when it has none (old adapters, the official
    /// emitter), the namespace whose channel it came on.
    Message { namespace: String, message: Message },
    /// The connection was lost and is back: anything sent in between was
    /// missed (PostgreSQL keeps no notifications for absent listeners).
    Gap { reason: String },
    /// A notification or attachment that could not be decoded (anyone who
    /// may call `pg_notify` can write to the channel); skipped.
    Invalid {
        channel: String,
        /// The start of the payload, for the log.
        payload: String,
        error: String,
    },
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenerError {
    #[error("invalid listener options: {0}")]
    Options(String),
    /// PostgreSQL's SQLSTATE and message when the server said.
    #[error("{}", cause(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("the server closed the connection")]
    Closed,
    #[error("no answer to LISTEN within {0:?}")]
    Timeout(Duration),
    /// A notification sent to the listener did not reach its LISTEN
    /// connection: it is not a server session of its own.
    #[error(
        "a notification sent to this listener did not reach its LISTEN connection within {0:?}: \
         LISTEN needs a server session of its own; connect directly or through a pooler in \
         session mode (a pooler in transaction mode, such as PgBouncer's \
         pool_mode = transaction, hands LISTEN's server connection to other clients)"
    )]
    Undelivered(Duration),
}

/// The namespace a message is for: its `nsp` (adapter 0.5.0 routes by it,
/// whatever the channel), else the channel's.
pub(crate) fn message_namespace(message: &Message, channel_nsp: &str) -> String {
    message.nsp.as_deref().unwrap_or(channel_nsp).to_owned()
}

/// What went wrong, with PostgreSQL's SQLSTATE and message when the server
/// said (`57P01 terminating connection due to administrator command`), not
/// tokio-postgres's bare "db error".
pub(crate) fn cause(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} {}", db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}
