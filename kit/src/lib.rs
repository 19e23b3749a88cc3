//! Helpers shared by the integration tests: a connection to the real
//! PostgreSQL (with pg_socketio installed) and a LISTENing connection.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use futures_util::{stream, StreamExt};
use tokio::sync::{mpsc, OnceCell};
use tokio_postgres::{AsyncMessage, Client, NoTls, Notification};

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// `DATABASE_URL`, or the local server's `test` database.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned())
}

/// The TCP address of `DATABASE_URL`'s server.
pub fn database_address() -> std::net::SocketAddr {
    let config: tokio_postgres::Config = database_url().parse().expect("DATABASE_URL");
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
        .expect("DATABASE_URL's host resolves")
        .next()
        .expect("an address")
}

/// Connects to `url`, failing with a clear message instead of hanging when
/// no server answers. What the server sends unasked (notifications, notices)
/// is passed to the receiver, which may be dropped.
pub async fn open(url: &str) -> (Client, mpsc::UnboundedReceiver<AsyncMessage>) {
    let attempt =
        tokio::time::timeout(Duration::from_secs(10), tokio_postgres::connect(url, NoTls));
    let (client, mut connection) = match attempt.await {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => panic!("no PostgreSQL answers at {url}: {e} (start it, or set DATABASE_URL)"),
        Err(_) => {
            panic!("no PostgreSQL answered at {url} within 10 s (start it, or set DATABASE_URL)")
        }
    };
    let (tx, rx) = mpsc::unbounded_channel();
    // These messages arrive only when the connection is polled for them.
    tokio::spawn(async move {
        let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            let _ = tx.send(message);
        }
    });
    (client, rx)
}

/// A fresh, empty database of the local server (dropped first if a
/// previous run left it), connected to.
pub async fn scratch_database(name: &str) -> Client {
    let (admin, _) = open(&database_url()).await;
    // Two statements: neither may run inside a transaction block.
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin.batch_execute(&sql).await.unwrap();
    }
    open(&scratch_url(name)).await.0
}

/// The address of the scratch database `name`.
pub fn scratch_url(name: &str) -> String {
    let base = database_url();
    let (server, _) = base.rsplit_once('/').unwrap();
    format!("{server}/{name}")
}

/// Drops the scratch database `name`, its sessions ended.
pub async fn drop_scratch_database(name: &str) {
    let (admin, _) = open(&database_url()).await;
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .unwrap();
}

static EXTENSION: OnceCell<()> = OnceCell::const_new();

