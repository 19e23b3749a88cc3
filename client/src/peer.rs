//! [`Peer`]: asks the servers of a namespace and collects their answers —
//! who is there, `fetchSockets`, `serverSideEmit` and broadcasts with
//! acknowledgements — as a member of the cluster would, over the channel
//! the Node.js `@socket.io/postgres-adapter` servers share.
//!
//! Servers count every sender `uid` but `"emitter"` as a member and wait for
//! its answers to their own requests. So a peer that does not
//! [announce](PeerBuilder::announce) itself sends as `"emitter"` (servers
//! never wait for it; answers are matched by request id); one that does
//! answers their requests (no sockets, no clients; server-side emits go to its
//! handler), sends heartbeats, and says ADAPTER_CLOSE when it goes.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use pg_socketio_protocol::{
    split_args, Body, Flags, Message, Operation, RawValue, RemoteSocket, Sender, SentEvent, Value,
    EMITTER_UID,
};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, Config, NoTls};
use tracing::{debug, warn};

use crate::emitter::{random_u64, EmitError, Emitter};
use crate::events::{Event, ListenerError};
use crate::listener::Listener;
use crate::session::MakeTls;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    #[error("invalid peer options: {0}")]
    Options(String),
    #[error(transparent)]
    Listener(#[from] ListenerError),
    /// Sending a request or an answer failed.
    #[error(transparent)]
    Send(#[from] EmitError),
    #[error("arguments: {0}")]
    Json(#[from] serde_json::Error),
}

/// What an [announcing](PeerBuilder::announce) peer answers to a server's
/// `serverSideEmit(event, ...args, callback)`: `Some(value)` is passed to
/// the callback, `None` leaves it unanswered (as a Node.js server without a
/// listener for the event does: the requester then waits for its timeout).
pub type ServerSideHandler = dyn Fn(&str, &[Value]) -> Option<serde_json::Value> + Send + Sync;

/// Options of a [`Peer`]; see [`Peer::builder`].
#[derive(Clone)]
pub struct PeerBuilder {
    config: String,
    nsp: String,
    prefix: String,
    table: String,
    announce: bool,
    heartbeat_interval: Duration,
    heartbeat_timeout: Duration,
    discovery: Duration,
    timeout: Duration,
    handler: Option<Arc<ServerSideHandler>>,
}

impl PeerBuilder {
    /// The namespace whose servers it talks to (default `/`).
    pub fn namespace(mut self, nsp: impl Into<String>) -> Self {
        self.nsp = nsp.into();
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

    /// Join the cluster as a member (default: no). Servers then count it,
    /// send it their requests, and wait for its answers, which it gives; it
    /// sends heartbeats every `interval` of [`heartbeat`](Self::heartbeat).
    pub fn announce(mut self, yes: bool) -> Self {
        self.announce = yes;
        self
    }

    /// The servers' `heartbeatInterval` and `heartbeatTimeout` (default 5 s
    /// and 10 s): a server not heard from for `timeout` is taken for gone.
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.heartbeat_interval = interval;
        self.heartbeat_timeout = timeout;
        self
    }

    /// How long [`connect`](Self::connect) waits for the servers to answer
    /// its INITIAL_HEARTBEAT (default 250 ms).
    pub fn discovery(mut self, wait: Duration) -> Self {
        self.discovery = wait;
        self
    }

    /// How long a request waits for answers unless told otherwise (default
    /// 5 s, as Node.js).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Answers the servers' `serverSideEmit` with acknowledgement (an
    /// announcing peer only; without a handler it leaves them unanswered).
    pub fn on_server_side_emit(
        mut self,
        handler: impl Fn(&str, &[Value]) -> Option<serde_json::Value> + Send + Sync + 'static,
    ) -> Self {
        self.handler = Some(Arc::new(handler));
        self
    }

    /// Connects without TLS; see [`connect_with`](Self::connect_with).
    pub async fn connect(self) -> Result<Peer, PeerError> {
        self.connect_with(NoTls).await
    }

    /// Connects (one LISTEN connection, one to send), learns the servers
    /// (INITIAL_HEARTBEAT, then [`discovery`](Self::discovery)), and starts
    /// answering if it announces itself.
    pub async fn connect_with<T: MakeTls>(self, tls: T) -> Result<Peer, PeerError> {
        let mut config: Config = self
            .config
            .parse()
            .map_err(|e| PeerError::Options(format!("connection string: {e}")))?;
        if config.get_application_name().is_none() {
            config.application_name("pg_socketio peer");
        }
        if self.heartbeat_interval.is_zero() || self.heartbeat_timeout <= self.heartbeat_interval {
            return Err(PeerError::Options(
                "the heartbeat timeout must be longer than a non-zero interval".into(),
            ));
        }
        let listener = Listener::builder(self.config.clone())
            .namespaces([self.nsp.clone()])
            .channel_prefix(self.prefix.clone())
            .attachment_table(self.table.clone())
            .heartbeats(true)
            .responses(true)
            .connect_with(tls.clone())
            .await?;
        let link = Link {
            uid: if self.announce {
                random_id()
            } else {
                EMITTER_UID.to_owned()
            },
            emitter: Emitter::new()
                .channel_prefix(self.prefix.clone())
                .attachment_table(self.table.clone())
                .of(self.nsp.clone()),
            db: tokio::sync::Mutex::new(None),
            connect: Box::new(move || {
                let (config, tls) = (config.clone(), tls.clone());
                Box::pin(async move {
                    let (client, connection) = config.connect(tls).await?;
                    tokio::spawn(connection);
                    Ok(client)
                })
            }),
        };
        let shared = Arc::new(Shared {
            link,
            state: Mutex::new(State::default()),
            announce: self.announce,
            nsp: self.nsp.clone(),
            handler: self.handler.clone(),
        });
        let mut tasks = vec![tokio::spawn(receive(shared.clone(), listener))];
        tasks.push(tokio::spawn(watch(
            shared.clone(),
            self.heartbeat_interval,
            self.heartbeat_timeout,
        )));
        let peer = Peer {
            shared,
            tasks,
            timeout: self.timeout,
            closed: false,
        };
        peer.discover(self.discovery).await?;
        Ok(peer)
    }
}

/// A server of the namespace, as its messages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Its adapter's `uid`.
    pub uid: String,
    /// When its last message arrived.
    pub last_seen: Instant,
}

/// One server's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<T> {
    /// The server's `uid`.
    pub server: String,
    pub value: T,
}

