//! A backend's peak memory for one large emit, against the same statement
//! storing the same bytes itself: what pg_socketio adds beyond what
//! PostgreSQL holds for the arguments and the row, stored in a table made
//! like the attachment table (which PostgreSQL does not compress; the
//! extension compresses what it stores, where it can). Each statement runs in a
//! fresh session. Two measures: its peak RSS (`VmHWM` of
//! `/proc/<pid>/status`, read after it), which also counts the pages of
//! shared buffers the backend touched (PostgreSQL's cache, of fixed size,
//! shared by every session), and its peak private memory (`RssAnon`,
//! sampled every millisecond while the statement runs): what each
//! concurrent session adds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use crate::report::Row;

const MB: u64 = 1 << 20;

/// The tables the statements measured write to.
const TABLES: &str = "bench_memory_plain, bench_memory_rows, bench_memory_batch";

/// The baseline of the `sio_emit_args` rows.
const PLAIN_INSERT: &str = "INSERT of the same bytea into a table like the attachment table";

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

/// Runs `setup` then `statement` in a new session; its peaks.
async fn peak(url: &str, setup: &str, statement: &str) -> Peaks {
    let (db, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    db.batch_execute(setup).await.unwrap();
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

/// Two rows, one per measure: (peak of ours − peak of the baseline) / payload.
async fn rows_of(
    url: &str,
    db: &Client,
    name: &str,
    payload: u64,
    (setup, ours): (&str, &str),
    (baseline_name, baseline): (&str, &str),
) -> [Row; 2] {
    let theirs = peak(url, setup, baseline).await;
    db.batch_execute(&format!("TRUNCATE {TABLES}"))
        .await
        .unwrap();
    let mine = peak(url, setup, ours).await;
    db.batch_execute(&format!(
        "TRUNCATE {TABLES}; DELETE FROM socket_io_attachments"
    ))
    .await
    .unwrap();
    let row = |measure: &str, mine: u64, theirs: u64| {
        let extra = mine.saturating_sub(theirs) as f64 / payload as f64;
        Row {
            name: format!("{name}: backend {measure} beyond the baseline, × payload"),
            ours: format!("{} MB", mine / MB),
            baseline: format!("{baseline_name}: {} MB", theirs / MB),
            ratio: extra,
            spread: None,
            target: Some(("≤ 2 × payload", extra <= 2.0)),
        }
    };
    [
        row("peak RSS", mine.rss, theirs.rss),
        row(
            "peak private memory (sampled)",
            mine.private,
            theirs.private,
        ),
    ]
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
    let setup = "SET pg_socketio.channel_prefix = 'bench_memory'";
    let binary = 300 * MB;
    rows.extend(
        rows_of(
            url,
            db,
            "sio_emit_args, one 300 MB binary argument",
            binary,
            (
                setup,
                &format!(
                    r#"SELECT sio_emit_args('r', 'e', '[{{"_placeholder":true,"num":0}}]',
                                           ARRAY[convert_to(repeat('x', {binary}), 'UTF8')])"#
                ),
            ),
            (
                PLAIN_INSERT,
                &format!(
                    "INSERT INTO bench_memory_plain (id, created_at, payload)
                     SELECT 1, clock_timestamp(), (ARRAY[convert_to(repeat('x', {binary}), 'UTF8')])[1]"
                ),
            ),
        )
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
         INSERT INTO bench_memory_random
           SELECT decode(string_agg(md5(i::text), ''), 'hex') FROM generate_series(1, {}) i",
        random / 16
    ))
    .await
    .unwrap();
    rows.extend(
        rows_of(
            url,
            db,
            "sio_emit_args, one 100 MB binary argument that does not compress",
            random,
            (
                setup,
                r#"SELECT sio_emit_args('r', 'e', '[{"_placeholder":true,"num":0}]',
                                       ARRAY[(SELECT b FROM bench_memory_random)])"#,
            ),
            (
                PLAIN_INSERT,
                "INSERT INTO bench_memory_plain (id, created_at, payload)
                 SELECT 1, clock_timestamp(), (ARRAY[(SELECT b FROM bench_memory_random)])[1]",
            ),
        )
        .await,
    );
    db.batch_execute("DROP TABLE bench_memory_random")
        .await
        .unwrap();
    let text = 100 * MB;
    rows.extend(
        rows_of(
            url,
            db,
            "sio_trigger, one 100 MB row",
            text,
            (
                setup,
                &format!("INSERT INTO bench_memory_rows VALUES (1, repeat('y', {text}))"),
            ),
            (
                "the same INSERT without the trigger",
                &format!(
                    "ALTER TABLE bench_memory_rows DISABLE TRIGGER emit;
                     INSERT INTO bench_memory_rows VALUES (1, repeat('y', {text}));
                     ALTER TABLE bench_memory_rows ENABLE TRIGGER emit;"
                ),
            ),
        )
        .await,
    );
    // A statement's rows are sent pg_socketio.statement_memory (64MB) at a
    // time: 1.2 GB of them, in parts.
    let (count, size) = (300, 4_000_000);
    let batch = format!(
        "INSERT INTO bench_memory_batch SELECT i, repeat('z', {size}) FROM generate_series(1, {count}) i"
    );
    rows.extend(
        rows_of(
            url,
            db,
            "sio_trigger FOR EACH STATEMENT, an INSERT of 300 rows of 4 MB",
            count * size,
            (setup, &batch),
            (
                "the same INSERT without the trigger",
                &format!(
                    "ALTER TABLE bench_memory_batch DISABLE TRIGGER emit; {batch};
                     ALTER TABLE bench_memory_batch ENABLE TRIGGER emit;"
                ),
            ),
        )
        .await,
    );
    db.batch_execute(&format!("DROP TABLE {TABLES}"))
        .await
        .unwrap();
}
