//! The wire protocol of the Node.js `@socket.io/postgres-adapter`, shared by
//! the pg_socketio extension (which emits) and the Rust client crate (which
//! listens and emits). Plain Rust: no database, no runtime.
//!
//! See `docs/protocol.md` at the top of the repository for the protocol as
//! implemented and the traps it avoids.

mod channel;
mod datum_text;
mod decode;
mod encode;
mod envelope_template;
mod error;
mod exact_args;
mod js_number;
mod json_text;
mod memory;
mod message;
mod msgpack_walk;
mod row_change;
mod row_json;
mod row_msgpack;
mod statement_rows;
mod table_name;
mod transcode;
mod value_de;
mod wal;

pub use channel::{channel_name, check_namespace, DEFAULT_PREFIX, MAX_CHANNEL_LEN};
pub use datum_text::{DatumKind, DatumText};
pub use decode::{
    decode_attachment, decode_notification, Body, DecodeError, Handshake, Message, Notice,
    ReceivedFlags, ReceivedOpts, RemoteSocket, MAX_DEPTH,
};
pub use encode::{
    attachment_notification, encode, encode_as, split_args, Attachment, Encoded, JsonArg, Settings,
    DEFAULT_PAYLOAD_THRESHOLD, MAX_ATTACHMENT, MAX_NOTIFY_PAYLOAD,
};
pub use error::{Error, ErrorKind};
pub use message::{
    Flags, MessageType, Operation, Sender, SentEvent, Target, CLUSTER_SOURCE, EMITTER_UID,
    RESERVED_EVENTS, RESERVED_SERVER_SIDE_EVENTS,
};
pub use rmpv::Value;
pub use row_change::{
    render, ChangeJson, Columns, RoomTemplates, RowChange, TemplateError, TriggerOptions,
    TRIGGER_USAGE,
};
pub use row_json::{is_json_number, member_key, ColumnValue, Row};
pub use serde_json::value::RawValue;
pub use statement_rows::{union, StatementRows, Version};
pub use table_name::{TableName, DEFAULT_ATTACHMENT_TABLE};
pub use wal::{decode_wal_content, wal_content, WAL_PREFIX};
