//! One connected period of a [`Listener`](crate::Listener): two connections
//! (one LISTENs, one reads attachment rows), turning notifications into
//! events; and [`Receiving`], which reconnects after a loss.
//!
//! Notifications are handled one at a time, in arrival order, when the
//! application asks for the next event: an attachment is read before the next
//! notification is handled, so a small message never overtakes a large one
//! sent before it. While an attachment is decoded, the next one, if its
//! notification is already here, is being read (one ahead, no more). While
//! the application does not ask, the LISTEN connection is not read;
//! PostgreSQL keeps the notifications in its queue. The LISTEN connection is
//! driven by the application's calls, not by a task of its own: no hand-over
//! between threads per message.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::poll_fn;
use futures_util::FutureExt;
use pg_socketio_protocol::{decode_attachment, decode_notification, Body, Message, Notice};
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, timeout, Instant};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{
    AsyncMessage, Client, Config, Connection, Notification, Row, Socket, Statement,
};
use tracing::{debug, warn};

use crate::emitter::random_u64;
use crate::events::{cause, message_namespace, Event, ListenerError};

/// A TLS connector tokio-postgres can use for the listener's connections
/// (`tokio_postgres::NoTls`, or one from `postgres-native-tls`/`tokio-postgres-rustls`).
pub trait MakeTls:
    MakeTlsConnect<Socket, Stream = Self::Tls, TlsConnect = Self::Connect>
    + Clone
    + Send
    + Sync
    + 'static
{
    #[doc(hidden)]
    type Tls: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static;
    #[doc(hidden)]
    type Connect: TlsConnect<Socket, Stream = Self::Tls, Future = Self::ConnectFuture> + Send;
    #[doc(hidden)]
    type ConnectFuture: Future + Send;
}

impl<T> MakeTls for T
where
    T: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    type Tls = T::Stream;
    type Connect = T::TlsConnect;
    type ConnectFuture = <T::TlsConnect as TlsConnect<Socket>>::Future;
}

/// What a session needs, fixed when the listener is built.
pub(crate) struct Plan<T> {
    pub config: Config,
    pub tls: T,
    /// `(channel, namespace)` pairs.
    pub channels: Vec<(String, String)>,
    pub options: SessionOptions,
}

/// What a session needs of the listener's options, as plain values.
#[derive(Debug, Clone)]
pub(crate) struct SessionOptions {
    pub table: String,
    pub heartbeats: bool,
    pub responses: bool,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub max_backoff: Duration,
}

impl SessionOptions {
    fn wants(&self, message: &Message) -> bool {
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

impl<T> Plan<T> {
    fn namespace_of(&self, channel: &str) -> Option<&str> {
        self.channels
            .iter()
            .find(|(c, _)| c == channel)
            .map(|(_, nsp)| nsp.as_str())
    }
}

/// The connection is gone; the reason goes into the [`Event::Gap`].
struct Lost(String);

impl Lost {
    /// The LISTEN connection ended without an error.
    fn closed() -> Lost {
        Lost("the server closed the connection".into())
    }
}

impl From<tokio_postgres::Error> for Lost {
    fn from(e: tokio_postgres::Error) -> Self {
        Lost(cause(&e))
    }
}

/// The attachment table, looked up once per session.
struct Fetch {
    table: String,
    statement: Statement,
}

pub(crate) struct Session<T: MakeTls> {
    listen: Client,
    connection: Connection<Socket, T::Tls>,
    /// Notifications read before their turn: while LISTEN was being
    /// answered, or to read the next attachment ahead.
    early: VecDeque<Notification>,
    /// How the LISTEN connection ended while reading ahead, for after the
    /// notifications that came before.
    ended: Option<Lost>,
    attachments: Attachments,
    /// The next attachment row, asked for while the one before is decoded.
    ahead: Option<Ahead>,
}

/// What a message of the LISTEN connection means: a notification, the
/// connection's end, or `None` for nothing to act on (a notice is logged).
fn listen_message(
    message: Option<Result<AsyncMessage, tokio_postgres::Error>>,
) -> Option<Result<Notification, Lost>> {
    match message {
        Some(Ok(AsyncMessage::Notification(n))) => Some(Ok(n)),
        Some(Ok(AsyncMessage::Notice(notice))) => {
            debug!(notice = %notice, "pg_socketio: server notice");
            None
        }
        Some(Ok(_)) => None,
        Some(Err(e)) => Some(Err(e.into())),
        None => Some(Err(Lost::closed())),
    }
}

/// The next notification of the LISTEN connection while the session is
/// being set up, when a lost connection is the caller's error.
async fn setup_notification<S, T>(
    connection: &mut Connection<S, T>,
) -> Result<Notification, ListenerError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match poll_fn(|cx| connection.poll_message(cx)).await {
            Some(Ok(AsyncMessage::Notification(n))) => return Ok(n),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => return Err(ListenerError::Closed),
        }
    }
}

