//! `pg_socketio_bench durable [minutes] [listener kills] [server restarts]`:
//! the proof of durable delivery. A private cluster with `wal_level =
//! logical` and `pg_socketio.delivery = 'wal'`; 1,000 numbered emits/s (10
//! per transaction, every 10 ms) for the given minutes, while the durable
//! listener — a child process, `durable-receive` — is killed (SIGKILL) and
//! started again, and the server restarted (fast), evenly spread. Checked:
//! every number arrives, in order; a number seen again is a duplicate,
//! counted (the at-least-once window); the listener's RSS; the slot's lag at
//! the end. The first 20 s run without faults: their commit → receipt
//! latency is the quiet-time figure.

use std::collections::HashSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use pg_socketio_client::protocol::Body;
use pg_socketio_client::{DurableEvent, DurableListener};
use pg_socketio_kit::PrivateCluster;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio_postgres::{Client, NoTls};

use crate::listener::rss_kb;
use crate::receiver::now_ms;
use crate::report::percentile;

const PER_TICK: i64 = 10;
const TICK: Duration = Duration::from_millis(10);
const QUIET: Duration = Duration::from_secs(20);
const SLOT: &str = "soak";

/// The child: prints `n sent_ms received_ms` per message, then confirms it.
pub async fn receive(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut listener = DurableListener::builder(url, SLOT)
        .create_slot(true)
        .status_interval(Duration::from_millis(200))
        .connect()
        .await?;
    loop {
        let event = listener.recv().await?;
        if let DurableEvent::Message { message, .. } = &event {
            if let Body::Broadcast { args, .. } = &message.body {
                let (n, t) = (args[0]["n"].as_i64(), args[0]["t"].as_f64());
                println!("{} {} {}", n.unwrap_or(-1), t.unwrap_or(0.0), now_ms());
            }
        }
        listener.confirm(event.offset());
    }
}

fn spawn_receiver(url: &str) -> Child {
    Command::new(std::env::current_exe().expect("the bench binary"))
        .args(["durable-receive", url])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the receiver")
}

/// What the parent learns from the receivers' lines.
#[derive(Default)]
struct Tally {
    seen: HashSet<i64>,
    highest: i64,
    duplicates: u64,
    out_of_order: u64,
    latencies: Vec<f64>,
    quiet_latencies: Vec<f64>,
}

impl Tally {
    fn add(&mut self, line: &str, quiet: bool) {
        let mut parts = line.split(' ');
        let mut num = || {
            parts
                .next()
                .and_then(|p| p.parse::<f64>().ok())
                .unwrap_or(-1.0)
        };
        let (n, sent, got) = (num() as i64, num(), num());
        if !self.seen.insert(n) {
            self.duplicates += 1;
            return;
        }
        // Commit order is emit order: a new number must be the next one.
        if n != self.highest + 1 {
            self.out_of_order += 1;
        }
        self.highest = self.highest.max(n);
        self.latencies.push(got - sent);
        if quiet {
            self.quiet_latencies.push(got - sent);
        }
    }
}

