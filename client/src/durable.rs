//! [`DurableListener`]: the messages pg_socketio writes to the WAL
//! (`pg_socketio.delivery` = `wal` or `both`), read from a logical
//! replication slot — in commit order, each with its [`Offset`], resumed
//! after the last confirmed offset after any disconnect or restart:
//! at-least-once, no gap.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use pg_socketio_protocol::{decode_wal_content, Message, WAL_PREFIX};
use tokio_postgres::config::{ChannelBinding, SslMode};
use tokio_postgres::{Config, NoTls};
use tracing::{info, warn};

use crate::events::{cause, message_namespace};
use crate::listener::{channels, tune};
pub use crate::replication::ServerError;
use crate::replication::{format_lsn, timed_out, Replication, Streamed, WireError};
use crate::session::quote_ident;
use crate::tls::{self, Connector, MakeDurableTls};

/// Where a message is in the log: its transaction's commit LSN, and its
/// place among that transaction's pg_socketio messages. Offsets grow in the
/// order messages are delivered; an application that stores the offset of
/// what it handled with its own data, and resumes after it
/// ([`DurableBuilder::resume_after`]), handles each message exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Offset {
    pub commit_lsn: u64,
    pub index: u32,
}

impl std::fmt::Display for Offset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", format_lsn(self.commit_lsn), self.index)
    }
}

/// What a [`DurableListener`] yields.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DurableEvent {
    Message {
        offset: Offset,
        namespace: String,
        /// Boxed: most of the event's size, moved once.
        message: Box<Message>,
        /// When its transaction committed.
        committed: SystemTime,
    },
    /// A pg_socketio message that could not be decoded; confirm it like
    /// any other.
    Invalid { offset: Offset, error: String },
}