/// An attachment row asked for ahead of its turn.
struct Ahead {
    id: i64,
    row: JoinHandle<Result<Option<Row>, tokio_postgres::Error>>,
}

/// The second connection, which reads attachment rows. Losing it loses no
/// message: the notification in hand and those behind it wait on the LISTEN
/// connection while it is opened again.
struct Attachments {
    /// Shared with the task that reads a row ahead.
    client: Arc<Client>,
    task: JoinHandle<()>,
    fetch: Option<Fetch>,
}

impl Drop for Attachments {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Attachments {
    /// Connects, named after the listener's own connection with
    /// " (attachments)" added, so that operators can tell the two apart.
    async fn open<T: MakeTls>(plan: &Plan<T>) -> Result<Attachments, tokio_postgres::Error> {
        let mut config = plan.config.clone();
        let name = format!(
            "{} (attachments)",
            plan.config.get_application_name().unwrap_or_default()
        );
        config.application_name(&name);
        let (client, connection) = config.connect(plan.tls.clone()).await?;
        let task = tokio::spawn(async move {
            if let Err(e) = connection.await {
                debug!(error = %e, "pg_socketio: attachment connection ended");
            }
        });
        Ok(Attachments {
            client: Arc::new(client),
            task,
            fetch: None,
        })
    }
}

impl<T: MakeTls> Session<T> {
    /// Connects both connections and LISTENs on every channel.
    pub async fn open(plan: &Plan<T>) -> Result<Self, ListenerError> {
        let (listen, connection) = plan.config.connect(plan.tls.clone()).await?;
        let mut session = Session {
            listen,
            connection,
            early: VecDeque::new(),
            ended: None,
            attachments: Attachments::open(plan).await?,
            ahead: None,
        };
        // A channel of this session alone, to see that notifications reach it.
        let probe = format!("pg_socketio_probe_{:016x}", random_u64());
        let sql: String = plan
            .channels
            .iter()
            .map(|(channel, _)| channel)
            .chain([&probe])
            .map(|channel| format!("LISTEN {};", quote_ident(channel)))
            .collect();
        let limit = plan.options.ping_timeout;
        timeout(limit, session.drive(&sql))
            .await
            .map_err(|_| ListenerError::Timeout(limit))??;
        timeout(limit, session.check_delivery(&probe))
            .await
            .map_err(|_| ListenerError::Undelivered(limit))??;
        Ok(session)
    }

    /// Runs `sql` on the LISTEN connection, polling the connection meanwhile
    /// (it delivers replies only while polled) and keeping notifications.
    async fn drive(&mut self, sql: &str) -> Result<(), ListenerError> {
        let Session {
            listen,
            connection,
            early,
            ..
        } = self;
        let query = listen.batch_execute(sql);
        tokio::pin!(query);
        loop {
            tokio::select! {
                done = &mut query => return Ok(done?),
                n = setup_notification(connection) => early.push_back(n?),
            }
        }
    }

