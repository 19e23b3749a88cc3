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

/// A session that emits with its own channel prefix.
pub async fn emitter(prefix: &str) -> Client {
    let client = connect().await;
    client
        .batch_execute(&format!("SET pg_socketio.channel_prefix = '{prefix}'"))
        .await
        .unwrap();
    client
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

/// A throw-away PostgreSQL cluster of the local installation, for tests that
/// need server settings (like `shared_preload_libraries`) or restarts that
/// must not touch the shared server. Stopped and removed on drop.
pub struct PrivateCluster {
    dir: std::path::PathBuf,
    bindir: String,
    pub port: u16,
}

impl PrivateCluster {
    /// initdb + start with `settings` (`name=value`); as `postgres` when root.
    pub fn start(settings: &[&str]) -> PrivateCluster {
        let bindir = std::process::Command::new("pg_config")
            .arg("--bindir")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .expect("pg_config (postgresql-server-dev) is needed for a private cluster");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("pg_socketio_cluster_{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let cluster = PrivateCluster { dir, bindir, port };
        if Self::is_root() {
            // initdb refuses root: the cluster belongs to postgres.
            let chown = std::process::Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&cluster.dir)
                .status();
            assert!(chown.unwrap().success());
        }
        cluster.pg(
            "initdb",
            &["-D", ".", "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        );
        let mut options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={}",
            cluster.dir.display()
        );
        for s in settings {
            options.push_str(&format!(" -c {s}"));
        }
        cluster.pg(
            "pg_ctl",
            &["-D", ".", "-l", "log", "-w", "-o", &options, "start"],
        );
        cluster
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub async fn connect(&self) -> Client {
        let (client, connection) = tokio_postgres::connect(&self.url(), NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    }

    fn is_root() -> bool {
        std::process::Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout.starts_with(b"0\n"))
            .unwrap_or(false)
    }

    fn pg(&self, program: &str, args: &[&str]) {
        let path = format!("{}/{program}", self.bindir);
        let mut cmd = if Self::is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--", &path]);
            c
        } else {
            std::process::Command::new(&path)
        };
        let out = cmd.args(args).current_dir(&self.dir).output().unwrap();
        assert!(
            out.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ =
            std::panic::catch_unwind(|| self.pg("pg_ctl", &["-D", ".", "-m", "immediate", "stop"]));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