impl DurableEvent {
    pub fn offset(&self) -> Offset {
        match self {
            DurableEvent::Message { offset, .. } | DurableEvent::Invalid { offset, .. } => *offset,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DurableError {
    #[error("invalid durable listener options: {0}")]
    Options(String),
    /// The slot lost WAL it needed (`max_slot_wal_keep_size`): messages are
    /// gone. Never papered over: drop the slot, create it again, and
    /// resynchronise the application's state.
    #[error("replication slot {slot} is invalidated, messages were lost: {error}")]
    SlotInvalidated { slot: String, error: ServerError },
    /// An error the server gave that retrying cannot fix (no such slot, no
    /// REPLICATION right, `wal_level` below logical…).
    #[error("{0}")]
    Server(ServerError),
    #[error("{0}")]
    Postgres(String),
    #[error("{0}")]
    Unsupported(String),
}

/// Slot lag, as the server reports it ([`DurableListener::lag`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Lag {
    /// WAL written since the slot's confirmed position.
    pub bytes: i64,
    /// How long the oldest delivered but unconfirmed transaction has
    /// waited since it committed; zero when all are confirmed.
    pub unconfirmed_for: Duration,
    /// `pg_replication_slots.wal_status`: `reserved`, `extended`,
    /// `unreserved` (about to be invalidated) or `lost`.
    pub wal_status: String,
    /// `pg_replication_slots.safe_wal_size`: WAL that may still be written
    /// before the slot is invalidated (`None`: no limit).
    pub safe_wal_size: Option<i64>,
}

/// Options of a [`DurableListener`]; see [`DurableListener::builder`].
#[derive(Debug, Clone)]
pub struct DurableBuilder {
    config: String,
    slot: String,
    publication: String,
    create: bool,
    failover: bool,
    namespaces: Vec<String>,
    prefix: String,
    resume_after: Option<Offset>,
    status_interval: Duration,
    lag_warning: u64,
    max_backoff: Duration,
    ping_interval: Duration,
    ping_timeout: Duration,
}

impl DurableBuilder {
    /// Creates the slot (pgoutput) and the empty publication pgoutput needs
    /// when they do not exist (default: no; both need rights: REPLICATION,
    /// and CREATE on the database).
    pub fn create_slot(mut self, yes: bool) -> Self {
        self.create = yes;
        self
    }

    /// The slot is a failover slot (PostgreSQL 17 and later): a standby
    /// with `sync_replication_slots` keeps a copy, so that after a failover
    /// the promoted standby streams on from about where the old primary
    /// was, and nothing committed is lost. [`create_slot`](Self::create_slot)
    /// makes it so, and an existing slot is made so at connect
    /// (`ALTER_REPLICATION_SLOT`); an older server is refused (default: no). With several hosts and
    /// `target_session_attrs=read-write` in the connection string, the
    /// listener finds the promoted one. The servers' settings: the README,
    /// durable listener, "Failover".
    pub fn failover(mut self, yes: bool) -> Self {
        self.failover = yes;
        self
    }

    /// pgoutput needs a publication to start; messages do not depend on
    /// what it publishes (default `pg_socketio`, which publishes no table).
    pub fn publication(mut self, name: impl Into<String>) -> Self {
        self.publication = name.into();
        self
    }

    /// Yields these namespaces' messages (default `/`); the others are
    /// skipped, and their offsets confirmed with the rest.
    pub fn namespaces<I: IntoIterator<Item = S>, S: Into<String>>(mut self, nsps: I) -> Self {
        self.namespaces = nsps.into_iter().map(Into::into).collect();
        self
    }

    /// The channel prefix the emits were addressed with (default `socket.io`).
    pub fn channel_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Skips what is at or before `offset` — the application's own record
    /// of what it handled — even if the slot would send it again.
    pub fn resume_after(mut self, offset: Offset) -> Self {
        self.resume_after = Some(offset);
        self
    }

    /// How often the confirmed position is sent to the server when idle
    /// (default 1 s); confirmations are also sent when the server asks.
    pub fn status_interval(mut self, interval: Duration) -> Self {
        self.status_interval = interval;
        self
    }

    /// Warn (tracing) when the slot holds more than this many bytes of WAL
    /// behind the stream (default 256 MB).
    pub fn lag_warning(mut self, bytes: u64) -> Self {
        self.lag_warning = bytes;
        self
    }

    /// The longest wait between reconnection attempts (default 5 s).
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// After how long without a word from the server the listener asks it
    /// for one, and how long the answer may take: a dead connection (a
    /// half-open route, a frozen server) is noticed within the sum and
    /// opened again (default 5 s + 4 s, as [`Listener`](crate::Listener)).
    /// Also the connection timeout, unless the URL sets `connect_timeout`.
    pub fn liveness(mut self, interval: Duration, timeout: Duration) -> Self {
        self.ping_interval = interval;
        self.ping_timeout = timeout;
        self
    }

    /// Connects without TLS (creating the slot if asked) and starts
    /// streaming; `sslmode=require` needs [`connect_with`](Self::connect_with).
    pub async fn connect(self) -> Result<DurableListener, DurableError> {
        self.connect_to(None).await
    }

    /// The same with a TLS connector (postgres-native-tls,
    /// tokio-postgres-rustls), for both connections: the replication stream
    /// and the SQL one. TLS per the connection string's `sslmode`, as
    /// tokio-postgres does: `prefer` (its default) when the server offers
    /// it, `require` always, `disable` never. SCRAM goes without channel
    /// binding, so `channel_binding=require` is [`DurableError::Unsupported`].
    pub async fn connect_with<T: MakeDurableTls>(
        self,
        tls: T,
    ) -> Result<DurableListener, DurableError> {
        self.connect_to(Some(tls::connector(tls))).await
    }

    async fn connect_to(self, tls: Option<Connector>) -> Result<DurableListener, DurableError> {
        let mut config: Config = self
            .config
            .parse()
            .map_err(|e| DurableError::Options(format!("connection string: {e}")))?;
        tune(&mut config, self.ping_interval, self.ping_timeout);
        if tls.is_none() && config.get_ssl_mode() == SslMode::Require {
            return Err(DurableError::Unsupported(
                "sslmode=require needs a TLS connector: DurableBuilder::connect_with".into(),
            ));
        }
        // tokio-postgres's TLS streams keep the server certificate's hash to
        // themselves, and the replication connection is written here, so it
        // cannot bind SCRAM to the TLS channel: refused, not silently weaker.
        if config.get_channel_binding() == ChannelBinding::Require {
            return Err(DurableError::Unsupported(
                "channel_binding=require: the replication connection cannot use channel \
                 binding; verify the server's certificate in the TLS connector instead"
                    .into(),
            ));
        }
        let channels = channels(&self.prefix, &self.namespaces).map_err(DurableError::Options)?;
        let sql = sql_connection(&config, tls.as_ref()).await?;
        if self.failover {
            failover_supported(&sql).await?;
        }
        if self.create {
            create_slot(&sql, &self.slot, &self.publication, self.failover).await?;
        }
        if self.failover && !has_failover(&sql, &self.slot).await? {
            let liveness = self.ping_interval + self.ping_timeout;
            let mut conn = replication(&config, tls.as_ref(), liveness).await?;
            let alter = format!(
                "ALTER_REPLICATION_SLOT {} (FAILOVER true)",
                quote_ident(&self.slot)
            );
            conn.command(&alter).await.map_err(|e| match e {
                WireError::Server(error) => DurableError::Server(error),
                other => DurableError::Postgres(other.to_string()),
            })?;
        }
        let mut listener = DurableListener {
            config,
            tls,
            sql: Some(sql),
            slot: self.slot,
            publication: self.publication,
            channels,
            conn: None,
            flushed: 0,
            confirmed: self.resume_after,
            yielded: None,
            skipped: None,
            delivered: VecDeque::new(),
            current: None,
            status_interval: self.status_interval,
            last_status: Instant::now(),
            lag_warning: self.lag_warning,
            last_lag_warning: None,
            max_backoff: self.max_backoff,
            liveness: Liveness::new(self.ping_interval, self.ping_timeout),
            reconnects: 0,
        };
        listener.open().await?;
        Ok(listener)
    }
}

/// A transaction delivered (or being delivered) and not yet confirmed.
#[derive(Debug)]
struct Delivered {
    commit_lsn: u64,
    /// Known once its COMMIT arrived.
    end_lsn: Option<u64>,
    /// Its pg_socketio messages so far.
    count: u32,
    committed: SystemTime,
}

impl Delivered {
    /// Every message of it is at or before `confirmed`.
    fn confirmed_by(&self, confirmed: Offset) -> bool {
        self.commit_lsn < confirmed.commit_lsn
            || (self.commit_lsn == confirmed.commit_lsn && confirmed.index + 1 >= self.count)
    }
}

/// Reads pg_socketio's messages from a logical replication slot. Nothing
/// runs in the background: the stream is read while [`recv`](Self::recv)
/// waits, so a slow application makes the server keep the WAL, not this
/// process's memory.
///
/// ```no_run
/// # async fn run() -> Result<(), pg_socketio_client::DurableError> {
/// use pg_socketio_client::{DurableEvent, DurableListener};
/// let mut listener = DurableListener::builder("postgres://postgres@127.0.0.1/test", "socketio")
///     .create_slot(true)
///     .connect()
///     .await?;
/// loop {
///     let event = listener.recv().await?;
///     if let DurableEvent::Message { namespace, message, .. } = &event {
///         println!("{namespace}: {:?}", message.body);
///     }
///     listener.confirm(event.offset());
/// }
/// # }
/// ```
pub struct DurableListener {
    config: Config,
    tls: Option<Connector>,
    /// A regular connection for [`lag`](Self::lag), opened again when lost.
    sql: Option<tokio_postgres::Client>,
    slot: String,
    publication: String,
    channels: Vec<(String, String)>,
    conn: Option<Replication>,
    /// What the server has been told is handled (an LSN).
    flushed: u64,
    /// The highest offset the application confirmed, or resumes after.
    confirmed: Option<Offset>,
    /// The last offset yielded to the application.
    yielded: Option<Offset>,
    /// The last message skipped after `yielded` (another namespace): it is
    /// confirmed with `yielded`, so that the slot never waits for it.
    skipped: Option<Offset>,
    delivered: VecDeque<Delivered>,
    /// The transaction being received: its commit LSN and next index.
    current: Option<(u64, u32, SystemTime)>,
    status_interval: Duration,
    last_status: Instant,
    lag_warning: u64,
    last_lag_warning: Option<Instant>,
    max_backoff: Duration,
    liveness: Liveness,
    reconnects: u64,
}

impl DurableListener {
    /// Options for a listener of slot `slot` in the database at `config`.
    pub fn builder(config: impl Into<String>, slot: impl Into<String>) -> DurableBuilder {
        DurableBuilder {
            config: config.into(),
            slot: slot.into(),
            publication: "pg_socketio".into(),
            create: false,
            failover: false,
            namespaces: vec!["/".into()],
            prefix: pg_socketio_protocol::DEFAULT_PREFIX.into(),
            resume_after: None,
            status_interval: Duration::from_secs(1),
            lag_warning: 256 << 20,
            max_backoff: Duration::from_secs(5),
            ping_interval: Duration::from_secs(5),
            ping_timeout: Duration::from_secs(4),
        }
    }

    /// The next message. Connection losses and server restarts are retried
    /// with backoff (what was not confirmed is sent again); errors that
    /// retrying cannot fix are returned.
    pub async fn recv(&mut self) -> Result<DurableEvent, DurableError> {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.next_event().await {
                Ok(Some(event)) => return Ok(event),
                Ok(None) => {}
                Err(WireError::Server(error)) if fatal(&error) => {
                    self.conn = None;
                    return Err(self.fatal_error(error));
                }
                Err(WireError::Unsupported(what)) => return Err(DurableError::Unsupported(what)),
                Err(e) => {
                    warn!(
                        "pg_socketio durable listener: {e}; reconnecting from {}",
                        format_lsn(self.flushed)
                    );
                    self.conn = None;
                    self.current = None;
                    // Unconfirmed transactions come again.
                    self.delivered.clear();
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.max_backoff);
                    match self.open().await {
                        Ok(()) => {
                            self.reconnects += 1;
                            backoff = Duration::from_millis(100);
                        }
                        Err(DurableError::Postgres(e)) => warn!("{e}"),
                        Err(fatal) => return Err(fatal),
                    }
                }
            }
        }
    }

