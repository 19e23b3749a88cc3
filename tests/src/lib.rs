//! Helpers shared by the integration tests: a connection to the real
//! PostgreSQL (with pg_socketio installed) and a LISTENing connection.

use std::time::Duration;

use futures_util::{stream, StreamExt};
use tokio::sync::{mpsc, OnceCell};
use tokio_postgres::{AsyncMessage, Client, NoTls, Notification};

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// `DATABASE_URL`, or the local server's `test` database.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned())
}

/// Connects, failing with a clear message instead of hanging when no server
/// answers. Notifications on this connection are passed to `notifications`.
async fn connect_with(notifications: Option<mpsc::UnboundedSender<Notification>>) -> Client {
    let url = database_url();
    let attempt = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_postgres::connect(&url, NoTls),
    );
    let (client, mut connection) = match attempt.await {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => panic!("no PostgreSQL answers at {url}: {e} (start it, or set DATABASE_URL)"),
        Err(_) => {
            panic!("no PostgreSQL answered at {url} within 10 s (start it, or set DATABASE_URL)")
        }
    };
    // Notifications arrive only when the connection is polled for messages.
    tokio::spawn(async move {
        let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let (AsyncMessage::Notification(n), Some(tx)) = (message, &notifications) {
                let _ = tx.send(n);
            }
        }
    });
    client
}

static EXTENSION: OnceCell<()> = OnceCell::const_new();

/// A connection where the freshly installed pg_socketio is created anew
/// (once per test binary), so that tests never run against an old version.
pub async fn connect() -> Client {
    EXTENSION
        .get_or_init(|| async {
            let client = connect_with(None).await;
            client
                .batch_execute(
                    "SELECT pg_advisory_lock(7226);
                     DROP EXTENSION IF EXISTS pg_socketio CASCADE;
                     CREATE EXTENSION pg_socketio;
                     SELECT pg_advisory_unlock(7226);",
                )
                .await
                .expect("CREATE EXTENSION pg_socketio (is it installed? run scripts/test.sh)");
        })
        .await;
    connect_with(None).await
}

/// A connection that LISTENs on `channels`.
pub struct Listener {
    _client: Client,
    rx: mpsc::UnboundedReceiver<Notification>,
}

impl Listener {
    pub async fn new(channels: &[&str]) -> Listener {
        let (tx, rx) = mpsc::unbounded_channel();
        let client = connect_with(Some(tx)).await;
        for channel in channels {
            let quoted = channel.replace('"', "\"\"");
            client
                .batch_execute(&format!("LISTEN \"{quoted}\""))
                .await
                .unwrap();
        }
        Listener {
            _client: client,
            rx,
        }
    }

    /// The next notification, or `None` after `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<Notification> {
        tokio::time::timeout(wait, self.rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// Every notification that arrives within `quiet` of the previous one.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<Notification> {
        let mut all = Vec::new();
        while let Some(n) = self.next(quiet).await {
            all.push(n);
        }
        all
    }
}

/// A payload as JSON, with this project's `seq` field taken out and returned.
pub fn without_seq(payload: &str) -> (serde_json::Value, Option<u64>) {
    let mut value: serde_json::Value = serde_json::from_str(payload).unwrap();
    let seq = value
        .as_object_mut()
        .unwrap()
        .remove("seq")
        .and_then(|s| s.as_u64());
    (value, seq)
}

/// A channel prefix unique to one test, so that tests running side by side
/// never see each other's messages.
pub fn unique_prefix(test: &str) -> String {
    format!("it_{test}_{}", std::process::id())
}