    /// Sends a notification on `probe` from the attachment connection and
    /// waits for it on the LISTEN connection. LISTEN answers the same through
    /// a pooler in transaction mode (PgBouncer's `pool_mode = transaction`),
    /// but holds only on the server connection it ran on, which the pooler
    /// then gives to other clients: every notification would go to one of
    /// them, or nowhere, and this listener would wait in silence.
    async fn check_delivery(&mut self, probe: &str) -> Result<(), ListenerError> {
        // The statement, not pg_notify(), which a hardened database may
        // revoke from PUBLIC.
        let notify = format!("NOTIFY {}", quote_ident(probe));
        self.attachments.client.batch_execute(&notify).await?;
        loop {
            let n = setup_notification(&mut self.connection).await?;
            if n.channel() == probe {
                break;
            }
            self.early.push_back(n);
        }
        self.drive(&format!("UNLISTEN {}", quote_ident(probe)))
            .await
    }

    /// The next event this session has for the application: `Ok(None)`
    /// for a message the application did not ask for.
    async fn next_event(&mut self, plan: &Plan<T>) -> Result<Option<Event>, Lost> {
        let n = match self.early.pop_front() {
            Some(n) => n,
            None => self.next_notification(&plan.options).await?,
        };
        self.decode(n, plan).await
    }

    /// Waits for the next notification. An idle connection is checked every
    /// `ping_interval` with a query that must be answered within
    /// `ping_timeout`: this is what notices a half-open TCP connection.
    async fn next_notification(&mut self, options: &SessionOptions) -> Result<Notification, Lost> {
        if let Some(lost) = self.ended.take() {
            return Err(lost);
        }
        let Session {
            listen, connection, ..
        } = self;
        let mut ping: Option<Pin<Box<dyn Future<Output = _> + Send + '_>>> = None;
        let mut deadline = Instant::now() + options.ping_interval;
        loop {
            let pinging = async {
                match &mut ping {
                    Some(p) => p.await,
                    None => futures_util::future::pending().await,
                }
            };
            tokio::select! {
                // A waiting notification first: no timer is set while busy.
                biased;
                message = poll_fn(|cx| connection.poll_message(cx)) => {
                    if let Some(got) = listen_message(message) {
                        return got;
                    }
                }
                answer = pinging => {
                    answer?;
                    ping = None;
                    deadline = Instant::now() + options.ping_interval;
                }
                () = sleep_until(deadline) => {
                    if ping.is_some() {
                        return Err(Lost(format!(
                            "no answer to a liveness check within {:?}",
                            options.ping_timeout
                        )));
                    }
                    ping = Some(Box::pin(listen.simple_query("SELECT 1")));
                    deadline = Instant::now() + options.ping_timeout;
                }
            }
        }
    }

    /// Decodes one notification, reading its attachment if it has one.
    async fn decode(&mut self, n: Notification, plan: &Plan<T>) -> Result<Option<Event>, Lost> {
        let decoded = match decode_notification(n.payload()) {
            Ok(Notice::Message(message)) => Ok(message),
            // Boxed: the query's large state would otherwise be part of, and
            // be moved with, the future of every event.
            Ok(Notice::Attachment { id, .. }) => Box::pin(self.attachment(id, plan)).await?,
            Err(e) => Err(e.to_string()),
        };
        Ok(match (decoded, plan.namespace_of(n.channel())) {
            (Ok(message), Some(channel_nsp)) => {
                plan.options.wants(&message).then(|| Event::Message {
                    namespace: message_namespace(&message, channel_nsp),
                    message,
                })
            }
            (Ok(_), None) => Some(invalid(
                &n,
                "a channel this listener did not LISTEN on".into(),
            )),
            (Err(error), _) => Some(invalid(&n, error)),
        })
    }

