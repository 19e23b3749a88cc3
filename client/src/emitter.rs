//! [`Emitter`]: what `@socket.io/postgres-emitter` does, done right (every
//! message carries `nsp`, so adapter 0.5.0 delivers it), over tokio-postgres.
//! It sends with `pg_notify` and the attachment table only: pg_socketio need
//! not be installed, and inside a [`Transaction`](tokio_postgres::Transaction)
//! everything is sent at COMMIT, or not at all.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use pg_socketio_protocol::{
    attachment_notification, encode_as, split_args, Encoded, Flags, Operation, RawValue, Sender,
    SentEvent, Settings, TableName, Target, DEFAULT_ATTACHMENT_TABLE, DEFAULT_PAYLOAD_THRESHOLD,
    DEFAULT_PREFIX,
};
use serde::Serialize;
use tokio_postgres::types::Type;
use tokio_postgres::GenericClient;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// Refused before anything was sent: bad namespace, reserved event name,
    /// arguments that are not an array, placeholders without binary data…
    #[error(transparent)]
    Protocol(#[from] pg_socketio_protocol::Error),
    #[error("arguments: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
}

/// Emits to the Socket.IO servers of a namespace (default `/`).
///
/// ```no_run
/// # async fn run(db: &tokio_postgres::Client) -> Result<(), pg_socketio_client::EmitError> {
/// use pg_socketio_client::Emitter;
/// use serde_json::json;
/// let emitter = Emitter::new();
/// emitter.to("room1").emit(db, "ping", &json!([{"n": 1}])).await?;
/// emitter.of("/admin").except("muted").volatile().emit(db, "tick", &(1, "a")).await?;
/// emitter.to("room1").sockets_join(db, &["room2"]).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Emitter {
    prefix: String,
    table: String,
    threshold: usize,
    cluster_source: bool,
    nsp: String,
}

impl Default for Emitter {
    fn default() -> Self {
        Emitter::new()
    }
}

impl Emitter {
    /// The Node.js defaults: prefix `socket.io`, table `socket_io_attachments`,
    /// namespace `/`.
    pub fn new() -> Emitter {
        Emitter {
            prefix: DEFAULT_PREFIX.into(),
            table: DEFAULT_ATTACHMENT_TABLE.into(),
            threshold: DEFAULT_PAYLOAD_THRESHOLD,
            cluster_source: true,
            nsp: "/".into(),
        }
    }

    /// The servers' `channelPrefix`.
    pub fn channel_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The servers' `tableName` (may be schema-qualified).
    pub fn attachment_table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }

    /// Messages whose JSON has at least this many bytes go through the
    /// attachment table (at most, and by default, 8000: PostgreSQL's limit).
    pub fn payload_threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }

    /// Whether messages carry `"source":"_sio_adapter"`, which workers of a
    /// Node.js cluster require (default: yes).
    pub fn cluster_source(mut self, yes: bool) -> Self {
        self.cluster_source = yes;
        self
    }

    /// The same emitter for namespace `nsp`.
    pub fn of(&self, nsp: impl Into<String>) -> Emitter {
        Emitter {
            nsp: nsp.into(),
            ..self.clone()
        }
    }

    /// Every socket of the namespace; narrow it with `to` and `except`.
    pub fn broadcast(&self) -> Broadcast<'_> {
        Broadcast {
            emitter: self,
            rooms: Vec::new(),
            except: Vec::new(),
            flags: Flags::default(),
        }
    }

    pub fn to(&self, room: impl Into<String>) -> Broadcast<'_> {
        self.broadcast().to(room)
    }

    pub fn except(&self, room: impl Into<String>) -> Broadcast<'_> {
        self.broadcast().except(room)
    }

    pub fn volatile(&self) -> Broadcast<'_> {
        self.broadcast().volatile()
    }

    pub fn compress(&self, compress: bool) -> Broadcast<'_> {
        self.broadcast().compress(compress)
    }

    /// `io.emit(event, ...args)` on every server: see [`Broadcast::emit`].
    pub async fn emit<C: GenericClient + Sync>(
        &self,
        db: &C,
        event: &str,
        args: &impl Serialize,
    ) -> Result<(), EmitError> {
        self.broadcast().emit(db, event, args).await
    }

    /// `io.serverSideEmit(event, ...args)`: reaches the servers' own
    /// `io.on(event, ...)` listeners, not clients. `args` serializes to a
    /// JSON array.
    pub async fn server_side_emit<C: GenericClient + Sync>(
        &self,
        db: &C,
        event: &str,
        args: &impl Serialize,
    ) -> Result<(), EmitError> {
        let args = serde_json::value::to_raw_value(args)?;
        let args = split_args(args.get())?;
        let op = Operation::ServerSideEmit {
            event: SentEvent::new(event, &args),
        };
        self.send_as(db, Sender::EMITTER, &[], &[], op).await
    }

    /// Sends `op` as `sender`: emitters send as [`Sender::EMITTER`], a
    /// [`Peer`](crate::Peer) as itself.
    pub(crate) async fn send_as<C: GenericClient + Sync>(
        &self,
        db: &C,
        sender: Sender<'_>,
        rooms: &[&str],
        except: &[&str],
        op: Operation<'_, &RawValue>,
    ) -> Result<(), EmitError> {
        let settings = Settings {
            channel_prefix: self.prefix.clone(),
            payload_threshold: self.threshold,
            cluster_source: self.cluster_source,
        };
        let target = Target {
            nsp: &self.nsp,
            rooms,
            except,
        };
        let (channel, payload) = match encode_as(&settings, sender, target, op, next_seq())? {
            Encoded::Inline { channel, payload } => (channel, payload),
            Encoded::Attachment {
                channel,
                kind,
                payload,
            } => {
                // The one rule for table names (protocol::TableName), quoted
                // before it is spliced into SQL.
                let table = TableName::parse(&self.table)?.quoted();
                let sql = format!("INSERT INTO {table} (payload) VALUES ($1) RETURNING id");
                let row = db
                    .query_typed_one(&sql, &[(&payload.to_vec(), Type::BYTEA)])
                    .await?;
                (
                    channel,
                    attachment_notification(sender.uid, kind, row.try_get(0)?),
                )
            }
        };
        db.execute_typed(
            "SELECT pg_notify($1, $2)",
            &[(&channel, Type::TEXT), (&payload, Type::TEXT)],
        )
        .await?;
        Ok(())
    }
}

