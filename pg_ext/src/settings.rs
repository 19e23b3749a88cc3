//! The extension's settings, as GUCs under `pg_socketio.`.

use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::rc::Rc;

use pg_socketio_protocol::{Settings, DEFAULT_PAYLOAD_THRESHOLD, DEFAULT_PREFIX};
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};

/// `protocol::DEFAULT_PREFIX` as the C string a GUC needs (tested equal).
static CHANNEL_PREFIX: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"socket.io"));
static PAYLOAD_THRESHOLD: GucSetting<i32> =
    GucSetting::<i32>::new(DEFAULT_PAYLOAD_THRESHOLD as i32);
static CLUSTER_SOURCE: GucSetting<bool> = GucSetting::<bool>::new(true);
static CLEANUP_DATABASE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"postgres"));
static CLEANUP_INTERVAL: GucSetting<i32> = GucSetting::<i32>::new(30);
static LOCK_TIMEOUT: GucSetting<i32> = GucSetting::<i32>::new(5_000);
/// In kB, as GUCs of memory count.
static STATEMENT_MEMORY: GucSetting<i32> = GucSetting::<i32>::new(64 * 1024);
static QUEUE_WARNING: GucSetting<f64> = GucSetting::<f64>::new(0.1);
static DELIVERY: GucSetting<Delivery> = GucSetting::<Delivery>::new(Delivery::Notify);
/// `protocol::DEFAULT_ATTACHMENT_TABLE`, as the C string a GUC needs (a
/// test keeps them equal).
static ATTACHMENT_TABLE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"socket_io_attachments"));

/// The cleanup worker's settings; defined only when the library is preloaded,
/// where the worker runs.
pub fn register_cleanup() {
    GucRegistry::define_string_guc(
        c"pg_socketio.cleanup_database",
        c"Databases whose attachment tables the cleanup worker cleans, separated by commas.",
        c"Cleaned one after another every cleanup_interval, each by a worker of its \
          own that connects, deletes and exits. Nothing is done where pg_socketio is \
          not installed.",
        &CLEANUP_DATABASE,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_socketio.cleanup_interval",
        c"Every this many seconds, the cleanup worker deletes attachments older than this.",
        c"The Node.js adapter's cleanupInterval is 30 seconds.",
        &CLEANUP_INTERVAL,
        1,
        86_400,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
}

/// How messages leave the database (`pg_socketio.delivery`).
#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Delivery {
    /// NOTIFY (and the attachment table), which Node.js servers read.
    #[name = c"notify"]
    Notify,
    /// A transactional logical decoding message, for durable listeners.
    #[name = c"wal"]
    Wal,
    /// Both: mixed Node.js and durable Rust clusters.
    #[name = c"both"]
    Both,
}

impl Delivery {
    pub fn notify(self) -> bool {
        self != Delivery::Wal
    }

    pub fn wal(self) -> bool {
        self != Delivery::Notify
    }
}

pub fn register() {
    GucRegistry::define_enum_guc(
        c"pg_socketio.delivery",
        c"How emits leave the database: notify, wal or both.",
        c"notify: NOTIFY, as the Node.js adapter reads it. wal: a transactional logical decoding message with prefix pg_socketio, for durable listeners (needs wal_level = logical). both: each emit is sent both ways.",
        &DELIVERY,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"pg_socketio.attachment_table",
        c"Table for messages with binary arguments or of 8000 bytes or more.",
        c"The adapters' tableName, as table or schema.table; an unqualified name is looked up in the extension's schema. Superusers only (or GRANT SET ON PARAMETER): a caller must not steer another role's emit to its table.",
        &ATTACHMENT_TABLE,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_socketio.lock_timeout",
        c"How long an emit waits for a lock on the attachment table before it fails.",
        c"Only DDL, LOCK TABLE or VACUUM FULL conflict with adding rows. 0 waits as long as lock_timeout allows.",
        &LOCK_TIMEOUT,
        0,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"pg_socketio.statement_memory",
        c"How much of a statement's changed rows a FOR EACH STATEMENT sio_trigger holds before it sends them.",
        c"Beyond it, the rows held so far are sent and the trigger goes on: a larger statement arrives as several events per room, each with the next rows in order. At most 1GB, an attachment's limit.",
        &STATEMENT_MEMORY,
        64,
        1024 * 1024,
        GucContext::Userset,
        GucFlags::UNIT_KB,
    );
    GucRegistry::define_float_guc(
        c"pg_socketio.queue_warning",
        c"Emits warn when the NOTIFY queue is at least this full (0 to 1).",
        c"pg_notification_queue_usage(); 1 turns the warning off. PostgreSQL fails NOTIFYs at COMMIT when the queue is full.",
        &QUEUE_WARNING,
        0.0,
        1.0,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"pg_socketio.channel_prefix",
        c"Channel prefix of the Socket.IO servers (their adapter's channelPrefix).",
        c"Messages for namespace N go to channel '<prefix>#N'.",
        &CHANNEL_PREFIX,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_socketio.payload_threshold",
        c"Messages whose JSON has at least this many bytes go to the attachment table.",
        c"PostgreSQL refuses NOTIFY payloads of 8000 bytes or more, so 8000 is the largest value.",
        &PAYLOAD_THRESHOLD,
        0,
        DEFAULT_PAYLOAD_THRESHOLD as i32,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"pg_socketio.cluster_source",
        c"Mark messages with \"source\":\"_sio_adapter\" for Node-cluster workers.",
        c"Workers of @socket.io/cluster-adapter behind setupPrimary need it; standalone adapters ignore it.",
        &CLUSTER_SOURCE,
        GucContext::Userset,
        GucFlags::default(),
    );
}

