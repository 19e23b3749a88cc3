use thiserror::Error;

/// Why a message cannot be built. Each variant names what was wrong and what
/// is allowed, so that callers (SQL functions, the Rust emitter) can pass the
/// text on unchanged; [`ErrorKind`] says which class of error it is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{what} must not be NULL")]
    Null { what: &'static str },

    #[error("namespace {nsp:?} is invalid: a namespace starts with \"/\"")]
    BadNamespace { nsp: String },

    #[error(
        "channel name {channel:?} is {len} bytes long: PostgreSQL allows at most {max} bytes \
         (channel prefix + \"#\" + namespace)"
    )]
    ChannelTooLong {
        channel: String,
        len: usize,
        max: usize,
    },

    #[error("{event:?} is a reserved event name here; reserved: {reserved}")]
    ReservedEvent { event: String, reserved: String },

    #[error("the channel prefix must not be empty")]
    EmptyPrefix,

    #[error("invalid JSON argument: {0}")]
    Json(String),

    #[error(
        "placeholder {{\"_placeholder\":true,\"num\":{num}}} names no binary argument: \
         num counts from 0 and there are {count} binary arguments"
    )]
    BadPlaceholder { num: String, count: usize },

    #[error(
        "binary argument {index} is not used: place {{\"_placeholder\":true,\"num\":{index}}} \
         where it belongs in the arguments"
    )]
    UnusedBinary { index: usize },

    #[error("args must be a JSON array (one element per argument), not {found}")]
    ArgsNotArray { found: &'static str },

    #[error(
        "attachment table name {name:?} is not an SQL name: write table or schema.table, \
         double-quoting a part to keep its case or other characters"
    )]
    BadTableName { name: String },

    #[error("the message is {len} bytes long: the attachment table holds at most {max} bytes")]
    TooLarge { len: usize, max: usize },

    #[error("out of memory: could not allocate {bytes} more bytes for {what}")]
    OutOfMemory { what: &'static str, bytes: usize },
}

/// The class of an [`Error`](enum@Error), for mapping onto SQLSTATEs and the like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A required value was NULL / absent.
    Null,
    /// A value was present but not allowed.
    InvalidValue,
    /// A size limit was exceeded.
    LimitExceeded,
    /// Memory ran out.
    OutOfMemory,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Null { .. } => ErrorKind::Null,
            Error::TooLarge { .. } => ErrorKind::LimitExceeded,
            Error::OutOfMemory { .. } => ErrorKind::OutOfMemory,
            Error::BadNamespace { .. }
            | Error::ChannelTooLong { .. }
            | Error::ReservedEvent { .. }
            | Error::EmptyPrefix
            | Error::Json(_)
            | Error::BadPlaceholder { .. }
            | Error::UnusedBinary { .. }
            | Error::ArgsNotArray { .. }
            | Error::BadTableName { .. } => ErrorKind::InvalidValue,
        }
    }
}