/// What came back from a request: every answer that arrived in time, and
/// who was expected and did not answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answers<T> {
    /// In arrival order; a server unknown when the request was sent is
    /// included when it answers.
    pub answers: Vec<Answer<T>>,
    /// Servers that neither answered before the timeout nor left.
    pub missing: Vec<String>,
    /// Servers that left (ADAPTER_CLOSE, or no heartbeat within the
    /// timeout) before answering.
    pub left: Vec<String>,
}

impl<T> Answers<T> {
    /// Every expected server answered.
    pub fn complete(&self) -> bool {
        self.missing.is_empty() && self.left.is_empty()
    }
}

/// What came back from a broadcast with acknowledgements.
#[derive(Debug, Clone, PartialEq)]
pub struct Acks {
    /// How many clients each server sent the event to.
    pub client_counts: Vec<Answer<u64>>,
    /// Each client's acknowledgement (its first argument), with the server
    /// that relayed it, in arrival order.
    pub acks: Vec<Answer<Value>>,
    /// Servers that did not report their client count in time.
    pub missing: Vec<String>,
    /// Servers that left before reporting it.
    pub left: Vec<String>,
}

impl Acks {
    /// Acknowledgements counted by the servers but not received.
    pub fn missing_acks(&self) -> u64 {
        let expected: u64 = self.client_counts.iter().map(|c| c.value).sum();
        expected.saturating_sub(self.acks.len() as u64)
    }

    /// Every expected server reported, and every client acknowledged.
    pub fn complete(&self) -> bool {
        self.missing.is_empty() && self.left.is_empty() && self.missing_acks() == 0
    }
}

