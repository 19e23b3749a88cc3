//! Emit throughput by `pg_socketio.delivery`, at 1, 2, 4 and 8 emitting
//! clients, on a private cluster with `wal_level = logical`: NOTIFY (one
//! global lock at COMMIT) against the WAL (no such lock) and both, in the
//! same run; and the WAL each emit writes. Nobody reads: this is the
//! emitting side's cost. Twice: an emit alone in its transaction (a NOTIFY
//! alone needs no commit record, a WAL message does: it is the WAL that
//! makes it durable), and an emit beside a row insert, as applications emit
//! (every transaction then writes and flushes a commit record).

use pg_socketio_kit::PrivateCluster;
use tokio_postgres::Client;

use crate::pgbench::{Pgbench, Run};
use crate::report::{thousands, Row};

const EMIT: &str = "SELECT sio_emit(ARRAY[]::text[], 'x', '{\"n\":1}');\n";
const WITH_INSERT: &str = "BEGIN;\nINSERT INTO bench_delivery VALUES (1);\n\
                           SELECT sio_emit(ARRAY[]::text[], 'x', '{\"n\":1}');\nCOMMIT;\n";
const SECONDS: u32 = 5;

pub async fn rows(rows: &mut Vec<Row>) {
    let cluster = PrivateCluster::start(&["wal_level=logical"]);
    let db = cluster.connect().await;
    db.batch_execute("CREATE EXTENSION pg_socketio; CREATE TABLE bench_delivery(n int)")
        .await
        .unwrap();
    let pgbench = Pgbench::new(&cluster.url());
    for (script, what) in [
        (EMIT, "1 emit per transaction"),
        (WITH_INSERT, "1 emit + 1 row insert per transaction"),
    ] {
        for clients in [1, 2, 4, 8] {
            measure(&db, &pgbench, script, what, clients, rows).await;
        }
    }
}

async fn measure(
    db: &Client,
    pgbench: &Pgbench,
    script: &str,
    what: &str,
    clients: u32,
    rows: &mut Vec<Row>,
) {
    let mut measured = Vec::new();
    for mode in ["notify", "wal", "both"] {
        let before = lsn(db).await;
        let options = format!("-c pg_socketio.delivery={mode}");
        let run = Run {
            script,
            clients,
            seconds: SECONDS,
            protocol: "prepared",
            rate: None,
            options: &options,
        };
        let tps = tokio::task::block_in_place(|| pgbench.tps(&run));
        let wal = (lsn(db).await - before) / (tps * f64::from(SECONDS));
        measured.push((mode, tps, wal));
    }
    let (_, notify, notify_wal) = measured[0];
    for &(mode, tps, wal) in &measured[1..] {
        rows.push(Row {
            name: format!("delivery = {mode}: {clients} client(s), {what}"),
            ours: format!("{} tps, {wal:.0} B WAL/tx", thousands(tps)),
            baseline: format!(
                "notify: {} tps, {notify_wal:.0} B WAL/tx",
                thousands(notify)
            ),
            ratio: tps / notify,
            spread: None,
            target: None,
        });
    }
}

async fn lsn(db: &Client) -> f64 {
    db.query_one(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}