/// The sockets an operation applies to, and how events reach them.
#[derive(Debug, Clone)]
pub struct Broadcast<'e> {
    emitter: &'e Emitter,
    rooms: Vec<String>,
    except: Vec<String>,
    flags: Flags,
}

impl Broadcast<'_> {
    /// Also the sockets in `room` (a socket id is a room too).
    pub fn to(mut self, room: impl Into<String>) -> Self {
        self.rooms.push(room.into());
        self
    }

    /// Not the sockets in `room`, even when in a room of [`to`](Self::to).
    pub fn except(mut self, room: impl Into<String>) -> Self {
        self.except.push(room.into());
        self
    }

    /// Clients that cannot take the event right now do not get it.
    pub fn volatile(mut self) -> Self {
        self.flags.volatile = true;
        self
    }

    /// Whether the transport may compress the event (default: yes).
    pub fn compress(mut self, compress: bool) -> Self {
        self.flags.compress = compress;
        self
    }

    /// Sends `event` with `args` — anything that serializes to a JSON array,
    /// one element per argument: `json!([1, "a"])`, `(1, "a")`, `vec![..]`.
    pub async fn emit<C: GenericClient + Sync>(
        &self,
        db: &C,
        event: &str,
        args: &impl Serialize,
    ) -> Result<(), EmitError> {
        self.emit_binary(db, event, args, &[]).await
    }

    /// Like [`emit`](Self::emit), with binary arguments: where `args` holds
    /// [`placeholder(n)`](placeholder), clients receive `binary[n]` as bytes
    /// (a `Buffer` / `ArrayBuffer`). Sent through the attachment table.
    pub async fn emit_binary<C: GenericClient + Sync>(
        &self,
        db: &C,
        event: &str,
        args: &impl Serialize,
        binary: &[&[u8]],
    ) -> Result<(), EmitError> {
        let args = serde_json::value::to_raw_value(args)?;
        let args = split_args(args.get())?;
        let op = Operation::Emit {
            event: SentEvent {
                name: event,
                args: &args,
                binary,
            },
            flags: self.flags,
        };
        self.send(db, op).await
    }

    /// `socketsJoin(rooms)`: the sockets also join `rooms`.
    pub async fn sockets_join<C: GenericClient + Sync>(
        &self,
        db: &C,
        rooms: &[&str],
    ) -> Result<(), EmitError> {
        self.send(db, Operation::SocketsJoin { rooms }).await
    }

    /// `socketsLeave(rooms)`: the sockets leave `rooms`.
    pub async fn sockets_leave<C: GenericClient + Sync>(
        &self,
        db: &C,
        rooms: &[&str],
    ) -> Result<(), EmitError> {
        self.send(db, Operation::SocketsLeave { rooms }).await
    }

    /// `disconnectSockets(close)`: with `close`, the clients' whole
    /// connections are closed, not only this namespace.
    pub async fn disconnect_sockets<C: GenericClient + Sync>(
        &self,
        db: &C,
        close: bool,
    ) -> Result<(), EmitError> {
        self.send(db, Operation::DisconnectSockets { close }).await
    }

    async fn send<C: GenericClient + Sync>(
        &self,
        db: &C,
        op: Operation<'_, &RawValue>,
    ) -> Result<(), EmitError> {
        let rooms: Vec<&str> = self.rooms.iter().map(String::as_str).collect();
        let except: Vec<&str> = self.except.iter().map(String::as_str).collect();
        self.emitter
            .send_as(db, Sender::EMITTER, &rooms, &except, op)
            .await
    }
}

/// Socket.IO's placeholder for binary argument `num` of
/// [`Broadcast::emit_binary`]: `{"_placeholder":true,"num":num}`.
pub fn placeholder(num: usize) -> serde_json::Value {
    serde_json::json!({"_placeholder": true, "num": num})
}

/// PostgreSQL delivers identical notifications of one transaction once, so
/// each message gets a number. The start is random so that a transaction
/// mixing this process's emits with SQL `sio_emit` calls (numbered by the
/// backend from 0) is unlikely to repeat one; it stays below 2^53 so that
/// JavaScript reads it exactly.
fn next_seq() -> u64 {
    static SEQ: OnceLock<AtomicU64> = OnceLock::new();
    SEQ.get_or_init(|| AtomicU64::new(random_u64() >> 12))
        .fetch_add(1, Ordering::Relaxed)
        & ((1 << 53) - 1)
}

/// A random number, from the standard library's per-process random hash
/// keys, mixed with a counter so that every call differs.
pub(crate) fn random_u64() -> u64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_differ_and_stay_exact_in_javascript() {
        let a = next_seq();
        let b = next_seq();
        assert_ne!(a, b);
        assert!(a < 1 << 53 && b < 1 << 53);
    }
}
