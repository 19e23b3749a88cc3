//! The backend's CPU work per emit, counted rather than timed: a private
//! cluster runs under callgrind, which counts the instructions each server
//! process executes. For the same binaries and input the count is the same
//! however busy the machine is, where the pgbench rows of one client move
//! by ± 15 % from minute to minute. It leaves out what the kernel does
//! (sockets, the commit's WAL flush, waking listeners), which both sides pay
//! alike, so the ratio is of the part pg_socketio can change.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pg_socketio_kit::PrivateCluster;

use crate::pgbench::Pgbench;
use crate::report::{thousands, Row};
use crate::sql;

/// Two runs of different lengths on new connections: their difference is
/// the transactions alone, without the connection's start and end.
const FEW: u32 = 1_000;
const MANY: u32 = 6_000;

pub async fn rows(rows: &mut Vec<Row>) {
    // No autovacuum worker: each process that ends writes a count, and
    // only the benchmark's backends should.
    let cluster = PrivateCluster::start_under_callgrind(&["autovacuum=off"]);
    let before = cluster.callgrind_outputs();
    let db = cluster.connect().await;
    db.batch_execute("CREATE EXTENSION pg_socketio")
        .await
        .unwrap();
    // Its backend's count is written before the runs start.
    drop(db);
    ended(&cluster, &before, 0);
    let pgbench = Pgbench::new(&cluster.url());
    let (ours, theirs) = sql::one_emit_scripts();
    for protocol in ["prepared", "simple"] {
        let ours = per_transaction(&cluster, &pgbench, &ours, protocol);
        let theirs = per_transaction(&cluster, &pgbench, &theirs, protocol);
        rows.push(Row {
            name: format!(
                "1 emit per transaction, {protocol} protocol: the backend's instructions \
                 per transaction (callgrind)"
            ),
            ours: thousands(ours),
            baseline: format!("pg_notify, same JSON: {}", thousands(theirs)),
            // As the tps rows: higher is better.
            ratio: theirs / ours,
            spread: None,
            target: None,
        });
    }
}

fn per_transaction(
    cluster: &PrivateCluster,
    pgbench: &Pgbench,
    script: &str,
    protocol: &str,
) -> f64 {
    let few = instructions(cluster, pgbench, script, protocol, FEW);
    let many = instructions(cluster, pgbench, script, protocol, MANY);
    (many as f64 - few as f64) / f64::from(MANY - FEW)
}

/// The instructions of the backend that ran `script` `count` times.
fn instructions(
    cluster: &PrivateCluster,
    pgbench: &Pgbench,
    script: &str,
    protocol: &str,
    count: u32,
) -> u64 {
    let before = cluster.callgrind_outputs();
    pgbench.transactions(script, protocol, count, sql::OPTIONS);
    // pgbench's first connection only asks the server's version; no
    // transaction takes under 10,000 instructions.
    ended(cluster, &before, u64::from(count) * 10_000)
}

/// The largest count, of at least `least`, of the processes that ended
/// since `before`; a process writes its count as it exits.
fn ended(cluster: &PrivateCluster, before: &[PathBuf], least: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let most = cluster
            .callgrind_outputs()
            .iter()
            .filter(|path| !before.contains(path))
            .filter_map(|path| total(path))
            .max();
        match most {
            Some(total) if total >= least => return total,
            _ => assert!(
                Instant::now() < deadline,
                "no callgrind output of {least} instructions"
            ),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The `summary:` line of a complete callgrind output.
fn total(output: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(output).ok()?;
    text.contains("\ntotals:")
        .then(|| {
            text.lines()
                .find_map(|line| line.strip_prefix("summary: ")?.trim().parse().ok())
        })
        .flatten()
}