    /// Marks everything up to `offset` as handled. The server is told at the
    /// next status update, per whole transaction: until then, and for a
    /// transaction only partly confirmed, a restart sends it again (the
    /// at-least-once window).
    pub fn confirm(&mut self, offset: Offset) {
        let through = match self.skipped {
            Some(skipped) if self.yielded.is_some_and(|y| offset >= y) => offset.max(skipped),
            _ => offset,
        };
        if self.confirmed.is_none_or(|c| c < through) {
            self.confirmed = Some(through);
        }
        self.advance();
    }

    /// The server's view of the slot: WAL held back, for how long, and how
    /// close it is to invalidation.
    pub async fn lag(&mut self) -> Result<Lag, DurableError> {
        if self.sql.as_ref().is_none_or(|c| c.is_closed()) {
            self.sql = Some(sql_connection(&self.config, self.tls.as_ref()).await?);
        }
        let sql = self.sql.as_ref().expect("connected above");
        let row = sql
            .query_opt(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::int8, \
                        wal_status, safe_wal_size \
                 FROM pg_replication_slots WHERE slot_name = $1",
                &[&self.slot],
            )
            .await
            .map_err(|e| DurableError::Postgres(cause(&e)))?
            .ok_or_else(|| DurableError::Options(format!("no slot {}", self.slot)))?;
        let oldest = self.delivered.front().map(|d| d.committed);
        Ok(Lag {
            bytes: row.get::<_, Option<i64>>(0).unwrap_or(0),
            unconfirmed_for: oldest.and_then(|t| t.elapsed().ok()).unwrap_or_default(),
            wal_status: row.get::<_, Option<String>>(1).unwrap_or_default(),
            safe_wal_size: row.get(2),
        })
    }