/// A connection where the freshly installed pg_socketio is created anew
/// (once per test binary), so that tests never run against an old version.
pub async fn connect() -> Client {
    EXTENSION
        .get_or_init(|| async {
            let (client, _) = open(&database_url()).await;
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
    open(&database_url()).await.0
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

/// A bare connection that LISTENs on `channels` and hands over raw
/// notifications: what the tests compare the payloads with (the crate's
/// `pg_socketio_client::Listener` decodes them).
pub struct RawListener {
    _client: Client,
    messages: mpsc::UnboundedReceiver<AsyncMessage>,
}

impl RawListener {
    pub async fn new(channels: &[&str]) -> RawListener {
        RawListener::at(&database_url(), channels).await
    }

    /// One that LISTENs in the database at `url`.
    pub async fn at(url: &str, channels: &[&str]) -> RawListener {
        let (client, messages) = open(url).await;
        for channel in channels {
            let quoted = channel.replace('"', "\"\"");
            client
                .batch_execute(&format!("LISTEN \"{quoted}\""))
                .await
                .unwrap();
        }
        RawListener {
            _client: client,
            messages,
        }
    }

    /// The next notification, or `None` after `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<Notification> {
        let notification = async {
            loop {
                match self.messages.recv().await? {
                    AsyncMessage::Notification(n) => return Some(n),
                    _ => continue,
                }
            }
        };
        tokio::time::timeout(wait, notification)
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

/// What `pg_config <flag>` prints, of the installation in `bindir` or, for
/// `None`, of the one on PATH (the server under test).
pub fn pg_config(bindir: Option<&str>, flag: &str) -> String {
    let program = bindir.map_or_else(|| "pg_config".to_owned(), |d| format!("{d}/pg_config"));
    let out = std::process::Command::new(&program)
        .arg(flag)
        .output()
        .unwrap_or_else(|e| panic!("{program} (postgresql-server-dev is needed): {e}"));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A free port, and a fresh directory named after it, owned by `postgres`
/// when root (PostgreSQL and PgBouncer refuse to run as root).
fn port_and_directory(kind: &str) -> (u16, std::path::PathBuf) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("pg_socketio_{kind}_{port}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    give_to_postgres(std::slice::from_ref(&dir));
    (port, dir)
}

/// Makes `paths` the `postgres` user's when root: the server and PgBouncer
/// run as that user, and refuse files they cannot own or read.
fn give_to_postgres(paths: &[std::path::PathBuf]) {
    if PrivateCluster::is_root() {
        let chown = std::process::Command::new("chown")
            .arg("postgres:postgres")
            .args(paths)
            .status();
        assert!(chown.unwrap().success());
    }
}

/// A throw-away PostgreSQL cluster of the local installation, for tests that
/// need server settings (like `shared_preload_libraries`) or restarts that
/// must not touch the shared server. Stopped and removed on drop.
pub struct PrivateCluster {
    dir: std::path::PathBuf,
    bindir: String,
    pub port: u16,
    /// The server's address space limit (`ulimit -v`), in kB.
    memory_kb: Option<u64>,
}

impl PrivateCluster {
    /// initdb + start with `settings` (`name=value`); as `postgres` when root.
    pub fn start(settings: &[&str]) -> PrivateCluster {
        Self::start_with(settings, None)
    }

    /// [`start`](Self::start), every server process limited to `memory_kb`
    /// of address space (`ulimit -v`): an allocation beyond fails, as it
    /// does on a server whose memory ran out.
    pub fn start_with_memory_limit(settings: &[&str], memory_kb: u64) -> PrivateCluster {
        Self::start_with(settings, Some(memory_kb))
    }

    /// Makes the cluster take TCP connections with TLS only (`hostssl`;
    /// `postgres` trusted, other roles by SCRAM password; the Unix socket
    /// stays open to the server's tools), with a self-signed
    /// certificate for 127.0.0.1 ([`certificate`](Self::certificate)), and
    /// restarts it. False, leaving the cluster as it is, when the server
    /// was built without SSL support (as the PyPI wheels of 16 and 18 are).
    pub async fn require_tls(&self) -> bool {
        let db = self.connect().await;
        let library: String = db.query_one("SHOW ssl_library", &[]).await.unwrap().get(0);
        if library.is_empty() {
            return false;
        }
        self.write_tls_files();
        db.batch_execute("ALTER SYSTEM SET ssl = on").await.unwrap();
        drop(db);
        self.restart();
        true
    }

    /// The certificate (PEM) of a cluster made to [`require_tls`](Self::require_tls),
    /// for a client to trust.
    pub fn certificate(&self) -> Vec<u8> {
        std::fs::read(self.dir.join("server.crt")).unwrap()
    }

    /// The certificate and key where `ssl=on` looks for them (the data
    /// directory), and a pg_hba.conf for TLS only.
    fn write_tls_files(&self) {
        let openssl = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .args(["-keyout", "server.key", "-out", "server.crt"])
            .current_dir(&self.dir)
            .output()
            .unwrap();
        assert!(openssl.status.success(), "{openssl:?}");
        std::fs::write(
            self.dir.join("pg_hba.conf"),
            "local all all trust\nhostssl all postgres 127.0.0.1/32 trust\n\
             hostssl all all 127.0.0.1/32 scram-sha-256\n",
        )
        .unwrap();
        give_to_postgres(&["server.key", "server.crt", "pg_hba.conf"].map(|f| self.dir.join(f)));
        std::fs::set_permissions(
            self.dir.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }

    fn start_with(settings: &[&str], memory_kb: Option<u64>) -> PrivateCluster {
        let cluster = Self::initdb(Self::local_bindir(), memory_kb);
        cluster.launch(settings);
        cluster
    }

    /// The `bin` directory of the installation `pg_config` (on PATH) names.
    pub fn local_bindir() -> String {
        pg_config(None, "--bindir")
    }

    /// The server's log when it refuses to start with `settings`.
    pub fn refused_start(settings: &[&str]) -> String {
        let cluster = Self::initdb(Self::local_bindir(), None);
        let started = cluster.try_launch(settings);
        assert!(started.is_err(), "the server started with {settings:?}");
        cluster.log()
    }

    /// [`start`](Self::start) with every server process under valgrind's
    /// callgrind, which counts the instructions a process runs (the same
    /// count for the same binary and input, however busy the machine) and
    /// writes them to `callgrind.<pid>` in [`callgrind_outputs`] as the
    /// process ends. Only a backend's own work is counted (what runs in
    /// `PostgresMain`): a forked process would otherwise start with the
    /// postmaster's count.
    ///
    /// [`callgrind_outputs`]: Self::callgrind_outputs
    pub fn start_under_callgrind(settings: &[&str]) -> PrivateCluster {
        let cluster = Self::initdb(Self::local_bindir(), None);
        // pg_ctl starts the program `-p` names with the server's arguments.
        let wrapper = cluster.dir.join("postgres-under-callgrind");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec valgrind --tool=callgrind --trace-children=yes \
                 --collect-atstart=no --toggle-collect=PostgresMain \
                 --callgrind-out-file={}/callgrind.%p {}/postgres \"$@\"\n",
                cluster.callgrind_dir().display(),
                cluster.bindir
            ),
        )
        .unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir_all(cluster.callgrind_dir()).unwrap();
        give_to_postgres(&[cluster.callgrind_dir()]);
        if let Err(said) = cluster.try_launch_program(settings, wrapper.to_str()) {
            panic!("pg_ctl start under callgrind failed: {said}");
        }
        cluster
    }

    /// The files callgrind has written so far, one per ended process (see
    /// [`start_under_callgrind`](Self::start_under_callgrind)).
    pub fn callgrind_outputs(&self) -> Vec<std::path::PathBuf> {
        std::fs::read_dir(self.callgrind_dir())
            .map(|dir| dir.map(|entry| entry.unwrap().path()).collect())
            .unwrap_or_default()
    }

    /// Outside the data directory, which the server keeps as its own.
    fn callgrind_dir(&self) -> std::path::PathBuf {
        self.dir.with_extension("callgrind")
    }

    /// [`start`](Self::start) with the installation in `bindir`.
    pub fn start_in(bindir: &str, settings: &[&str]) -> PrivateCluster {
        let cluster = Self::initdb(bindir.to_owned(), None);
        cluster.launch(settings);
        cluster
    }

    /// A new cluster, not started; with data checksums, which PostgreSQL 18
    /// turns on by default and pg_upgrade wants alike on both sides.
    fn initdb(bindir: String, memory_kb: Option<u64>) -> PrivateCluster {
        let cluster = Self::empty(bindir, memory_kb);
        cluster.pg(
            "initdb",
            &[
                "-D",
                ".",
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--data-checksums",
            ],
        );
        cluster
    }

    /// This cluster moved to the installation in `bindir` with its
    /// `pg_upgrade`, then started: the major version upgrade users run.
    pub fn upgrade(self, bindir: &str) -> PrivateCluster {
        self.pg("pg_ctl", &["-D", ".", "-m", "fast", "stop"]);
        let new = Self::initdb(bindir.to_owned(), None);
        let (old_dir, new_dir) = (
            self.dir.display().to_string(),
            new.dir.display().to_string(),
        );
        let (old_port, new_port) = (self.port.to_string(), new.port.to_string());
        new.pg(
            "pg_upgrade",
            &[
                "-b",
                &self.bindir,
                "-B",
                bindir,
                "-d",
                &old_dir,
                "-D",
                &new_dir,
                "-p",
                &old_port,
                "-P",
                &new_port,
                "-U",
                "postgres",
            ],
        );
        new.launch(&[]);
        new
    }

    /// A hot standby of this cluster (`pg_basebackup -R`), on its own port,
    /// replaying what this one writes; `None` where neither the
    /// installation nor `PG_CLIENT_TOOLS` has pg_basebackup.
    pub fn standby(&self) -> Option<PrivateCluster> {
        self.standby_with(&[])
    }

    /// [`standby`](Self::standby), started with `settings` (`name=value`).
    pub fn standby_with(&self, settings: &[&str]) -> Option<PrivateCluster> {
        // pg_basebackup copies servers of its own major and older ones, so
        // an installation without it borrows PG_CLIENT_TOOLS's (a newer
        // major's `bin`; scripts/test.sh sets 18's).
        let has_it =
            |bindir: &str| std::path::Path::new(&format!("{bindir}/pg_basebackup")).exists();
        let tools = std::iter::once(self.bindir.clone())
            .chain(std::env::var("PG_CLIENT_TOOLS"))
            .find(|bindir| has_it(bindir))?;
        let mut standby = Self::empty(tools, None);
        let port = self.port.to_string();
        standby.pg(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                ".",
                "-R",
                "--checkpoint=fast",
                // The WAL at the end, not streamed beside it: the streaming
                // child waits out its 10 s status interval on an idle server.
                "--wal-method=fetch",
            ],
        );
        standby.bindir = self.bindir.clone();
        standby.launch(settings);
        Some(standby)
    }

    /// Promotes this standby (`pg_ctl promote`), waiting until it takes writes.
    pub fn promote(&self) {
        self.pg("pg_ctl", &["-D", ".", "-w", "promote"]);
    }

    /// Stops the server at once (`-m immediate`), as a crash would.
    pub fn crash(&self) {
        self.pg("pg_ctl", &["-D", ".", "-m", "immediate", "stop"]);
    }

    /// A free port and an empty directory for it, owned by `postgres` when
    /// root (initdb and the server refuse root), mode 0700.
    fn empty(bindir: String, memory_kb: Option<u64>) -> PrivateCluster {
        let (port, dir) = port_and_directory("cluster");
        // What the server demands of its data directory (initdb sets it;
        // pg_basebackup into an existing directory does not).
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        PrivateCluster {
            dir,
            bindir,
            port,
            memory_kb,
        }
    }

    /// `pg_ctl start` on this cluster's port and socket directory.
    fn launch(&self, settings: &[&str]) {
        if let Err(said) = self.try_launch(settings) {
            panic!("pg_ctl start failed: {said}");
        }
    }

    fn try_launch(&self, settings: &[&str]) -> Result<(), String> {
        self.try_launch_program(settings, None)
    }

    /// `program`: what pg_ctl starts instead of the installation's
    /// `postgres`.
    fn try_launch_program(&self, settings: &[&str], program: Option<&str>) -> Result<(), String> {
        let mut options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={}",
            self.port,
            self.dir.display()
        );
        for s in settings {
            options.push_str(&format!(" -c {s}"));
        }
        let mut args = vec!["-D", ".", "-l", "log", "-w", "-o", &options];
        if let Some(program) = program {
            args.extend(["-p", program]);
        }
        args.push("start");
        self.try_pg("pg_ctl", &args)
    }

    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    /// Database `database` of this cluster, over TCP.
    pub fn url_of(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub async fn connect(&self) -> Client {
        open(&self.url()).await.0
    }

    /// The same database through the cluster's Unix socket.
    pub fn socket_url(&self) -> String {
        format!(
            "host={} port={} user=postgres dbname=postgres",
            self.dir.display(),
            self.port
        )
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// A fast restart (`pg_ctl restart -m fast`): every connection is closed.
    pub fn restart(&self) {
        self.pg(
            "pg_ctl",
            &["-D", ".", "-l", "log", "-w", "-m", "fast", "restart"],
        );
    }

    fn is_root() -> bool {
        std::process::Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout.starts_with(b"0\n"))
            .unwrap_or(false)
    }

    fn pg(&self, program: &str, args: &[&str]) {
        if let Err(said) = self.try_pg(program, args) {
            panic!("{program} failed: {said}");
        }
    }

    fn try_pg(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let path = format!("{}/{program}", self.bindir);
        // The limit, when there is one, through a shell's ulimit, which the
        // server inherits.
        let limited = self
            .memory_kb
            .map(|kb| format!("ulimit -v {kb} && exec \"$0\" \"$@\""));
        let mut line: Vec<&str> = Vec::new();
        if Self::is_root() {
            line.extend(["runuser", "-u", "postgres", "--"]);
        }
        if let Some(limited) = &limited {
            line.extend(["sh", "-c", limited]);
        }
        line.push(&path);
        let mut cmd = std::process::Command::new(line[0]);
        cmd.args(&line[1..]);
        let out = cmd.args(args).current_dir(&self.dir).output().unwrap();
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        // Not running when it was upgraded (or never started).
        if self.dir.join("postmaster.pid").exists() {
            let _ = std::panic::catch_unwind(|| {
                self.pg("pg_ctl", &["-D", ".", "-m", "immediate", "stop"])
            });
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_dir_all(self.callgrind_dir());
    }
}

/// A PgBouncer (Debian's `pgbouncer`) in front of the test server of
/// `DATABASE_URL`, on its own port, pooling each database in `mode`
/// (`transaction` or `session`) over at most two server connections, trusting
/// `postgres`; stopped on drop. As `postgres` when root (it refuses root).
pub struct PgBouncer {
    dir: std::path::PathBuf,
    pub port: u16,
    process: std::process::Child,
}

impl PgBouncer {
    pub async fn start(mode: &str) -> PgBouncer {
        let (port, dir) = port_and_directory("pgbouncer");
        let server = database_address();
        let config = format!(
            "[databases]\n* = host={} port={}\n\
             [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
             unix_socket_dir =\nauth_type = trust\nauth_file = {users}\n\
             pool_mode = {mode}\ndefault_pool_size = 2\nlogfile = {log}\n",
            server.ip(),
            server.port(),
            users = dir.join("users.txt").display(),
            log = dir.join("log").display(),
        );
        std::fs::write(dir.join("pgbouncer.ini"), config).unwrap();
        std::fs::write(dir.join("users.txt"), "\"postgres\" \"\"\n").unwrap();
        let mut command = std::process::Command::new("pgbouncer");
        if PrivateCluster::is_root() {
            command.args(["-u", "postgres"]);
        }
        let process = command
            .arg(dir.join("pgbouncer.ini"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("pgbouncer (scripts/setup.sh installs it)");
        let bouncer = PgBouncer { dir, port, process };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return bouncer;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("pgbouncer did not listen within 5 s: {}", bouncer.log());
    }

    /// `DATABASE_URL`'s database, through this pooler.
    pub fn url(&self) -> String {
        let config: tokio_postgres::Config = database_url().parse().unwrap();
        format!(
            "postgres://postgres@127.0.0.1:{}/{}",
            self.port,
            config.get_dbname().unwrap_or("postgres")
        )
    }

    /// What the pooler has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TCP proxy to the test server whose connections can be made half-open:
/// [`freeze`](Self::freeze) stops forwarding on every connection open at that
/// moment without closing it, as a dead peer or a dropped route would;
/// [`freeze_last`](Self::freeze_last) on the newest one only. Connections
/// made later are forwarded normally.
pub struct FreezingProxy {
    pub port: u16,
    /// One switch per open connection, oldest first.
    connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::sync::watch::Sender<bool>>>>,
}

impl FreezingProxy {
    /// A proxy to the test server of `DATABASE_URL`.
    pub async fn start() -> FreezingProxy {
        Self::to(database_address()).await
    }

    /// A proxy to the server at `upstream`.
    pub async fn to(upstream: std::net::SocketAddr) -> FreezingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let open = connections.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    continue;
                };
                let (switch, frozen) = tokio::sync::watch::channel(false);
                open.lock().unwrap().push(switch);
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(forward(client_read, server_write, frozen.clone()));
                tokio::spawn(forward(server_read, client_write, frozen));
            }
        });
        FreezingProxy { port, connections }
    }

    /// The test database's URL, through this proxy.
    pub fn url(&self, application_name: &str) -> String {
        let config: tokio_postgres::Config = database_url().parse().expect("DATABASE_URL");
        format!(
            "postgres://{}@127.0.0.1:{}/{}?application_name={application_name}",
            config.get_user().unwrap_or("postgres"),
            self.port,
            config.get_dbname().unwrap_or("postgres")
        )
    }

    pub fn freeze(&self) {
        for switch in self.connections.lock().unwrap().drain(..) {
            switch.send_replace(true);
        }
    }

    pub fn freeze_last(&self) {
        if let Some(switch) = self.connections.lock().unwrap().pop() {
            switch.send_replace(true);
        }
    }
}

async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut frozen: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            _ = async { frozen.wait_for(|f| *f).await.map(|_| ()) } => {
                // Keep both sockets open and silent, forever.
                std::future::pending::<()>().await;
            }
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if to.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            },
        }
    }
}