/// A member of the cluster of one namespace that asks the servers for
/// answers. Dropping it stops its tasks and closes its connections (an
/// announcing peer says ADAPTER_CLOSE first when dropped inside a Tokio
/// runtime; [`close`](Self::close) waits until it is sent).
///
/// ```no_run
/// # async fn run() -> Result<(), pg_socketio_client::PeerError> {
/// use pg_socketio_client::Peer;
/// let peer = Peer::builder("postgres://postgres@127.0.0.1/test").connect().await?;
/// let online = peer.to("room1").fetch_sockets().await?;
/// for answer in &online.answers {
///     for socket in &answer.value {
///         println!("{} on {}: rooms {:?}", socket.id, answer.server, socket.rooms);
///     }
/// }
/// # Ok(()) }
/// ```
pub struct Peer {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
    timeout: Duration,
    closed: bool,
}

impl Peer {
    /// Options for a peer of the database at `config` (a URL or a key=value
    /// connection string, as tokio-postgres takes it).
    pub fn builder(config: impl Into<String>) -> PeerBuilder {
        PeerBuilder {
            config: config.into(),
            nsp: "/".into(),
            prefix: pg_socketio_protocol::DEFAULT_PREFIX.into(),
            table: pg_socketio_protocol::DEFAULT_ATTACHMENT_TABLE.into(),
            announce: false,
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_timeout: Duration::from_secs(10),
            discovery: Duration::from_millis(250),
            timeout: Duration::from_secs(5),
            handler: None,
        }
    }

    /// The `uid` it sends as: its own when it announces, else `"emitter"`.
    pub fn uid(&self) -> &str {
        &self.shared.link.uid
    }

    /// The servers heard from within the heartbeat timeout, by uid.
    pub fn servers(&self) -> Vec<Server> {
        let state = self.shared.lock();
        let mut servers: Vec<Server> = state
            .servers
            .iter()
            .map(|(uid, seen)| Server {
                uid: uid.clone(),
                last_seen: *seen,
            })
            .collect();
        servers.sort_by(|a, b| a.uid.cmp(&b.uid));
        servers
    }

    /// Asks every server to say it is there at once (INITIAL_HEARTBEAT:
    /// servers answer with a heartbeat), waits `wait`, and returns
    /// [`servers`](Self::servers).
    pub async fn discover(&self, wait: Duration) -> Result<Vec<Server>, PeerError> {
        self.shared
            .send(None, &[], &[], Operation::Heartbeat { initial: true })
            .await?;
        tokio::time::sleep(wait).await;
        Ok(self.servers())
    }

    /// Requests of this peer still waiting for answers.
    pub fn pending_requests(&self) -> usize {
        self.shared.lock().pending.len()
    }

    /// Selects every socket of the namespace.
    pub fn all(&self) -> Select<'_> {
        Select {
            peer: self,
            rooms: Vec::new(),
            except: Vec::new(),
            timeout: self.timeout,
        }
    }

    /// Selects the sockets in `room`.
    pub fn to(&self, room: impl Into<String>) -> Select<'_> {
        self.all().to(room)
    }

    /// Selects the sockets not in `room`.
    pub fn except(&self, room: impl Into<String>) -> Select<'_> {
        self.all().except(room)
    }

    /// `io.serverSideEmit(event, ...args, callback)`: every server's answer
    /// (what its listener passed to the callback).
    pub async fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: &impl Serialize,
        timeout: Duration,
    ) -> Result<Answers<Value>, PeerError> {
        let args = serde_json::value::to_raw_value(args)?;
        let args = split_args(args.get()).map_err(EmitError::from)?;
        let op = Operation::ServerSideEmit {
            event: SentEvent::new(event, &args),
        };
        self.shared
            .ask(&[], &[], op, timeout, |body| match body {
                Body::ServerSideEmitResponse { packet, .. } => Some(packet),
                _ => None,
            })
            .await
    }

    /// Says ADAPTER_CLOSE if it announced itself, then stops.
    pub async fn close(mut self) -> Result<(), PeerError> {
        self.closed = true;
        for task in &self.tasks {
            task.abort();
        }
        if self.shared.announce {
            self.shared
                .send(None, &[], &[], Operation::AdapterClose)
                .await?;
        }
        Ok(())
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        if self.shared.announce && !self.closed {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let shared = self.shared.clone();
                runtime.spawn(async move {
                    if let Err(e) = shared.send(None, &[], &[], Operation::AdapterClose).await {
                        warn!("pg_socketio peer: ADAPTER_CLOSE not sent: {e}");
                    }
                });
            }
        }
    }
}