    /// Times the stream was opened again after a loss.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// Tells the server what is confirmed now, and stops. A confirmed
    /// transaction whose COMMIT has not been read yet is read first (for at
    /// most the status interval), so that it is not sent again. Returns once
    /// the server has the confirmation and has released the slot, so that
    /// another listener may start on it at once.
    pub async fn close(mut self) -> Result<(), DurableError> {
        let deadline = Instant::now() + self.status_interval;
        while self.conn.is_some() && Instant::now() < deadline && self.awaits_commit() {
            if self.next_event().await.is_err() {
                break;
            }
        }
        let Some(conn) = self.conn.take() else {
            return Ok(());
        };
        match tokio::time::timeout(self.status_interval, conn.finish(self.flushed)).await {
            Ok(done) => done.map_err(|e| DurableError::Postgres(e.to_string())),
            Err(_) => Err(DurableError::Postgres(format!(
                "closing: the server did not end the stream within {:?}; \
                 the last confirmation may not have reached it",
                self.status_interval
            ))),
        }
    }

    /// The oldest unconfirmed transaction is confirmed whole but its COMMIT
    /// (and so the position to confirm) has not been read.
    fn awaits_commit(&self) -> bool {
        match (self.delivered.front(), self.confirmed) {
            (Some(d), Some(c)) => d.end_lsn.is_none() && d.confirmed_by(c),
            _ => false,
        }
    }

