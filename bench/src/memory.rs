//! A backend's peak memory for one large emit, against the same statement
//! storing the same bytes itself: what pg_socketio adds beyond what
//! PostgreSQL holds for the arguments and the row, stored in a table made
//! like the attachment table (which PostgreSQL does not compress; the
//! extension compresses what it stores, where it can). Each statement runs in a
//! new session that has first run the extension's same statement with a small
//! payload, the baseline's session too: what is compared is what grows with
//! the payload, not what any session that uses the extension pays once (the
//! library's code pages, about 6 MB, and the shared buffers it first
//! touches). One row shows that once-only part: the 100 MB row in sessions
//! that ran nothing before. Two measures: its peak RSS (`VmHWM` of
//! `/proc/<pid>/status`, read after it), which also counts the pages of
//! shared buffers the backend touched (PostgreSQL's cache, of fixed size,
//! shared by every session), and its peak private memory (`RssAnon`,
//! sampled every millisecond while the statement runs): what each
//! concurrent session adds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pg_socketio_kit::incompressible_bytes;
use tokio_postgres::{Client, NoTls};

use crate::report::Row;

const MB: u64 = 1 << 20;

/// The tables the statements measured write to.
const TABLES: &str = "bench_memory_plain, bench_memory_rows, bench_memory_batch";

/// The baseline of the `sio_emit_args` rows.
const PLAIN_INSERT: &str = "INSERT of the same bytea into a table like the attachment table";

/// The baseline of the trigger rows.
const WITHOUT_TRIGGER: &str = "the same INSERT without the trigger";

/// `insert` with the table's trigger `emit` disabled.
fn without_trigger(table: &str, insert: &str) -> String {
    format!(
        "ALTER TABLE {table} DISABLE TRIGGER emit; {insert};
         ALTER TABLE {table} ENABLE TRIGGER emit"
    )
}

/// A field of `/proc/<pid>/status`, in bytes.
fn status_field(pid: i32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())?;
    Some(kb * 1024)
}

/// A statement's peaks, in bytes.
struct Peaks {
    rss: u64,
    private: u64,
}

/// Every session's first statement: its notifications go to a channel
/// nobody listens on.
const SETUP: &str = "SET pg_socketio.channel_prefix = 'bench_memory'";

/// Runs `warmup` then `statement` in a new session: the session's peak RSS
/// (the warm-up's included) and its peak private memory during `statement`.
async fn peak(url: &str, warmup: &str, statement: &str) -> Peaks {
    let (db, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    db.batch_execute(&format!("{SETUP}; {warmup}"))
        .await
        .unwrap();
    let pid: i32 = db
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let done = Arc::new(AtomicBool::new(false));
    let sampler = std::thread::spawn({
        let done = done.clone();
        move || {
            let mut most = 0;
            while !done.load(Ordering::Relaxed) {
                most = most.max(status_field(pid, "RssAnon:").unwrap_or(0));
                std::thread::sleep(Duration::from_millis(1));
            }
            most
        }
    });
    db.batch_execute(statement).await.unwrap();
    done.store(true, Ordering::Relaxed);
    let private = sampler.join().unwrap();
    let rss = status_field(pid, "VmHWM:").expect("the benchmark runs on the database's machine");
    Peaks { rss, private }
}

/// One large statement of ours against a baseline that stores the same bytes.
struct Case<'a> {
    name: &'a str,
    payload: u64,
    /// Ours with a small payload, run first in both sessions.
    warmup: &'a str,
    ours: &'a str,
    baseline_name: &'a str,
    baseline: &'a str,
}

impl Case<'_> {
    /// The peaks of the baseline and of ours, each session begun with
    /// `warmup`; the tables emptied after each.
    async fn peaks(&self, url: &str, db: &Client, warmup: &str) -> (Peaks, Peaks) {
        let empty = format!("TRUNCATE {TABLES}; DELETE FROM socket_io_attachments");
        let theirs = peak(url, warmup, self.baseline).await;
        db.batch_execute(&empty).await.unwrap();
        let mine = peak(url, warmup, self.ours).await;
        db.batch_execute(&empty).await.unwrap();
        (mine, theirs)
    }

    /// (peak of ours − peak of the baseline) / payload, as a row.
    fn row(&self, measure: &str, mine: u64, theirs: u64, target: bool) -> Row {
        let extra = mine.saturating_sub(theirs) as f64 / self.payload as f64;
        Row {
            name: format!(
                "{}: backend {measure} beyond the baseline, × payload",
                self.name
            ),
            ours: format!("{} MB", mine / MB),
            baseline: format!("{}: {} MB", self.baseline_name, theirs / MB),
            ratio: extra,
            spread: None,
            target: target.then_some(("≤ 2 × payload", extra <= 2.0)),
        }
    }

    /// Two rows, one per measure, of sessions begun with the warm-up.
    async fn rows(&self, url: &str, db: &Client) -> [Row; 2] {
        let (mine, theirs) = self.peaks(url, db, self.warmup).await;
        [
            self.row("peak RSS", mine.rss, theirs.rss, true),
            self.row(
                "peak private memory (sampled)",
                mine.private,
                theirs.private,
                true,
            ),
        ]
    }

    /// The peak RSS of sessions that ran nothing before: the once-only part
    /// included.
    async fn cold_row(&self, url: &str, db: &Client) -> Row {
        let (mine, theirs) = self.peaks(url, db, "").await;
        self.row(
            "peak RSS in a session that ran nothing before (the library's pages included)",
            mine.rss,
            theirs.rss,
            false,
        )
    }
}