/// Sockets selected for a request, as `io.to(..).except(..)` selects them.
#[derive(Clone)]
pub struct Select<'p> {
    peer: &'p Peer,
    rooms: Vec<String>,
    except: Vec<String>,
    timeout: Duration,
}

impl Select<'_> {
    pub fn to(mut self, room: impl Into<String>) -> Self {
        self.rooms.push(room.into());
        self
    }

    pub fn except(mut self, room: impl Into<String>) -> Self {
        self.except.push(room.into());
        self
    }

    /// How long to wait for the answers (`io.timeout(ms)`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `io.in(rooms).except(..).fetchSockets()`: each server's sockets.
    pub async fn fetch_sockets(&self) -> Result<Answers<Vec<RemoteSocket>>, PeerError> {
        let (rooms, except) = (strs(&self.rooms), strs(&self.except));
        let op = Operation::FetchSockets;
        self.peer
            .shared
            .ask(&rooms, &except, op, self.timeout, |body| match body {
                Body::FetchSocketsResponse { sockets, .. } => RemoteSocket::decode_all(&sockets)
                    // Counted as missing: its answer cannot be used.
                    .inspect_err(|e| warn!("pg_socketio peer: a fetchSockets answer: {e}"))
                    .ok(),
                _ => None,
            })
            .await
    }

    /// `io.to(..).timeout(ms).emit(event, ...args, callback)`: every
    /// client's acknowledgement, with the counts the servers report.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        args: &impl Serialize,
    ) -> Result<Acks, PeerError> {
        let shared = &self.peer.shared;
        let args = serde_json::value::to_raw_value(args)?;
        let args = split_args(args.get()).map_err(EmitError::from)?;
        let op = Operation::Emit {
            event: SentEvent::new(event, &args),
            flags: Flags::default(),
        };
        let mut request = shared.open();
        let (rooms, except) = (strs(&self.rooms), strs(&self.except));
        shared.send(Some(&request.id), &rooms, &except, op).await?;
        let mut client_counts: Vec<Answer<u64>> = Vec::new();
        let mut acks = Vec::new();
        // A server's count and its clients' acks travel on different
        // connections of its pool: either may arrive first.
        let ended = request
            .collect(self.timeout, |server, body| {
                match body {
                    Body::BroadcastClientCount { client_count, .. } => client_counts.push(Answer {
                        server: server.to_owned(),
                        value: client_count,
                    }),
                    Body::BroadcastAck { packet, .. } => acks.push(Answer {
                        server: server.to_owned(),
                        value: packet,
                    }),
                    _ => return None,
                }
                let expected: u64 = client_counts.iter().map(|c| c.value).sum();
                Some(Progress {
                    server_done: client_counts.iter().any(|c| c.server == server),
                    more: (acks.len() as u64) < expected,
                })
            })
            .await;
        Ok(Acks {
            client_counts,
            acks,
            missing: ended.missing,
            left: ended.left,
        })
    }
}

fn strs(items: &[String]) -> Vec<&str> {
    items.iter().map(String::as_str).collect()
}

/// What an answer did to its request.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Progress {
    /// The server's answer is complete.
    server_done: bool,
    /// The request still waits for something besides server answers
    /// (clients' acknowledgements).
    more: bool,
}

/// A whole answer from one server.
const DONE: Option<Progress> = Some(Progress {
    server_done: true,
    more: false,
});

/// How a request ended.
struct Ended {
    missing: Vec<String>,
    left: Vec<String>,
}

/// A request waiting for answers; dropping it (the caller's future
/// cancelled) removes it, so nothing is kept for answers that come later.
struct Request {
    shared: Arc<Shared>,
    id: String,
    answers: mpsc::UnboundedReceiver<Routed>,
    expected: BTreeSet<String>,
}