thread_local! {
    /// The settings as the last emit read them: each emit compares them with
    /// the GUCs in place instead of copying the prefix twice (a `CString`
    /// and a `String`, as `GucSetting::get` and `Settings` would).
    static CURRENT: RefCell<Rc<Settings>> = RefCell::new(Rc::new(Settings::default()));
}

/// The current settings.
pub fn current() -> Rc<Settings> {
    // SAFETY: the GUC's own string, or NULL; PostgreSQL replaces it only
    // through SET, never during this comparison.
    let prefix = unsafe { CHANNEL_PREFIX.as_ptr().read() };
    let prefix = match prefix.is_null() {
        true => DEFAULT_PREFIX.as_bytes(),
        false => unsafe { CStr::from_ptr(prefix) }.to_bytes(),
    };
    let threshold = PAYLOAD_THRESHOLD.get().max(0) as usize;
    let cluster_source = CLUSTER_SOURCE.get();
    CURRENT.with_borrow_mut(|current| {
        if current.channel_prefix.as_bytes() != prefix
            || current.payload_threshold != threshold
            || current.cluster_source != cluster_source
        {
            *current = Rc::new(Settings {
                channel_prefix: String::from_utf8_lossy(prefix).into_owned(),
                payload_threshold: threshold,
                cluster_source,
            });
        }
        current.clone()
    })
}

pub fn delivery() -> Delivery {
    DELIVERY.get()
}

pub fn attachment_table() -> String {
    ATTACHMENT_TABLE.get().map(into_string).unwrap_or_default()
}

/// Bytes of rows statement mode holds before it sends them (the setting's
/// minimum is 64 kB).
pub fn statement_memory() -> usize {
    STATEMENT_MEMORY.get() as usize * 1024
}

/// `None`: no warning.
pub fn queue_warning() -> Option<f64> {
    Some(QUEUE_WARNING.get()).filter(|&t| t < 1.0)
}

/// `None`: wait as PostgreSQL's own `lock_timeout` allows.
pub fn lock_timeout() -> Option<std::time::Duration> {
    match LOCK_TIMEOUT.get() {
        0 => None,
        ms => Some(std::time::Duration::from_millis(ms as u64)),
    }
}

/// The databases the cleanup worker runs in: the names in
/// `pg_socketio.cleanup_database`, separated by commas and taken as written
/// (case kept), each once; none for an empty setting. A list that names
/// more than `stats::CLEANUP_WORKERS` databases, or a name no database can
/// have, is refused with the reason.
pub fn cleanup_databases() -> Result<Vec<String>, String> {
    let setting = CLEANUP_DATABASE.get().map(into_string).unwrap_or_default();
    let mut databases: Vec<String> = Vec::new();
    for name in setting.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name.len() >= pgrx::pg_sys::NAMEDATALEN as usize {
            return Err(format!(
                "pg_socketio.cleanup_database: \"{name}\" is longer than a database name can be"
            ));
        }
        if !databases.iter().any(|d| d == name) {
            databases.push(name.to_owned());
        }
    }
    if databases.len() > crate::stats::CLEANUP_WORKERS {
        return Err(format!(
            "pg_socketio.cleanup_database names {} databases; at most {} are allowed",
            databases.len(),
            crate::stats::CLEANUP_WORKERS
        ));
    }
    Ok(databases)
}

pub fn cleanup_interval() -> std::time::Duration {
    std::time::Duration::from_secs(CLEANUP_INTERVAL.get().max(1) as u64)
}

/// A setting's value as text. `GucSetting::get` already copies it, so the
/// copy is reused; only invalid UTF-8 (then made lossy) is copied again.
fn into_string(value: CString) -> String {
    value
        .into_string()
        .unwrap_or_else(|e| e.into_cstring().to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_defaults_are_the_protocols() {
        assert_eq!(
            c"socket_io_attachments".to_str(),
            Ok(pg_socketio_protocol::DEFAULT_ATTACHMENT_TABLE)
        );
        assert_eq!(
            c"socket.io".to_str(),
            Ok(pg_socketio_protocol::DEFAULT_PREFIX)
        );
    }
}