/// A LOGIN role of the shared server that is a member of `roles` and has no
/// other rights; dropped by [`TestRole::drop_role`].
pub struct TestRole {
    pub name: String,
}

impl TestRole {
    pub async fn create(admin: &Client, name: &str, roles: &[&str]) -> TestRole {
        let name = format!("{name}_{}", std::process::id());
        let member_of = if roles.is_empty() {
            String::new()
        } else {
            format!(" IN ROLE {}", roles.join(", "))
        };
        admin
            .batch_execute(&format!(
                "DROP ROLE IF EXISTS {name}; CREATE ROLE {name} LOGIN{member_of}"
            ))
            .await
            .unwrap();
        TestRole { name }
    }

    /// `DATABASE_URL` with this role as the user.
    pub fn url(&self) -> String {
        let url = database_url();
        let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        format!("{scheme}://{}@{host}", self.name)
    }

    pub async fn connect(&self) -> Client {
        open(&self.url()).await.0
    }

    pub async fn drop_role(self, admin: &Client) {
        admin
            .batch_execute(&format!("DROP OWNED BY {0}; DROP ROLE {0}", self.name))
            .await
            .unwrap();
    }
}

/// A `bytea` expression that lz4 cannot make smaller: `digests` MD5
/// digests of 16 bytes each (`digests` a number or a parameter).
pub fn incompressible_bytes(digests: impl std::fmt::Display) -> String {
    format!(
        "(SELECT decode(string_agg(md5(i::text), ''), 'hex') FROM generate_series(1, {digests}) i)"
    )
}

