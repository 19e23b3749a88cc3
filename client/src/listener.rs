//! [`Listener`]: receives what Socket.IO servers, emitters and pg_socketio
//! send on the channels of some namespaces, decoded and in wire order.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use pg_socketio_protocol::{channel_name, Body, Message, DEFAULT_PREFIX};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use tokio_postgres::{Config, NoTls};

use crate::session::{self, MakeTls, Plan, Session};

/// What a [`Listener`] yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A message, with the namespace whose channel it came on (messages of
    /// old adapters and of the official emitter carry no `nsp` of their own).
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
pub enum ListenerError {
    #[error("invalid listener options: {0}")]
    Options(String),
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
    #[error("the server closed the connection")]
    Closed,
    #[error("no answer to LISTEN within {0:?}")]
    Timeout(Duration),
}

/// Options of a [`Listener`]; see [`Listener::builder`].
#[derive(Debug, Clone)]
pub struct ListenerBuilder {
    pub(crate) config: String,
    pub(crate) namespaces: Vec<String>,
    pub(crate) prefix: String,
    pub(crate) table: String,
    pub(crate) capacity: usize,
    pub(crate) heartbeats: bool,
    pub(crate) responses: bool,
    pub(crate) ping_interval: Duration,
    pub(crate) ping_timeout: Duration,
    pub(crate) max_backoff: Duration,
}

impl ListenerBuilder {
    /// Listens on these namespaces (default: `/`).
    pub fn namespaces<I: IntoIterator<Item = S>, S: Into<String>>(mut self, nsps: I) -> Self {
        self.namespaces = nsps.into_iter().map(Into::into).collect();
        self
    }

    /// The servers' `channelPrefix` (default `socket.io`).
    pub fn channel_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The servers' `tableName` (default `socket_io_attachments`).
    pub fn attachment_table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }

    /// How many decoded events may wait for [`Listener::recv`]; beyond that
    /// the listener stops reading, and PostgreSQL holds the notifications.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Also yield heartbeats and ADAPTER_CLOSE (types 1, 2, 13).
    pub fn heartbeats(mut self, yes: bool) -> Self {
        self.heartbeats = yes;
        self
    }

    /// Also yield responses to requests (types 8, 10, 11, 12).
    pub fn responses(mut self, yes: bool) -> Self {
        self.responses = yes;
        self
    }

    /// How often an idle connection is checked, and how long the check may
    /// take: a dead connection is noticed within the sum (default 5 s + 4 s).
    pub fn liveness(mut self, interval: Duration, timeout: Duration) -> Self {
        self.ping_interval = interval;
        self.ping_timeout = timeout;
        self
    }

    /// The longest wait between reconnection attempts (default 5 s).
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// Connects without TLS, LISTENs, and starts receiving.
    pub async fn connect(self) -> Result<Listener, ListenerError> {
        self.connect_with(NoTls).await
    }

    /// Connects with a TLS connector (as `tokio_postgres::connect` takes it).
    pub async fn connect_with<T: MakeTls>(self, tls: T) -> Result<Listener, ListenerError> {
        if self.namespaces.is_empty() {
            return Err(ListenerError::Options("no namespace to listen on".into()));
        }
        let channels = self
            .namespaces
            .iter()
            .map(|nsp| Ok((channel_name(&self.prefix, nsp)?, nsp.clone())))
            .collect::<Result<Vec<_>, pg_socketio_protocol::Error>>()
            .map_err(|e| ListenerError::Options(e.to_string()))?;
        let mut config: Config = self
            .config
            .parse()
            .map_err(|e| ListenerError::Options(format!("connection string: {e}")))?;
        self.tune(&mut config);
        let (tx, rx) = mpsc::channel(self.capacity);
        let plan = Plan {
            config,
            tls,
            channels,
            options: self,
        };
        // The first connection is made here, so that bad credentials or an
        // absent server are the caller's error rather than a retry loop.
        let first = Session::open(&plan).await?;
        let task = tokio::spawn(session::run(plan, first, tx));
        Ok(Listener { rx, task })
    }

    /// Defaults for what the connection string leaves unset: a connect
    /// timeout, and TCP settings that end a dead connection's writes and
    /// reads in about the liveness time.
    fn tune(&self, config: &mut Config) {
        let liveness = self.ping_interval + self.ping_timeout;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(liveness);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(liveness);
        }
        if config.get_application_name().is_none() {
            config.application_name("pg_socketio listener");
        }
        config.keepalives(true).keepalives_idle(self.ping_interval);
    }

    pub(crate) fn wants(&self, message: &Message) -> bool {
        match message.body {
            Body::InitialHeartbeat | Body::Heartbeat | Body::AdapterClose => self.heartbeats,
            Body::FetchSocketsResponse { .. }
            | Body::ServerSideEmitResponse { .. }
            | Body::BroadcastClientCount { .. }
            | Body::BroadcastAck { .. } => self.responses,
            _ => true,
        }
    }
}

/// Receives decoded messages from PostgreSQL, in the order they were
/// committed, attachments included; reconnects by itself.
///
/// ```no_run
/// # async fn run() -> Result<(), pg_socketio_client::ListenerError> {
/// use pg_socketio_client::{Event, Listener};
/// let mut listener = Listener::builder("postgres://postgres@127.0.0.1/test")
///     .namespaces(["/", "/admin"])
///     .connect()
///     .await?;
/// while let Some(event) = listener.recv().await {
///     if let Event::Message { namespace, message } = event {
///         println!("{namespace}: {:?}", message.body);
///     }
/// }
/// # Ok(()) }
/// ```
pub struct Listener {
    rx: mpsc::Receiver<Event>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Options for a listener of the database at `config` (a URL or a
    /// key=value connection string, as tokio-postgres takes it).
    pub fn builder(config: impl Into<String>) -> ListenerBuilder {
        ListenerBuilder {
            config: config.into(),
            namespaces: vec!["/".into()],
            prefix: DEFAULT_PREFIX.into(),
            table: "socket_io_attachments".into(),
            capacity: 1024,
            heartbeats: false,
            responses: false,
            ping_interval: Duration::from_secs(5),
            ping_timeout: Duration::from_secs(4),
            max_backoff: Duration::from_secs(5),
        }
    }

    /// The next event; `None` once the listener has stopped.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }
}

impl Stream for Listener {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}