impl Request {
    /// Feeds answers to `answer` (`None`: not an answer to this request)
    /// until every expected server is done and nothing else is awaited, or
    /// `timeout`.
    async fn collect(
        &mut self,
        timeout: Duration,
        mut answer: impl FnMut(&str, Body) -> Option<Progress>,
    ) -> Ended {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut waiting = self.expected.clone();
        let mut left = Vec::new();
        let mut more = false;
        while !waiting.is_empty() || more {
            let routed = match tokio::time::timeout_at(deadline, self.answers.recv()).await {
                Ok(Some(routed)) => routed,
                // Timed out, or the peer's receiving task ended.
                Ok(None) | Err(_) => break,
            };
            match routed {
                Routed::Answer { server, body } => {
                    if let Some(progress) = answer(&server, body) {
                        if progress.server_done {
                            waiting.remove(&server);
                        }
                        more = progress.more;
                    }
                }
                Routed::Left { server } => {
                    if waiting.remove(&server) {
                        left.push(server);
                    }
                }
            }
        }
        Ended {
            missing: waiting.into_iter().collect(),
            left,
        }
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        self.shared.lock().pending.remove(&self.id);
    }
}

/// What the receiving task passes to a waiting request.
enum Routed {
    Answer { server: String, body: Body },
    Left { server: String },
}

/// What the peer's handle and its tasks share.
struct Shared {
    link: Link,
    state: Mutex<State>,
    announce: bool,
    nsp: String,
    handler: Option<Arc<ServerSideHandler>>,
}

#[derive(Default)]
struct State {
    /// Servers by uid, with when they were last heard from.
    servers: HashMap<String, Instant>,
    /// Requests waiting for answers, by request id.
    pending: HashMap<String, mpsc::UnboundedSender<Routed>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent whatever panicked while holding it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a request, expecting an answer from every known server.
    fn open(self: &Arc<Self>) -> Request {
        let id = random_id();
        let (tx, rx) = mpsc::unbounded_channel();
        let mut state = self.lock();
        state.pending.insert(id.clone(), tx);
        Request {
            shared: self.clone(),
            id,
            answers: rx,
            expected: state.servers.keys().cloned().collect(),
        }
    }

    /// Sends a request and collects one answer per server, each read by
    /// `read` (`None`: not an answer to it).
    async fn ask<T>(
        self: &Arc<Self>,
        rooms: &[&str],
        except: &[&str],
        op: Operation<'_, &RawValue>,
        timeout: Duration,
        mut read: impl FnMut(Body) -> Option<T>,
    ) -> Result<Answers<T>, PeerError> {
        let mut request = self.open();
        self.send(Some(&request.id), rooms, except, op).await?;
        let mut answers = Vec::new();
        let ended = request
            .collect(timeout, |server, body| {
                answers.push(Answer {
                    server: server.to_owned(),
                    value: read(body)?,
                });
                DONE
            })
            .await;
        Ok(Answers {
            answers,
            missing: ended.missing,
            left: ended.left,
        })
    }

    async fn send(
        &self,
        request_id: Option<&str>,
        rooms: &[&str],
        except: &[&str],
        op: Operation<'_, &RawValue>,
    ) -> Result<(), EmitError> {
        let sender = Sender {
            uid: &self.link.uid,
            request_id,
        };
        self.link.send(sender, rooms, except, op).await
    }

    /// Tells every waiting request that `server` is gone.
    fn left(&self, state: &mut State, server: &str) {
        state.servers.remove(server);
        for tx in state.pending.values() {
            let _ = tx.send(Routed::Left {
                server: server.to_owned(),
            });
        }
    }
}

type Connect = Box<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<Client, tokio_postgres::Error>> + Send>>
        + Send
        + Sync,
>;

/// The sending side: one connection, opened when first needed and again
/// after it is lost.
struct Link {
    uid: String,
    emitter: Emitter,
    db: tokio::sync::Mutex<Option<Client>>,
    connect: Connect,
}

impl Link {
    async fn send(
        &self,
        sender: Sender<'_>,
        rooms: &[&str],
        except: &[&str],
        op: Operation<'_, &RawValue>,
    ) -> Result<(), EmitError> {
        let mut db = self.db.lock().await;
        if db.as_ref().is_none_or(Client::is_closed) {
            *db = Some((self.connect)().await?);
        }
        let client = db.as_ref().expect("connected above");
        self.emitter
            .send_as(client, sender, rooms, except, op)
            .await
    }
}