/// A broadcast `e` with a one-byte binary argument: an attachment.
pub const BINARY_EMIT: &str = r#"SELECT sio_emit_args(ARRAY[]::text[], 'e', '[{"_placeholder":true,"num":0}]', ARRAY['\x01'::bytea])"#;

/// The non-owner grants of `acl` (a NULL one read as PostgreSQL's default
/// for `kind`: `f` function, `r` table, `s` sequence, `c` column), as
/// `grantee:privilege/grantor,...`; what owners hold is left out, since
/// PostgreSQL decides that per version (17 gave them MAINTAIN).
fn grants(acl: &str, kind: char, owner: &str) -> String {
    let acl = if kind == 'c' {
        acl.to_owned()
    } else {
        format!("coalesce({acl}, acldefault('{kind}', {owner}))")
    };
    format!(
        "(SELECT coalesce(string_agg(g, ',' ORDER BY g), '') FROM (
            SELECT format('%s:%s/%s', grantee::regrole, privilege_type, grantor::regrole) AS g
              FROM aclexplode({acl}) WHERE grantee <> {owner}) grants)"
    )
}

/// Everything the extension defines and grants, one line each, sorted:
/// its functions, the attachment table with its sequence, index and
/// columns, and its roles. Equal after an update script, a dump and
/// restore, or a major version upgrade.
pub async fn extension_catalog(db: &Client) -> String {
    let sql = format!(
        "SELECT string_agg(line, E'\\n' ORDER BY line) FROM (
           SELECT format('%s grants=%s definer=%s config=%s volatile=%s strict=%s',
                         p.oid::regprocedure, {function}, p.prosecdef, p.proconfig,
                         p.provolatile, p.proisstrict)
             FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
             JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_socketio'
           UNION ALL
           SELECT format('%s %s grants=%s', c.relname, c.relpersistence,
                         CASE c.relkind WHEN 'S' THEN {sequence} ELSE {table} END)
             FROM pg_class c
            WHERE c.relname IN ('socket_io_attachments', 'socket_io_attachments_id_seq',
                                'socket_io_attachments_created_at')
           UNION ALL
           SELECT format('column %s %s storage=%s compression=%s grants=%s', a.attname,
                         format_type(a.atttypid, a.atttypmod), a.attstorage, a.attcompression,
                         {column})
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE a.attrelid = 'socket_io_attachments'::regclass AND a.attnum > 0
           UNION ALL
           SELECT format('role %s login=%s', rolname, rolcanlogin) FROM pg_roles
            WHERE rolname IN ('socketio_emitter', 'socketio_server')
         ) s(line)",
        function = grants("p.proacl", 'f', "p.proowner"),
        sequence = grants("c.relacl", 's', "c.relowner"),
        table = grants("c.relacl", 'r', "c.relowner"),
        column = grants("a.attacl", 'c', "c.relowner"),
    );
    db.query_one(&sql, &[]).await.unwrap().get(0)
}

