//! The cost of an emit as the cluster grows: emit throughput and commit →
//! receipt latency with 1, 8 and 32 listening servers (Rust listeners, then
//! Node.js servers with the adapter), and the ceiling PostgreSQL's NOTIFY
//! sets on emitting clients (one global lock at COMMIT).

use tokio_postgres::Client;

use crate::listener::{end_round, Receiver};
use crate::pgbench::{Pgbench, Run};
use crate::report::{thousands, Row};

const EMIT: &str = "SELECT sio_emit(ARRAY[]::text[], 'x', '1');\n";
/// One argument: the time the emit ran, in ms since the epoch.
const TIMED: &str = "SELECT sio_emit(ARRAY[]::text[], 'l', \
                     to_jsonb(extract(epoch from clock_timestamp()) * 1000));\n";

fn run<'a>(script: &'a str, clients: u32, rate: Option<u32>, options: &'a str) -> Run<'a> {
    Run {
        script,
        clients,
        seconds: 5,
        protocol: "prepared",
        rate,
        options,
    }
}

pub async fn rows(url: &str, db: &Client, pgbench: &Pgbench, rows: &mut Vec<Row>) {
    for node in [false, true] {
        let kind = if node {
            "Node.js servers"
        } else {
            "Rust listeners"
        };
        let prefix = if node {
            "bench_scale_node"
        } else {
            "bench_scale_rust"
        };
        let options = format!("-c pg_socketio.channel_prefix={prefix}");
        let mut first_tps = None;
        for n in [1, 8, 32] {
            let mut receivers = Vec::new();
            for _ in 0..n {
                let mut r = if node {
                    Receiver::node_on(url, prefix).await
                } else {
                    Receiver::rust_on(url, prefix).await
                };
                r.ready(db).await;
                receivers.push(r);
            }
            let tps = tokio::task::block_in_place(|| pgbench.tps(&run(EMIT, 1, None, &options)));
            // Each receiver prints its summary at the one `end`.
            end_round(db, prefix).await;
            for r in &mut receivers {
                r.next_summary().await;
            }
            let paced =
                tokio::task::block_in_place(|| pgbench.tps(&run(TIMED, 1, Some(500), &options)));
            end_round(db, prefix).await;
            let mut p50 = Vec::new();
            let mut p99: f64 = 0.0;
            for r in &mut receivers {
                let s = r.next_summary().await;
                p50.push(s.p50_ms);
                p99 = p99.max(s.p99_ms);
            }
            p50.sort_by(f64::total_cmp);
            let base = *first_tps.get_or_insert(tps);
            rows.push(Row {
                name: format!(
                    "{n} {kind} listening: 1 emit per transaction; commit → receipt at {} emits/s",
                    thousands(paced)
                ),
                ours: format!(
                    "{} tps; p50 {:.2} ms (median server), p99 {:.2} ms (worst server)",
                    thousands(tps),
                    p50[p50.len() / 2],
                    p99
                ),
                baseline: format!("1 {kind}: {} tps", thousands(base)),
                ratio: tps / base,
                spread: None,
                target: None,
            });
            drop(receivers);
        }
    }

    // NOTIFY's ceiling: every committing transaction that notifies takes
    // one global lock; one Rust listener.
    let prefix = "bench_scale_rust";
    let options = format!("-c pg_socketio.channel_prefix={prefix}");
    let mut listener = Receiver::rust_on(url, prefix).await;
    listener.ready(db).await;
    let mut first = None;
    for clients in [1, 2, 4, 8] {
        let tps = tokio::task::block_in_place(|| pgbench.tps(&run(EMIT, clients, None, &options)));
        let base = *first.get_or_insert(tps);
        rows.push(Row {
            name: format!(
                "NOTIFY commit lock: {clients} emitting client(s), 1 emit per transaction"
            ),
            ours: format!("{} tps", thousands(tps)),
            baseline: format!("1 client: {} tps", thousands(base)),
            ratio: tps / base,
            spread: None,
            target: None,
        });
    }
    listener.summary(db).await;
}
