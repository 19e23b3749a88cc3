//! The backend's CPU work, counted rather than timed: a private cluster
//! runs under callgrind, which counts the instructions each server process
//! executes. For the same binaries and input the count is the same however
//! busy the machine is, where the timed rows of one client move by ± 15 %
//! from minute to minute. It leaves out what the kernel does (sockets, the
//! commit's WAL flush, waking listeners), which both sides pay alike, so the
//! ratio is of the part pg_socketio can change.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pg_socketio_kit::PrivateCluster;

use crate::pgbench::Pgbench;
use crate::report::{thousands, Row};
use crate::{sql, trigger};

/// Rows per INSERT of the trigger row.
const ROWS: u32 = 1_000;

pub async fn rows(rows: &mut Vec<Row>) {
    // No autovacuum worker: each process that ends writes a count, and
    // only the benchmark's backends should.
    let cluster = PrivateCluster::start_under_callgrind(&["autovacuum=off"]);
    let before = cluster.callgrind_outputs();
    let db = cluster.connect().await;
    db.batch_execute("CREATE EXTENSION pg_socketio")
        .await
        .unwrap();
    trigger::setup(&db).await;
    // Its backend's count is written before the runs start.
    drop(db);
    ended(&cluster, &before, 1);
    let counter = Counter {
        cluster: &cluster,
        pgbench: Pgbench::new(&cluster.url()),
    };

    let (ours, theirs) = sql::one_emit_scripts();
    for protocol in ["prepared", "simple"] {
        let count =
            |script| counter.per_transaction(script, protocol, sql::OPTIONS, (1_000, 6_000));
        let (ours, theirs) = (count(&ours), count(&theirs));
        rows.push(Row {
            name: format!("1 emit per transaction, {protocol} protocol: backend instructions per transaction (callgrind)"),
            ours: thousands(ours),
            baseline: format!("pg_notify, same JSON: {}", thousands(theirs)),
            // As the tps rows: higher is better.
            ratio: theirs / ours,
            spread: None,
            target: None,
        });
    }

    let (ours, theirs) = sql::batched_scripts();
    let count =
        |script| counter.per_transaction(script, "prepared", sql::OPTIONS, (5, 30)) / 1_000.0;
    let (ours, theirs) = (count(&ours), count(&theirs));
    rows.push(Row {
        name: "1,000 emits in one transaction: backend instructions per emit (callgrind)".into(),
        ours: thousands(ours),
        baseline: format!("pg_notify of the same JSON: {}", thousands(theirs)),
        ratio: theirs / ours,
        spread: None,
        target: None,
    });

    let options = format!("-c pg_socketio.channel_prefix={}", trigger::PREFIX);
    let count = |table| {
        let insert = format!("{};\n", trigger::insert_rows(table, ROWS));
        counter.per_transaction(&insert, "prepared", &options, (5, 30)) / f64::from(ROWS)
    };
    let plain = count("bench_plain");
    let (ours, theirs) = (count("bench_sio") - plain, count("bench_hand") - plain);
    rows.push(Row {
        name: format!(
            "trigger per-row overhead, INSERTs of {} rows: backend instructions per row (callgrind)",
            thousands(f64::from(ROWS))
        ),
        ours: format!("sio_trigger: {}", thousands(ours)),
        baseline: format!("hand-written pg_notify trigger: {}", thousands(theirs)),
        // As the timed row: lower is better.
        ratio: ours / theirs,
        spread: None,
        target: None,
    });
}

struct Counter<'a> {
    cluster: &'a PrivateCluster,
    pgbench: Pgbench,
}

impl Counter<'_> {
    /// The instructions of one transaction of `script`: the difference of
    /// two runs of `few` and `many` transactions, each on a new connection,
    /// leaves out the connection's start and end.
    fn per_transaction(
        &self,
        script: &str,
        protocol: &str,
        options: &str,
        (few, many): (u32, u32),
    ) -> f64 {
        let few_total = self.instructions(script, protocol, options, few);
        let many_total = self.instructions(script, protocol, options, many);
        (many_total as f64 - few_total as f64) / f64::from(many - few)
    }

    /// The instructions of the backend that ran `script` `count` times.
    fn instructions(&self, script: &str, protocol: &str, options: &str, count: u32) -> u64 {
        let before = self.cluster.callgrind_outputs();
        self.pgbench.transactions(script, protocol, count, options);
        // Two backends: pgbench's first connection only asks the server's
        // version.
        ended(self.cluster, &before, 2)
    }
}

/// The largest count of the `processes` processes that ended since
/// `before`; a process writes its count as it exits.
fn ended(cluster: &PrivateCluster, before: &[PathBuf], processes: usize) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let totals: Vec<u64> = cluster
            .callgrind_outputs()
            .iter()
            .filter(|path| !before.contains(path))
            .filter_map(|path| total(path))
            .collect();
        assert!(
            totals.len() <= processes,
            "more server processes ended than {processes}"
        );
        if totals.len() == processes {
            return totals.into_iter().max().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "{} of {processes} server processes wrote their count",
            totals.len()
        );
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
