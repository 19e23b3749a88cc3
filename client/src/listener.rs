//! [`Listener`]: receives what Socket.IO servers, emitters and pg_socketio
//! send on the channels of some namespaces, decoded and in wire order.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{stream, Stream, StreamExt};
use pg_socketio_protocol::{channel_name, DEFAULT_ATTACHMENT_TABLE, DEFAULT_PREFIX};

use tokio_postgres::{Config, NoTls};

use crate::events::{Event, ListenerError};
use crate::session::{MakeTls, Plan, Receiving, Session, SessionOptions};

/// Options of a [`Listener`]; see [`Listener::builder`].
#[derive(Debug, Clone)]
pub struct ListenerBuilder {
    pub(crate) config: String,
    pub(crate) namespaces: Vec<String>,
    pub(crate) prefix: String,
    pub(crate) table: String,
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

    /// Connects without TLS, LISTENs, checks that notifications reach it
    /// (else [`ListenerError::Undelivered`]: a pooler in transaction mode),
    /// and starts receiving.
    pub async fn connect(self) -> Result<Listener, ListenerError> {
        self.connect_with(NoTls).await
    }

    /// Connects with a TLS connector (as `tokio_postgres::connect` takes it).
    pub async fn connect_with<T: MakeTls>(self, tls: T) -> Result<Listener, ListenerError> {
        let channels = channels(&self.prefix, &self.namespaces).map_err(ListenerError::Options)?;
        let mut config: Config = self
            .config
            .parse()
            .map_err(|e| ListenerError::Options(format!("connection string: {e}")))?;
        self.tune(&mut config);
        let plan = Plan {
            config,
            tls,
            channels,
            options: self.session_options(),
        };
        // The first connection is made here, so that bad credentials or an
        // absent server are the caller's error rather than a retry loop.
        let first = Session::open(&plan).await?;
        let events = stream::unfold(Receiving::new(plan, first), |mut state| async move {
            let event = state.next_event().await;
            Some((event, state))
        });
        Ok(Listener {
            events: Box::pin(events),
        })
    }

    /// Defaults for what the connection string leaves unset: a connect
    /// timeout, and TCP settings that end a dead connection's writes and
    /// reads in about the liveness time.
    fn session_options(&self) -> SessionOptions {
        SessionOptions {
            table: self.table.clone(),
            heartbeats: self.heartbeats,
            responses: self.responses,
            ping_interval: self.ping_interval,
            ping_timeout: self.ping_timeout,
            max_backoff: self.max_backoff,
        }
    }

    fn tune(&self, config: &mut Config) {
        tune(config, self.ping_interval, self.ping_timeout);
        if config.get_application_name().is_none() {
            config.application_name("pg_socketio listener");
        }
    }
}

/// What the connection string leaves unset, for connections checked every
/// `interval` and given `timeout` to answer: a connect timeout, and TCP
/// settings that end a dead connection's writes and reads in about their
/// sum. Both listeners' tokio-postgres connections.
pub(crate) fn tune(config: &mut Config, interval: Duration, timeout: Duration) {
    let liveness = interval + timeout;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(liveness);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(liveness);
    }
    // TCP keepalive counts whole seconds: a shorter interval is refused
    // by the socket (EINVAL) when connecting.
    config
        .keepalives(true)
        .keepalives_idle(interval.max(Duration::from_secs(1)));
}

/// Each namespace's channel, with the namespace: what both listeners
/// LISTEN on or filter by.
pub(crate) fn channels(
    prefix: &str,
    namespaces: &[String],
) -> Result<Vec<(String, String)>, String> {
    if namespaces.is_empty() {
        return Err("no namespace to listen on".into());
    }
    namespaces
        .iter()
        .map(|nsp| Ok((channel_name(prefix, nsp)?, nsp.clone())))
        .collect::<Result<Vec<_>, pg_socketio_protocol::Error>>()
        .map_err(|e| e.to_string())
}

/// Receives decoded messages from PostgreSQL, in the order they were
/// committed, attachments included; reconnects by itself. Its connections
/// are read only while [`recv`](Self::recv) (or the `Stream`) is polled, so
/// a slow application holds PostgreSQL back instead of filling memory; and
/// dropping the listener closes them.
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
    events: Pin<Box<dyn Stream<Item = Event> + Send>>,
}

impl Listener {
    /// Options for a listener of the database at `config` (a URL or a
    /// key=value connection string, as tokio-postgres takes it).
    pub fn builder(config: impl Into<String>) -> ListenerBuilder {
        ListenerBuilder {
            config: config.into(),
            namespaces: vec!["/".into()],
            prefix: DEFAULT_PREFIX.into(),
            table: DEFAULT_ATTACHMENT_TABLE.into(),
            heartbeats: false,
            responses: false,
            ping_interval: Duration::from_secs(5),
            ping_timeout: Duration::from_secs(4),
            max_backoff: Duration::from_secs(5),
        }
    }

    /// The next event. It never ends (`None` is never returned): losses
    /// are reconnected and reported as [`Event::Gap`]. Cancel-safe: an
    /// event being read when the future is dropped is returned next time.
    pub async fn recv(&mut self) -> Option<Event> {
        self.events.next().await
    }
}

impl Stream for Listener {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.events.as_mut().poll_next(cx)
    }
}