    async fn open(&mut self) -> Result<(), DurableError> {
        let liveness = self.liveness.interval + self.liveness.timeout;
        let mut conn = replication(&self.config, self.tls.as_ref(), liveness).await?;
        conn.start(&self.slot, &self.publication, self.flushed)
            .await
            .map_err(|e| match e {
                WireError::Server(error) if fatal(&error) => self.fatal_error(error),
                other => DurableError::Postgres(other.to_string()),
            })?;
        info!(
            "pg_socketio durable listener: streaming slot {} from {}",
            self.slot,
            format_lsn(self.flushed)
        );
        self.conn = Some(conn);
        self.liveness.heard();
        Ok(())
    }

    fn fatal_error(&self, error: ServerError) -> DurableError {
        if error.message.contains("can no longer get changes")
            || error.code == "55000"
                && error
                    .detail
                    .as_deref()
                    .is_some_and(|d| d.contains("invalidated"))
        {
            DurableError::SlotInvalidated {
                slot: self.slot.clone(),
                error,
            }
        } else {
            DurableError::Server(error)
        }
    }

    /// One step of the stream: `Some` when it produced an event.
    async fn next_event(&mut self) -> Result<Option<DurableEvent>, WireError> {
        if self.conn.is_none() {
            return Err(WireError::Protocol("not connected".into()));
        }
        if self.last_status.elapsed() >= self.status_interval {
            self.send_status(false).await?;
        }
        let wait = (self.last_status + self.status_interval).min(self.liveness.deadline());
        let conn = self.conn.as_mut().expect("connected");
        let streamed = match tokio::time::timeout_at(wait.into(), conn.next()).await {
            Ok(streamed) => {
                self.liveness.heard();
                streamed?
            }
            // Idle: time for a status update, or to check the connection.
            Err(_) => {
                match self.liveness.check() {
                    Check::Wait => {}
                    Check::Ask => self.send_status(true).await?,
                    Check::Dead => {
                        return Err(timed_out("waiting for the server", self.liveness.timeout))
                    }
                }
                return Ok(None);
            }
        };
        match streamed {
            Streamed::Begin {
                final_lsn,
                commit_time,
            } => {
                self.current = Some((final_lsn, 0, commit_time));
                Ok(None)
            }
            Streamed::Message { prefix, content } if prefix == WAL_PREFIX => {
                let Some((commit_lsn, index, committed)) = self.current.as_mut().map(|c| {
                    let at = (c.0, c.1, c.2);
                    c.1 += 1;
                    at
                }) else {
                    return Err(WireError::Protocol(
                        "a message outside a transaction".into(),
                    ));
                };
                self.note_delivered(commit_lsn, committed);
                let offset = Offset { commit_lsn, index };
                if self.confirmed.is_some_and(|c| offset <= c) {
                    return Ok(None); // sent again: handled already
                }
                let event = self.event(offset, &content, committed);
                match event {
                    Some(_) => {
                        self.yielded = Some(offset);
                        self.skipped = None;
                    }
                    // Confirmed now if all yielded is, else with the next
                    // confirmation that covers what was yielded.
                    None if self.yielded.is_none_or(|y| self.confirmed >= Some(y)) => {
                        self.confirmed = Some(offset);
                    }
                    None => self.skipped = Some(offset),
                }
                Ok(event)
            }
            Streamed::Message { .. } | Streamed::Other => Ok(None),
            Streamed::Commit {
                commit_lsn,
                end_lsn,
            } => {
                self.current = None;
                match self.delivered.back_mut() {
                    Some(d) if d.commit_lsn == commit_lsn => d.end_lsn = Some(end_lsn),
                    Some(_) => {}
                    // No message of ours in it: nothing to wait for.
                    None => self.flushed = self.flushed.max(end_lsn),
                }
                self.advance();
                Ok(None)
            }
            Streamed::Keepalive { wal_end, reply } => {
                // Nothing unconfirmed: everything the server sent so far is
                // handled, so the slot may move on (other databases' WAL).
                if self.delivered.is_empty() && self.current.is_none() {
                    self.flushed = self.flushed.max(wal_end);
                }
                self.check_lag(wal_end);
                if reply {
                    self.send_status(false).await?;
                }
                Ok(None)
            }
        }
    }

