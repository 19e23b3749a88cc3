//! The Rust listener against a Node.js server with the adapter, each a child
//! process fed through its own channel prefix, one at a time.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio_postgres::Client;

use crate::pgbench::{Pgbench, Run};
use crate::report::{thousands, Medians, Pairs, Row};

pub struct Receiver {
    pub name: &'static str,
    prefix: String,
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
}

pub struct Summary {
    pub count: u64,
    /// Latency samples.
    pub samples: u64,
    pub span_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Receiver {
    pub async fn rust(url: &str) -> Receiver {
        Self::rust_on(url, "bench_rust").await
    }

    pub async fn node(url: &str) -> Receiver {
        Self::node_on(url, "bench_node").await
    }

    /// A Rust listener on channel prefix `prefix`.
    pub async fn rust_on(url: &str, prefix: &str) -> Receiver {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = Command::new(exe);
        cmd.args(["receive", url, prefix]);
        Self::start("Rust listener", prefix, cmd).await
    }

    /// A Node.js server with the adapter on channel prefix `prefix`.
    pub async fn node_on(url: &str, prefix: &str) -> Receiver {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/interop/programs/bench-receiver.mjs");
        let mut cmd = Command::new("node");
        cmd.arg(script).arg(prefix).env("DATABASE_URL", url);
        Self::start("Node.js adapter 0.5.0", prefix, cmd).await
    }

    async fn start(name: &'static str, prefix: &str, mut cmd: Command) -> Receiver {
        let mut child = cmd
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (tx, lines) = mpsc::unbounded_channel();
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = out.next_line().await {
                let _ = tx.send(line);
            }
        });
        Receiver {
            name,
            prefix: prefix.to_owned(),
            child,
            lines,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    /// pgbench settings that make `sio_emit` reach this receiver.
    pub fn options(&self) -> String {
        format!("-c pg_socketio.channel_prefix={}", self.prefix)
    }

    async fn line(&mut self, wait: Duration) -> String {
        tokio::time::timeout(wait, self.lines.recv())
            .await
            .unwrap_or_else(|_| panic!("{}: no answer within {wait:?}", self.name))
            .unwrap_or_else(|| panic!("{} exited", self.name))
    }

    /// Probes until the receiver is listening.
    pub async fn ready(&mut self, db: &Client) {
        db.batch_execute(&format!(
            "SET pg_socketio.channel_prefix = '{}'",
            self.prefix
        ))
        .await
        .unwrap();
        for _ in 0..100 {
            db.batch_execute("SELECT sio_emit(ARRAY[]::text[], 'probe', '[]')")
                .await
                .unwrap();
            if let Ok(Some(line)) =
                tokio::time::timeout(Duration::from_millis(200), self.lines.recv()).await
            {
                assert_eq!(line, "ready", "{}", self.name);
                return;
            }
        }
        panic!("{} did not start listening", self.name);
    }

    /// Ends a round and returns what the receiver saw.
    pub async fn summary(&mut self, db: &Client) -> Summary {
        end_round(db, &self.prefix).await;
        self.next_summary().await
    }

    /// The summary of a round whose `end` someone else sent.
    pub async fn next_summary(&mut self) -> Summary {
        let line = self.line(Duration::from_secs(120)).await;
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let f = |k: &str| v[k].as_f64().unwrap();
        Summary {
            count: v["count"].as_u64().unwrap(),
            samples: v["samples"].as_u64().unwrap(),
            span_ms: f("span_ms"),
            p50_ms: f("p50_ms"),
            p99_ms: f("p99_ms"),
        }
    }
}

/// Sends `end` on `prefix`: every receiver on it prints its summary.
pub async fn end_round(db: &Client, prefix: &str) {
    db.batch_execute(&format!(
        "SET pg_socketio.channel_prefix = '{prefix}'; SELECT sio_emit(ARRAY[]::text[], 'end', '[]')"
    ))
    .await
    .unwrap();
}

const BURST: u64 = 100_000;

/// Events/s while draining `BURST` broadcasts committed at once.
async fn drain_rate(receiver: &mut Receiver, db: &Client) -> f64 {
    db.batch_execute(&format!(
        "SET pg_socketio.channel_prefix = '{}';
         SELECT count(sio_emit(ARRAY[]::text[], 'b', jsonb_build_array(i))) FROM generate_series(1, {BURST}) i",
        receiver.prefix
    ))
    .await
    .unwrap();
    let s = receiver.summary(db).await;
    assert_eq!(s.count, BURST, "{} lost messages", receiver.name);
    s.count as f64 / s.span_ms * 1000.0
}

pub async fn throughput(
    rust: &mut Receiver,
    node: &mut Receiver,
    db: &Client,
    rows: &mut Vec<Row>,
) {
    let mut pairs = Pairs::default();
    for i in 0..5 {
        let (a, b) = if Pairs::ours_first(i) {
            let a = drain_rate(rust, db).await;
            (a, drain_rate(node, db).await)
        } else {
            let b = drain_rate(node, db).await;
            (drain_rate(rust, db).await, b)
        };
        pairs.push(a, b);
    }
    let Medians {
        ours: rust_rate,
        theirs: node_rate,
        ratio,
        spread,
    } = pairs.medians();
    rows.push(Row {
        name: format!(
            "listener: {} broadcasts committed at once, events/s",
            thousands(BURST as f64)
        ),
        ours: format!("{}/s", thousands(rust_rate)),
        baseline: format!("Node.js adapter: {}/s", thousands(node_rate)),
        ratio,
        spread: Some(spread),
        target: Some(("≥ 1.5", ratio >= 1.5)),
    });
}

/// Commit → receipt at 1,000 emits/s, paced by pgbench.
pub async fn latency(
    rust: &mut Receiver,
    node: &mut Receiver,
    pgbench: &Pgbench,
    db: &Client,
    rows: &mut Vec<Row>,
) {
    // One argument: the time the emit ran, in ms since the epoch.
    let script = "SELECT sio_emit(ARRAY[]::text[], 'l', \
                  to_jsonb(extract(epoch from clock_timestamp()) * 1000));\n";
    let mut results = vec![];
    for receiver in [&mut *rust, &mut *node] {
        let options = receiver.options();
        let run = Run {
            script,
            clients: 1,
            seconds: 10,
            protocol: "prepared",
            rate: Some(1000),
            options: &options,
        };
        let tps = tokio::task::block_in_place(|| pgbench.tps(&run));
        let s = receiver.summary(db).await;
        let sent = (tps * f64::from(run.seconds)) as u64;
        assert!(
            s.samples * 10 >= sent * 9,
            "{}: {} latency samples for about {sent} emits",
            receiver.name,
            s.samples
        );
        results.push((tps, s));
    }
    let (tps, rust_s) = &results[0];
    let (_, node_s) = &results[1];
    rows.push(Row {
        name: format!("commit → receipt latency p50, {} emits/s", thousands(*tps)),
        ours: format!("{:.2} ms", rust_s.p50_ms),
        baseline: format!("Node.js adapter: {:.2} ms", node_s.p50_ms),
        ratio: node_s.p50_ms / rust_s.p50_ms,
        spread: None,
        target: None,
    });
    rows.push(Row {
        name: format!("commit → receipt latency p99, {} emits/s", thousands(*tps)),
        ours: format!("{:.2} ms", rust_s.p99_ms),
        baseline: format!("Node.js adapter: {:.2} ms", node_s.p99_ms),
        ratio: node_s.p99_ms / rust_s.p99_ms,
        spread: None,
        target: Some(("p99 ≤ 5 ms", rust_s.p99_ms <= 5.0)),
    });
}

pub fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// RSS once a second during a sustained, mixed run: (first-half peak,
/// second-half peak) in kB.
async fn sustained_rss(receiver: &Receiver, pgbench: &Pgbench, seconds: u32) -> (u64, u64) {
    let pid = receiver.pid();
    let options = receiver.options();
    let pgbench = pgbench.clone();
    let load = tokio::task::spawn_blocking(move || {
        // Nine small emits for one 10 kB attachment.
        let script = "\\set r random(1, 10)\n\
                      SELECT sio_emit(ARRAY[]::text[], 'm', CASE WHEN :r = 1 \
                      THEN to_jsonb(repeat('x', 10000)) ELSE '{\"n\":1}'::jsonb END);\n";
        pgbench.tps(&Run {
            script,
            clients: 2,
            seconds,
            protocol: "prepared",
            rate: Some(2000),
            options: &options,
        })
    });
    let mut samples = vec![];
    while !load.is_finished() {
        samples.push(rss_kb(pid));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    load.await.unwrap();
    let half = samples.len() / 2;
    let peak = |s: &[u64]| s.iter().copied().max().unwrap_or(0);
    (peak(&samples[..half]), peak(&samples[half..]))
}

pub async fn memory(
    rust: &mut Receiver,
    node: &mut Receiver,
    pgbench: &Pgbench,
    db: &Client,
    rows: &mut Vec<Row>,
) {
    const SECONDS: u32 = 60;
    let (rust_first, rust_second) = sustained_rss(rust, pgbench, SECONDS).await;
    rust.summary(db).await;
    let (node_first, node_second) = sustained_rss(node, pgbench, SECONDS).await;
    node.summary(db).await;
    let mb = |kb: u64| format!("{:.1} MB", kb as f64 / 1024.0);
    let rust_peak = rust_first.max(rust_second);
    let node_peak = node_first.max(node_second);
    rows.push(Row {
        name: format!("listener peak RSS, {SECONDS} s at 2,000 emits/s, 1 in 10 of 10 kB"),
        ours: mb(rust_peak),
        baseline: format!("Node.js adapter: {}", mb(node_peak)),
        ratio: node_peak as f64 / rust_peak as f64,
        spread: None,
        target: None,
    });
    let growth = rust_second as f64 / rust_first as f64;
    rows.push(Row {
        name: "listener RSS, peak of 2nd half / peak of 1st half".into(),
        ours: format!("{} → {}", mb(rust_first), mb(rust_second)),
        baseline: format!("Node.js adapter: {} → {}", mb(node_first), mb(node_second)),
        ratio: growth,
        spread: None,
        target: Some(("flat (≤ 1.05)", growth <= 1.05)),
    });
}