/// Reads the channel: notes servers, routes answers to their requests, and
/// answers the servers' requests when the peer announces itself.
async fn receive(shared: Arc<Shared>, mut listener: Listener) {
    while let Some(event) = listener.recv().await {
        match event {
            Event::Message { message, .. } => handle(&shared, message).await,
            Event::Gap { reason } => {
                // Answers sent meanwhile are lost: their requests time out
                // and name the servers as missing.
                warn!("pg_socketio peer: connection lost and back ({reason})");
            }
            Event::Invalid { error, .. } => debug!("pg_socketio peer: skipped: {error}"),
        }
    }
}

async fn handle(shared: &Arc<Shared>, message: Message) {
    let Message { uid, nsp, body, .. } = message;
    if uid == shared.link.uid || nsp.as_deref().is_some_and(|n| n != shared.nsp) {
        return;
    }
    {
        let mut state = shared.lock();
        if uid != EMITTER_UID {
            state.servers.insert(uid.clone(), Instant::now());
        }
        match &body {
            Body::AdapterClose => return shared.left(&mut state, &uid),
            Body::FetchSocketsResponse { request_id, .. }
            | Body::ServerSideEmitResponse { request_id, .. }
            | Body::BroadcastClientCount { request_id, .. }
            | Body::BroadcastAck { request_id, .. } => {
                if let Some(tx) = state.pending.get(request_id) {
                    let _ = tx.send(Routed::Answer { server: uid, body });
                }
                return;
            }
            _ => {}
        }
    }
    if shared.announce {
        answer(shared, body).await;
    }
}

/// A member's answer to a request of a server or of another peer.
async fn answer(shared: &Shared, body: Body) {
    let (request_id, answering) = match body {
        Body::InitialHeartbeat => (None, Answering::Heartbeat),
        Body::FetchSockets { request_id, .. } => (Some(request_id), Answering::NoSockets),
        Body::Broadcast {
            request_id: Some(request_id),
            ..
        } => (Some(request_id), Answering::NoClients),
        Body::ServerSideEmit {
            request_id: Some(request_id),
            event,
            args,
        } => {
            let Some(value) = shared.handler.as_ref().and_then(|h| h(&event, &args)) else {
                return;
            };
            match serde_json::value::to_raw_value(&value) {
                Ok(raw) => (Some(request_id), Answering::Value(raw)),
                Err(e) => return warn!("pg_socketio peer: answer to {event}: {e}"),
            }
        }
        _ => return,
    };
    let op = match &answering {
        Answering::Heartbeat => Operation::Heartbeat { initial: false },
        Answering::NoSockets => Operation::NoSockets,
        Answering::NoClients => Operation::BroadcastClientCount { count: 0 },
        Answering::Value(raw) => Operation::ServerSideEmitResponse { answer: &&**raw },
    };
    if let Err(e) = shared.send(request_id.as_deref(), &[], &[], op).await {
        warn!("pg_socketio peer: answer not sent: {e}");
    }
}

/// What an announcing peer sends back.
enum Answering {
    Heartbeat,
    NoSockets,
    NoClients,
    Value(Box<RawValue>),
}

/// Sends heartbeats (an announcing peer) and forgets servers not heard from
/// within the timeout, as Node.js servers do.
async fn watch(shared: Arc<Shared>, interval: Duration, timeout: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(1).min(interval));
    let mut last_heartbeat = Instant::now();
    loop {
        tick.tick().await;
        {
            let mut state = shared.lock();
            let gone: Vec<String> = state
                .servers
                .iter()
                .filter(|(_, seen)| seen.elapsed() > timeout)
                .map(|(uid, _)| uid.clone())
                .collect();
            for uid in gone {
                debug!("pg_socketio peer: server {uid} seems down");
                shared.left(&mut state, &uid);
            }
        }
        if shared.announce && last_heartbeat.elapsed() >= interval {
            last_heartbeat = Instant::now();
            if let Err(e) = shared
                .send(None, &[], &[], Operation::Heartbeat { initial: false })
                .await
            {
                warn!("pg_socketio peer: heartbeat not sent: {e}");
            }
        }
    }
}

/// 16 hex digits, as Node.js adapters make their uids and request ids.
fn random_id() -> String {
    format!("{:016x}", random_u64())
}