    fn event(&self, offset: Offset, content: &[u8], committed: SystemTime) -> Option<DurableEvent> {
        match decode_wal_content(content) {
            Ok((channel, message)) => {
                let namespace = self
                    .channels
                    .iter()
                    .find(|(c, _)| *c == channel)
                    .map(|(_, nsp)| message_namespace(&message, nsp))?;
                Some(DurableEvent::Message {
                    offset,
                    namespace,
                    message: Box::new(message),
                    committed,
                })
            }
            Err(e) => Some(DurableEvent::Invalid {
                offset,
                error: e.to_string(),
            }),
        }
    }

    fn note_delivered(&mut self, commit_lsn: u64, committed: SystemTime) {
        match self.delivered.back_mut() {
            Some(d) if d.commit_lsn == commit_lsn => d.count += 1,
            _ => self.delivered.push_back(Delivered {
                commit_lsn,
                end_lsn: None,
                count: 1,
                committed,
            }),
        }
    }

    /// Moves `flushed` past every whole transaction confirmed.
    fn advance(&mut self) {
        let Some(confirmed) = self.confirmed else {
            return;
        };
        while let Some(d) = self.delivered.front() {
            match d.end_lsn {
                Some(end) if d.confirmed_by(confirmed) => {
                    self.flushed = self.flushed.max(end);
                    self.delivered.pop_front();
                }
                _ => break,
            }
        }
    }

    /// The confirmed position; with `reply`, the server is asked to answer
    /// at once (a liveness check).
    async fn send_status(&mut self, reply: bool) -> Result<(), WireError> {
        self.last_status = Instant::now();
        if reply {
            self.liveness.asked();
        }
        match &mut self.conn {
            Some(conn) => conn.status(self.flushed, reply).await,
            None => Ok(()),
        }
    }

    fn check_lag(&mut self, wal_end: u64) {
        let behind = wal_end.saturating_sub(self.flushed);
        if behind > self.lag_warning
            && self
                .last_lag_warning
                .is_none_or(|t| t.elapsed() > Duration::from_secs(60))
        {
            self.last_lag_warning = Some(Instant::now());
            warn!(
                "pg_socketio durable listener: slot {} holds {} MB of WAL unconfirmed; \
                 the server keeps it until confirmed (max_slot_wal_keep_size invalidates the slot)",
                self.slot,
                behind >> 20
            );
        }
    }
}

/// When the stream was last heard from, and when the server was asked to
/// answer: the server says nothing while idle, except keepalives every
/// `wal_sender_timeout / 2` (30 s by default), so silence is checked by
/// asking (a status update with its reply flag set, which the walsender
/// answers with a keepalive at once).
struct Liveness {
    interval: Duration,
    timeout: Duration,
    heard: Instant,
    asked: Option<Instant>,
}

enum Check {
    Wait,
    Ask,
    Dead,
}

impl Liveness {
    fn new(interval: Duration, timeout: Duration) -> Self {
        Liveness {
            interval,
            timeout,
            heard: Instant::now(),
            asked: None,
        }
    }

    fn heard(&mut self) {
        self.heard = Instant::now();
        self.asked = None;
    }

    fn asked(&mut self) {
        self.asked.get_or_insert_with(Instant::now);
    }

    fn deadline(&self) -> Instant {
        match self.asked {
            Some(asked) => asked + self.timeout,
            None => self.heard + self.interval,
        }
    }