pub async fn run(
    minutes: u32,
    kills: u32,
    restarts: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    let cluster = PrivateCluster::start(&["wal_level=logical", "max_wal_senders=10"]);
    let url = cluster.url();
    let db = cluster.connect().await;
    db.batch_execute(
        "CREATE EXTENSION pg_socketio; ALTER DATABASE postgres SET pg_socketio.delivery = 'wal'",
    )
    .await?;
    let run_for = Duration::from_secs(u64::from(minutes) * 60);
    let (lines_tx, mut lines) = mpsc::unbounded_channel::<String>();
    let mut child = start(&url, &lines_tx);
    // The receiver has made the slot before anything is emitted.
    while db
        .query_opt(
            "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1",
            &[&SLOT],
        )
        .await?
        .is_none()
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (sent_tx, mut sent_rx) = mpsc::unbounded_channel::<i64>();
    let emitter = tokio::spawn(emit(url.clone(), run_for, sent_tx));

    let started = Instant::now();
    let kill_every = run_for.saturating_sub(QUIET) / (kills + 1);
    let restart_every = run_for.saturating_sub(QUIET) / (restarts + 1);
    let (mut killed, mut restarted, mut exited) = (0, 0, 0);
    let mut tally = Tally::default();
    let mut rss_by_minute = vec![0u64; minutes as usize + 1];
    let mut sent = 0;
    let mut cluster = Some(cluster);
    let mut restarting: Option<tokio::task::JoinHandle<PrivateCluster>> = None;
    println!("| minute | emitted | received | duplicates | out of order | p99 latency | listener RSS | listener kills | server restarts |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut minute_mark = Instant::now();
    let mut minute = 1;
    loop {
        tokio::select! {
            Some(line) = lines.recv() => tally.add(&line, started.elapsed() < QUIET),
            Some(n) = sent_rx.recv() => sent = n,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        let faults_time = started.elapsed().saturating_sub(QUIET);
        if started.elapsed() > QUIET && killed < kills && faults_time >= kill_every * (killed + 1) {
            child.kill().await?;
            child = start(&url, &lines_tx);
            killed += 1;
        }
        // A receiver that exited by itself (its first connection made while
        // the server restarted: `connect()` returns that error) is started
        // again at once, as a supervisor would.
        if child.try_wait()?.is_some() {
            child = start(&url, &lines_tx);
            exited += 1;
        }
        if started.elapsed() > QUIET
            && restarted < restarts
            && restarting.is_none()
            && faults_time >= restart_every * (restarted + 1)
        {
            let c = cluster.take().expect("not restarting");
            restarting = Some(tokio::task::spawn_blocking(move || {
                c.restart();
                c
            }));
        }
        if restarting.as_ref().is_some_and(|r| r.is_finished()) {
            cluster = Some(restarting.take().expect("finished").await?);
            restarted += 1;
        }
        if let Some(pid) = child.id() {
            let m = (started.elapsed().as_secs() / 60) as usize;
            if let Some(slot) = rss_by_minute.get_mut(m) {
                *slot = (*slot).max(rss_kb(pid));
            }
        }
        if minute_mark.elapsed() >= Duration::from_secs(60)
            || (emitter.is_finished() && tally.seen.len() as i64 >= sent)
        {
            println!(
                "| {minute} | {sent} | {} | {} | {} | {:.1} ms | {} kB | {killed} | {restarted} |",
                tally.seen.len(),
                tally.duplicates,
                tally.out_of_order,
                percentile(&mut tally.latencies, 0.99),
                rss_by_minute.get(minute - 1).copied().unwrap_or(0),
            );
            tally.latencies.clear();
            minute_mark = Instant::now();
            minute += 1;
            if emitter.is_finished() && tally.seen.len() as i64 >= sent {
                break;
            }
        }
        if emitter.is_finished() && started.elapsed() > run_for + Duration::from_secs(120) {
            break;
        }
    }
    emitter.await??;
    if let Some(r) = restarting.take() {
        cluster = Some(r.await?);
    }
    let cluster = cluster.expect("the cluster");
    // The receiver confirms every 200 ms: then the slot is caught up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let db = cluster.connect().await;
    let lag: i64 = db
        .query_one(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::int8
             FROM pg_replication_slots WHERE slot_name = $1",
            &[&SLOT],
        )
        .await?
        .get(0);
    child.kill().await?;
    let missing = sent - tally.seen.len() as i64;
    println!();
    println!(
        "emitted {sent}; received {} distinct, {missing} missing, {} duplicates, {} out of order; \
         {killed} listener kills, {restarted} server restarts, {exited} listener exits; \
         quiet p99 commit→receipt {:.2} ms; \
         slot lag at the end {lag} bytes",
        tally.seen.len(),
        tally.duplicates,
        tally.out_of_order,
        percentile(&mut tally.quiet_latencies, 0.99),
    );
    if missing != 0 || tally.out_of_order != 0 {
        return Err(format!("{missing} missing, {} out of order", tally.out_of_order).into());
    }
    Ok(())
}

fn start(url: &str, lines: &mpsc::UnboundedSender<String>) -> Child {
    let mut child = spawn_receiver(url);
    let stdout = child.stdout.take().expect("piped");
    let lines = lines.clone();
    tokio::spawn(async move {
        let mut reader = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    child
}

/// Emits numbers 1, 2, … in transactions of `PER_TICK`, every `TICK`;
/// across restarts it reconnects and sends the failed transaction again.
async fn emit(
    url: String,
    run_for: Duration,
    sent: mpsc::UnboundedSender<i64>,
) -> Result<(), tokio_postgres::Error> {
    let started = Instant::now();
    let mut next = 1i64;
    let mut db: Option<Client> = None;
    let mut ticks = tokio::time::interval(TICK);
    while started.elapsed() < run_for {
        ticks.tick().await;
        if db.as_ref().is_none_or(Client::is_closed) {
            match tokio_postgres::connect(&url, NoTls).await {
                Ok((client, connection)) => {
                    tokio::spawn(connection);
                    db = Some(client);
                }
                Err(_) => continue, // restarting
            }
        }
        let client = db.as_ref().expect("connected");
        let result = client
            .execute(
                "SELECT sio_emit('r', 'm', jsonb_build_object('n', n, 't',
                    extract(epoch FROM clock_timestamp()) * 1000))
                 FROM generate_series($1::int8, $2::int8) n",
                &[&next, &(next + PER_TICK - 1)],
            )
            .await;
        if result.is_ok() {
            next += PER_TICK;
            let _ = sent.send(next - 1);
        }
    }
    Ok(())
}