/// The first column of each row `sql` returns, as text.
pub async fn texts(db: &impl tokio_postgres::GenericClient, sql: &str) -> Vec<String> {
    db.query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// The server's `server_version_num` (180006 for 18.6).
pub async fn server_version(db: &Client) -> i32 {
    db.query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .unwrap()
        .get(0)
}

/// Polls `condition`, a query of one boolean, every 50 ms until it is true;
/// panics, naming it, when it is not within `wait`.
pub async fn wait_for(db: &Client, condition: &str, wait: Duration) {
    let deadline = std::time::Instant::now() + wait;
    while !db
        .query_one(condition, &[])
        .await
        .unwrap()
        .get::<_, bool>(0)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "not true within {wait:?}: {condition}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The installed version of pg_socketio in this database.
pub async fn extension_version(db: &Client) -> String {
    db.query_one(
        "SELECT extversion FROM pg_extension WHERE extname = 'pg_socketio'",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// A database that emits every way a moved one must keep: the extension, a
/// row-mode trigger (a column left out), a statement-mode one (one column),
/// a definer wrapper `shipped(id)`, and two rows, the first through the
/// attachment table. For tests that move a database (dump and restore,
/// pg_upgrade); [`MOVED_CHANGES`] then emits [`moved_events`].
pub const MOVED_DATABASE: &str = "CREATE EXTENSION pg_socketio;
     CREATE TABLE msgs (id int PRIMARY KEY, conv int, body text, secret text);
     CREATE TRIGGER row_changes AFTER INSERT OR UPDATE OR DELETE ON msgs
       FOR EACH ROW EXECUTE FUNCTION sio_trigger('conv:{conv}', 'message', 'exclude=secret');
     CREATE TRIGGER batches AFTER UPDATE ON msgs REFERENCING NEW TABLE AS n OLD TABLE AS o
       FOR EACH STATEMENT EXECUTE FUNCTION sio_trigger('conv:{conv}', 'batch', 'columns=id');
     CREATE FUNCTION shipped(id int) RETURNS void LANGUAGE sql SECURITY DEFINER
       SET search_path = pg_catalog, public
       AS $$ SELECT sio_emit('orders', 'shipped', jsonb_build_array(id)) $$;
     INSERT INTO msgs VALUES (1, 1, repeat('x', 9000), 's'), (2, 2, 'short', 's');";

/// What exercises each emitter of [`MOVED_DATABASE`].
pub const MOVED_CHANGES: &str = "UPDATE msgs SET body = 'hello' WHERE id = 2; SELECT shipped(7);";

/// The events [`MOVED_CHANGES`] sends, as [`event_and_argument`] gives them.
pub fn moved_events() -> Vec<(String, serde_json::Value)> {
    use serde_json::json;
    vec![
        (
            "message".into(),
            json!({"op": "UPDATE", "schema": "public", "table": "msgs",
                   "new": {"id": 2, "conv": 2, "body": "hello"},
                   "old": {"id": 2, "conv": 2, "body": "short"}}),
        ),
        (
            "batch".into(),
            json!({"op": "UPDATE", "schema": "public", "table": "msgs",
                   "rows": [{"new": {"id": 2}, "old": {"id": 2}}]}),
        ),
        ("shipped".into(), json!([7])),
    ]
}

pub async fn attachment_rows(db: &Client) -> i64 {
    db.query_one("SELECT count(*) FROM socket_io_attachments", &[])
        .await
        .unwrap()
        .get(0)
}

/// The server's error for a statement that must fail.
pub async fn refused(db: &Client, sql: &str) -> tokio_postgres::error::DbError {
    db.batch_execute(sql)
        .await
        .expect_err(&format!("must be refused: {sql}"))
        .as_db_error()
        .expect("a server error")
        .clone()
}

/// `SQLSTATE: message` of the error `sql` must fail with.
pub async fn refusal(db: &Client, sql: &str) -> String {
    let err = refused(db, sql).await;
    format!("{}: {}", err.code().code(), err.message())
}

/// The Rust listener's next event, which must come within `wait`.
pub async fn next_event(
    listener: &mut pg_socketio_client::Listener,
    wait: Duration,
) -> pg_socketio_client::Event {
    tokio::time::timeout(wait, listener.recv())
        .await
        .unwrap_or_else(|_| panic!("an event within {wait:?}"))
        .expect("the listener is running")
}

/// The Rust listener's next event, which must be a message: its namespace
/// and the message.
pub async fn next_message(
    listener: &mut pg_socketio_client::Listener,
    wait: Duration,
) -> (String, pg_socketio_client::protocol::Message) {
    match next_event(listener, wait).await {
        pg_socketio_client::Event::Message { namespace, message } => (namespace, message),
        other => panic!("expected a message, got {other:?}"),
    }
}

/// A broadcast's event name and its first argument, as JSON.
pub fn event_and_argument(
    body: &pg_socketio_client::protocol::Body,
) -> (String, serde_json::Value) {
    match body {
        pg_socketio_client::protocol::Body::Broadcast { event, args, .. } => (
            event.clone(),
            serde_json::to_value(&args[0]).expect("MessagePack values are JSON here"),
        ),
        other => panic!("not a broadcast: {other:?}"),
    }
}

/// The `n` of a broadcast `("n", [n, ...])`, as the tests number them.
pub fn broadcast_number(message: &pg_socketio_client::protocol::Message) -> i64 {
    match &message.body {
        pg_socketio_client::protocol::Body::Broadcast { args, .. } => {
            args[0][0].as_i64().expect("a number")
        }
        other => panic!("not a broadcast: {other:?}"),
    }
}