    /// Reads and decodes attachment row `id`. `Ok(Err(..))` is a message
    /// that cannot be had (no such row, no such table, undecodable). When
    /// the attachment connection fails, or does not answer within the
    /// liveness timeout, it is opened again and the row read again; `Err`
    /// (a gap) only when that keeps failing, as when the server is down.
    async fn attachment(
        &mut self,
        id: i64,
        plan: &Plan<T>,
    ) -> Result<Result<Message, String>, Lost> {
        const ATTEMPTS: u32 = 3;
        let limit = plan.options.ping_timeout;
        let mut backoff = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            let reason = match timeout(limit, self.read_attachment(id, plan)).await {
                Ok(Ok(result)) => return Ok(result),
                Ok(Err(Lost(reason))) => reason,
                Err(_) => format!("no answer within {limit:?}"),
            };
            if attempt == ATTEMPTS {
                return Err(Lost(format!(
                    "the attachment connection failed {ATTEMPTS} times: {reason}"
                )));
            }
            warn!(%reason, attempt, "pg_socketio: attachment connection lost; opening it again");
            sleep(backoff).await;
            backoff *= 2;
            attempt += 1;
            match timeout(limit, Attachments::open(plan)).await {
                Ok(Ok(attachments)) => self.attachments = attachments,
                Ok(Err(e)) => {
                    debug!(error = %cause(&e), "pg_socketio: attachment connection refused")
                }
                Err(_) => debug!("pg_socketio: attachment connection not made within {limit:?}"),
            }
        }
    }

    /// One try at reading row `id`; `Err` when the connection is lost.
    async fn read_attachment(
        &mut self,
        id: i64,
        plan: &Plan<T>,
    ) -> Result<Result<Message, String>, Lost> {
        let fetch = match self.attachments.fetch.take() {
            Some(fetch) => fetch,
            None => match self.prepare(&plan.options.table).await? {
                Ok(fetch) => fetch,
                Err(error) => return Ok(Err(error)),
            },
        };
        // A row read ahead is taken as it is; if reading it failed, it is
        // read again here, where a failure is told apart and retried.
        let read_ahead = match self.ahead.take() {
            Some(ahead) if ahead.id == id => ahead.row.await.ok().and_then(Result::ok),
            _ => None,
        };
        let client = &self.attachments.client;
        let found = match read_ahead {
            Some(row) => Ok(row),
            None => client.query_opt(&fetch.statement, &[&id]).await,
        };
        let row = match found {
            Ok(row) => row,
            // An error on a live connection (table dropped, privileges
            // revoked): the message cannot be had; look the table up again
            // next time. One that closed the connection (a terminated
            // backend says 57P01 first) is a lost connection.
            Err(e) if e.as_db_error().is_some() && !client.is_closed() => {
                return Ok(Err(format!("reading attachment {id}: {}", cause(&e))))
            }
            Err(e) => return Err(e.into()),
        };
        self.read_ahead(&fetch, plan);
        if self.ahead.is_some() {
            // Lets the task that asks for it, and the connection's, send the
            // query before this row is decoded (on a current-thread runtime
            // too).
            tokio::task::yield_now().await;
        }
        let result = match row {
            None => Err(format!(
                "attachment {id} is not in {} (deleted before it was read?)",
                fetch.table
            )),
            Some(row) => row
                .try_get::<_, &[u8]>(0)
                .map_err(|e| format!("attachment {id}: {e}"))
                .and_then(|bytes| decode_attachment(bytes).map_err(|e| e.to_string())),
        };
        self.attachments.fetch = Some(fetch);
        Ok(result)
    }

    /// Asks for the next attachment row if its notification is already
    /// here, so that the server reads it while this one is decoded. One row
    /// ahead at most: attachments may be large.
    fn read_ahead(&mut self, fetch: &Fetch, plan: &Plan<T>) {
        if self.early.is_empty() && self.ended.is_none() {
            // `None` from now_or_never: nothing has arrived yet.
            let polled = poll_fn(|cx| self.connection.poll_message(cx)).now_or_never();
            match polled.and_then(listen_message) {
                Some(Ok(n)) => self.early.push_back(n),
                Some(Err(lost)) => self.ended = Some(lost),
                None => {}
            }
        }
        let Some(next) = self.early.front() else {
            return;
        };
        let Ok(Notice::Attachment { id, .. }) = decode_notification(next.payload()) else {
            return;
        };
        if plan.namespace_of(next.channel()).is_none() {
            return;
        }
        let (client, statement) = (self.attachments.client.clone(), fetch.statement.clone());
        self.ahead = Some(Ahead {
            id,
            row: tokio::spawn(async move { client.query_opt(&statement, &[&id]).await }),
        });
    }