    fn check(&self) -> Check {
        match self.asked {
            Some(asked) if asked.elapsed() >= self.timeout => Check::Dead,
            Some(_) => Check::Wait,
            None if self.heard.elapsed() >= self.interval => Check::Ask,
            None => Check::Wait,
        }
    }
}

/// Errors no retry fixes: a missing or invalidated slot, missing rights,
/// wrong settings. Connection-level failures (terminated backends, restarts,
/// "slot is active for PID …" while the old connection dies) are retried.
fn fatal(error: &ServerError) -> bool {
    let class = &error.code[..2.min(error.code.len())];
    match error.code.as_str() {
        // The old walsender may still hold the slot for a moment.
        "55006" => false,
        "55000" | "42704" | "42501" | "28000" | "28P01" | "3D000" => true,
        _ => class == "42" || class == "22",
    }
}

async fn sql_connection(
    config: &Config,
    tls: Option<&Connector>,
) -> Result<tokio_postgres::Client, DurableError> {
    let connected = match tls {
        Some(tls) => tls.sql(config).await,
        None => config.connect(NoTls).await.map(|(sql, connection)| {
            tokio::spawn(connection);
            sql
        }),
    };
    connected.map_err(|e| DurableError::Postgres(cause(&e)))
}

/// A replication connection (see [`Replication::connect`]), each host
/// given the connect timeout: the URL's, else the `liveness` sum (`tune`).
async fn replication(
    config: &Config,
    tls: Option<&Connector>,
    liveness: Duration,
) -> Result<Replication, DurableError> {
    let limit = config.get_connect_timeout().copied().unwrap_or(liveness);
    Replication::connect(config, tls, "pg_socketio durable listener", limit)
        .await
        .map_err(|e| match e {
            WireError::Server(error) if fatal(&error) => DurableError::Server(error),
            WireError::Unsupported(what) => DurableError::Unsupported(what),
            other => DurableError::Postgres(other.to_string()),
        })
}

/// Failover slots exist from PostgreSQL 17 on.
async fn failover_supported(sql: &tokio_postgres::Client) -> Result<(), DurableError> {
    let row = sql
        .query_one(
            "SELECT current_setting('server_version_num')::int, current_setting('server_version')",
            &[],
        )
        .await
        .map_err(|e| DurableError::Postgres(cause(&e)))?;
    let (number, version): (i32, String) = (row.get(0), row.get(1));
    if number < 170000 {
        return Err(DurableError::Unsupported(format!(
            "failover slots need PostgreSQL 17 or later; this server is {version}"
        )));
    }
    Ok(())
}

/// Whether `slot` is a failover slot; true for a slot that does not exist
/// (streaming from it will say so).
async fn has_failover(sql: &tokio_postgres::Client, slot: &str) -> Result<bool, DurableError> {
    let failover: Option<bool> = sql
        .query_opt(
            "SELECT failover FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .map_err(|e| DurableError::Postgres(cause(&e)))?
        .map(|row| row.get(0));
    Ok(failover != Some(false))
}

async fn create_slot(
    sql: &tokio_postgres::Client,
    slot: &str,
    publication: &str,
    failover: bool,
) -> Result<(), DurableError> {
    let pg = |e: tokio_postgres::Error| DurableError::Postgres(cause(&e));
    let has_publication = sql
        .query_opt(
            "SELECT 1 FROM pg_publication WHERE pubname = $1",
            &[&publication],
        )
        .await
        .map_err(pg)?
        .is_some();
    if !has_publication {
        sql.batch_execute(&format!("CREATE PUBLICATION {}", quote_ident(publication)))
            .await
            .map_err(pg)?;
    }
    let has_slot = sql
        .query_opt(
            "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .map_err(pg)?
        .is_some();
    if !has_slot {
        // The five-argument form (temporary, two-phase, failover) is 17's.
        let create = if failover {
            "SELECT pg_create_logical_replication_slot($1, 'pgoutput', false, false, true)"
        } else {
            "SELECT pg_create_logical_replication_slot($1, 'pgoutput')"
        };
        sql.execute(create, &[&slot]).await.map_err(pg)?;
    }
    Ok(())
}
