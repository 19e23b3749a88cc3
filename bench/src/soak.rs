//! `pg_socketio_bench soak [minutes]`: a private cluster with the cleanup
//! worker preloaded, 1,000 emits/s for the given minutes (9 in 10 inline,
//! 1 in 10 through the attachment table, half of those binary and half
//! 9 kB of JSON), each in its own transaction, to the Rust listener in a
//! child process. Once a minute: what was sent and received (any loss fails
//! the run), the latency, the attachment table's rows and size, the
//! listener's RSS.

use std::time::{Duration, Instant};

use pg_socketio_kit::PrivateCluster;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_postgres::Client;

use crate::listener::{rss_kb, Receiver};
use crate::receiver::now_ms;

const PER_SECOND: u64 = 1_000;
const TICK: Duration = Duration::from_millis(10);
const PER_TICK: u64 = PER_SECOND * TICK.as_millis() as u64 / 1_000;

const TICKS_PER_MINUTE: u64 = 60_000 / TICK.as_millis() as u64;
/// Each tick sends one latency probe (timed, not counted), one attachment
/// and `PER_TICK - 2` small broadcasts; the receiver counts all but the probe.
const COUNTED_PER_MINUTE: u64 = TICKS_PER_MINUTE * (PER_TICK - 1);

pub async fn run(minutes: u32) -> Result<(), Box<dyn std::error::Error>> {
    let cluster = PrivateCluster::start(&[
        "shared_preload_libraries=pg_socketio",
        "pg_socketio.cleanup_database=postgres",
        "pg_socketio.cleanup_interval=30",
    ]);
    let url = cluster.url();
    let db = cluster.connect().await;
    db.batch_execute("CREATE EXTENSION pg_socketio").await?;
    let mut receiver = Receiver::rust(&url).await;
    receiver.ready(&db).await;

    let (tx, mut sent) = mpsc::unbounded_channel();
    let emitter = tokio::spawn(emit(cluster.connect().await, minutes, tx));
    println!("| minute | emits/s | attachments | received | lost | p99 latency | table rows | table size | dead rows | listener RSS | queue usage |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut rss = Vec::new();
    let mut sizes = Vec::new();
    let mut lost_total = 0;
    for minute in 1..=minutes {
        let Some(seconds) = sent.recv().await else {
            break;
        };
        let got = receiver.next_summary().await;
        let row = db
            .query_one(
                "SELECT (SELECT count(*) FROM socket_io_attachments),
                        pg_total_relation_size('socket_io_attachments'),
                        (SELECT n_dead_tup FROM pg_stat_user_tables
                          WHERE relid = 'socket_io_attachments'::regclass),
                        pg_notification_queue_usage()",
                &[],
            )
            .await?;
        let (rows, size, dead, queue): (i64, i64, i64, f64) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let lost = COUNTED_PER_MINUTE as i64 - got.count as i64;
        lost_total += lost.unsigned_abs();
        let kb = rss_kb(receiver.pid()) as i64;
        rss.push(kb);
        sizes.push(size);
        println!(
            "| {minute} | {:.0} | {TICKS_PER_MINUTE} | {} | {lost} | {:.2} ms | {rows} | {} kB | {dead} | {kb} kB | {queue:.6} |",
            (TICKS_PER_MINUTE * PER_TICK) as f64 / seconds,
            got.count,
            got.p99_ms,
            size / 1024,
        );
    }
    emitter.await??;
    // Flat: the last third's peak against the middle third's (the first
    // minutes fill the table up to the cleanup's age and warm the caches).
    let third = |v: &[i64]| -> (i64, i64) {
        let n = v.len() / 3;
        let peak = |s: &[i64]| s.iter().copied().max().unwrap_or(0);
        (peak(&v[n..2 * n]), peak(&v[2 * n..]))
    };
    let (rss_mid, rss_end) = third(&rss);
    let (size_mid, size_end) = third(&sizes);
    println!();
    println!(
        "listener RSS peak: {rss_mid} kB (middle third) → {rss_end} kB (last third); \
         table size peak: {} kB → {} kB; messages lost: {lost_total}",
        size_mid / 1024,
        size_end / 1024
    );
    if lost_total > 0 {
        return Err(format!("{lost_total} messages lost").into());
    }
    Ok(())
}

/// Emits at `PER_SECOND` for `minutes`, closing each minute with `end` so
/// that the receiver's count covers exactly that minute's broadcasts, and
/// sends how many seconds each minute's emits took.
async fn emit(
    db: Client,
    minutes: u32,
    sent: mpsc::UnboundedSender<f64>,
) -> Result<(), tokio_postgres::Error> {
    db.batch_execute("SET pg_socketio.channel_prefix = 'bench_rust'")
        .await?;
    let inline = db
        .prepare("SELECT sio_emit(ARRAY[]::text[], 'b', $1::text::jsonb)")
        .await?;
    let latency = db
        .prepare("SELECT sio_emit(ARRAY[]::text[], 'l', to_jsonb($1::float8))")
        .await?;
    let binary = db
        .prepare(
            r#"SELECT sio_emit_args(ARRAY[]::text[], 'b', '[{"_placeholder":true,"num":0}]', ARRAY[$1::bytea])"#,
        )
        .await?;
    let large = format!(r#""{}""#, "x".repeat(9_000));
    let blob = vec![7u8; 1_024];
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    for _ in 0..minutes {
        let start = Instant::now();
        for tick in 0..TICKS_PER_MINUTE {
            ticks.tick().await;
            for i in 0..PER_TICK {
                match (i, tick % 2) {
                    (0, _) => db.execute(&latency, &[&now_ms()]).await?,
                    (1, 0) => db.execute(&binary, &[&blob]).await?,
                    (1, _) => db.execute(&inline, &[&large]).await?,
                    _ => db.execute(&inline, &[&r#"{"n":1}"#]).await?,
                };
            }
        }
        db.execute("SELECT sio_emit(ARRAY[]::text[], 'end', '[]')", &[])
            .await?;
        if sent.send(start.elapsed().as_secs_f64()).is_err() {
            break;
        }
    }
    Ok(())
}