    async fn prepare(&mut self, table: &str) -> Result<Result<Fetch, String>, Lost> {
        let client = &self.attachments.client;
        // `tableName` is SQL text in the Node packages (it may carry a
        // schema); regclass resolves it as they do and quotes it for us.
        let found = client
            .query_one("SELECT to_regclass($1)::text", &[&table])
            .await;
        let quoted = match found.map(|row| row.try_get::<_, Option<String>>(0)) {
            Ok(Ok(Some(quoted))) => quoted,
            Ok(_) => return Ok(Err(format!("attachment table {table} does not exist"))),
            Err(e) if e.as_db_error().is_some() && !client.is_closed() => {
                return Ok(Err(format!("attachment table {table}: {}", cause(&e))))
            }
            Err(e) => return Err(e.into()),
        };
        let sql = format!("SELECT payload FROM {quoted} WHERE id = $1::bigint");
        match client.prepare(&sql).await {
            Ok(statement) => Ok(Ok(Fetch {
                table: quoted,
                statement,
            })),
            Err(e) if e.as_db_error().is_some() && !client.is_closed() => {
                Ok(Err(format!("attachment table {quoted}: {}", cause(&e))))
            }
            Err(e) => Err(e.into()),
        }
    }
}

fn invalid(n: &Notification, error: String) -> Event {
    const SHOWN: usize = 200;
    let payload = n.payload();
    let mut end = payload.len().min(SHOWN);
    while !payload.is_char_boundary(end) {
        end -= 1;
    }
    warn!(channel = n.channel(), %error, "pg_socketio: skipped a notification");
    Event::Invalid {
        channel: n.channel().to_owned(),
        payload: payload[..end].to_owned(),
        error,
    }
}

/// `"name"`, with inner quotes doubled: channel names hold `#`, `/`, `.`;
/// the durable listener quotes slot and publication names with it too.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A listener's state between events.
pub(crate) struct Receiving<T: MakeTls> {
    plan: Plan<T>,
    state: State<T>,
}

enum State<T: MakeTls> {
    /// Boxed: a session is large, and a lost one leaves nothing behind.
    Connected(Box<Session<T>>),
    /// The connection was lost for this reason, to be told in the gap.
    Lost(String),
}

impl<T: MakeTls> Receiving<T> {
    pub fn new(plan: Plan<T>, first: Session<T>) -> Self {
        Receiving {
            plan,
            state: State::Connected(Box::new(first)),
        }
    }

    /// The next event. After a loss, reconnects with exponential backoff and
    /// reports the gap once listening again.
    pub async fn next_event(&mut self) -> Event {
        const FIRST_BACKOFF: Duration = Duration::from_millis(100);
        loop {
            let session = match &mut self.state {
                State::Connected(session) => session,
                State::Lost(reason) => {
                    let reason = std::mem::take(reason);
                    let mut backoff = FIRST_BACKOFF;
                    loop {
                        match Box::pin(Session::open(&self.plan)).await {
                            Ok(session) => {
                                self.state = State::Connected(Box::new(session));
                                return Event::Gap { reason };
                            }
                            Err(e) => {
                                debug!(error = %e, ?backoff, "pg_socketio: reconnect failed");
                                sleep(backoff).await;
                                backoff = (backoff * 2).min(self.plan.options.max_backoff);
                            }
                        }
                    }
                }
            };
            match session.next_event(&self.plan).await {
                Ok(Some(event)) => return event,
                Ok(None) => {}
                Err(Lost(reason)) => {
                    warn!(%reason, "pg_socketio: listener connection lost; reconnecting");
                    self.state = State::Lost(reason);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::quote_ident;

    #[test]
    fn channel_names_are_quoted() {
        assert_eq!(quote_ident("socket.io#/"), "\"socket.io#/\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