pub async fn rows(url: &str, db: &Client, rows: &mut Vec<Row>) {
    db.batch_execute(&format!(
        "DROP TABLE IF EXISTS {TABLES};
         CREATE UNLOGGED TABLE bench_memory_plain
           (LIKE socket_io_attachments INCLUDING STORAGE INCLUDING COMPRESSION);
         CREATE TABLE bench_memory_rows (id int, body text);
         CREATE TRIGGER emit AFTER INSERT ON bench_memory_rows
           FOR EACH ROW EXECUTE FUNCTION sio_trigger('r:{{id}}', 'row');
         CREATE TABLE bench_memory_batch (id int, body text);
         CREATE TRIGGER emit AFTER INSERT ON bench_memory_batch REFERENCING NEW TABLE AS n
           FOR EACH STATEMENT EXECUTE FUNCTION sio_trigger('r', 'rows');"
    ))
    .await
    .unwrap();
    let small = 100_000;
    let binary = 300 * MB;
    let emit_binary = |argument: &str| {
        format!(
            r#"SELECT sio_emit_args('r', 'e', '[{{"_placeholder":true,"num":0}}]', ARRAY[{argument}])"#
        )
    };
    let store_binary = |argument: &str| {
        format!(
            "INSERT INTO bench_memory_plain (id, created_at, payload)
             SELECT 1, clock_timestamp(), (ARRAY[{argument}])[1]"
        )
    };
    let repeated = |size| format!("convert_to(repeat('x', {size}), 'UTF8')");
    rows.extend(
        Case {
            name: "sio_emit_args, one 300 MB binary argument",
            payload: binary,
            warmup: &emit_binary(&repeated(small)),
            ours: &emit_binary(&repeated(binary)),
            baseline_name: PLAIN_INSERT,
            baseline: &store_binary(&repeated(binary)),
        }
        .rows(url, db)
        .await,
    );
    // Bytes that do not compress (MD5 digests), made once beforehand, so
    // that making them is not in either peak: the attachment is stored as
    // it is, after a compression attempt freed before the INSERT.
    let random = 100 * MB;
    db.batch_execute(&format!(
        "DROP TABLE IF EXISTS bench_memory_random;
         CREATE TABLE bench_memory_random (b bytea);
         ALTER TABLE bench_memory_random ALTER COLUMN b SET STORAGE EXTERNAL;
         INSERT INTO bench_memory_random SELECT {}",
        incompressible_bytes(random / 16)
    ))
    .await
    .unwrap();
    let stored = "(SELECT b FROM bench_memory_random)";
    rows.extend(
        Case {
            name: "sio_emit_args, one 100 MB binary argument that does not compress",
            payload: random,
            warmup: &emit_binary(&format!("substring({stored} FROM 1 FOR {small})")),
            ours: &emit_binary(stored),
            baseline_name: PLAIN_INSERT,
            baseline: &store_binary(stored),
        }
        .rows(url, db)
        .await,
    );
    db.batch_execute("DROP TABLE bench_memory_random")
        .await
        .unwrap();
    let text = 100 * MB;
    let insert_row =
        |size| format!("INSERT INTO bench_memory_rows VALUES (1, repeat('y', {size}))");
    let row = Case {
        name: "sio_trigger, one 100 MB row",
        payload: text,
        warmup: &insert_row(small),
        ours: &insert_row(text),
        baseline_name: WITHOUT_TRIGGER,
        baseline: &without_trigger("bench_memory_rows", &insert_row(text)),
    };
    rows.extend(row.rows(url, db).await);
    rows.push(row.cold_row(url, db).await);
    // A statement's rows are sent pg_socketio.statement_memory (64MB) at a
    // time: 1.2 GB of them, in parts.
    let (count, size) = (300, 4_000_000);
    let insert_batch = |count| {
        format!(
            "INSERT INTO bench_memory_batch SELECT i, repeat('z', {size}) FROM generate_series(1, {count}) i"
        )
    };
    rows.extend(
        Case {
            name: "sio_trigger FOR EACH STATEMENT, an INSERT of 300 rows of 4 MB",
            payload: count * size,
            warmup: &insert_batch(1),
            ours: &insert_batch(count),
            baseline_name: WITHOUT_TRIGGER,
            baseline: &without_trigger("bench_memory_batch", &insert_batch(count)),
        }
        .rows(url, db)
        .await,
    );
    db.batch_execute(&format!("DROP TABLE {TABLES}"))
        .await
        .unwrap();
}
