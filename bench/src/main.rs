//! `pg_socketio_bench`: the benchmarks of `scripts/bench.sh`, against the
//! local PostgreSQL with the release build of pg_socketio installed. Prints a
//! Markdown table; every figure is compared with a baseline measured in the
//! same run, with repeats (these machines are noisy).
//!
//! `pg_socketio_bench sql`, `instructions`, `trigger`, `listener`, `scaling`,
//! `delivery` or `memory` runs one part.
//! `pg_socketio_bench receive <url> <prefix>` is the Rust receiver the
//! listener benchmarks start as a child process. `pg_socketio_bench soak
//! [minutes]` is the soak run of `scripts/soak.sh`; `pg_socketio_bench
//! durable [minutes] [kills] [restarts]` the durable delivery proof of
//! `scripts/durable-soak.sh` (its child: `durable-receive <url>`).

mod codec;
mod delivery;
mod durable;
mod instructions;
mod listener;
mod memory;
mod pgbench;
mod receiver;
mod report;
mod scaling;
mod soak;
mod sql;
mod trigger;

use tokio_postgres::NoTls;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [cmd, url, prefix] = args.as_slice() {
        if cmd == "receive" {
            return receiver::run(url, prefix).await;
        }
    }
    if let [cmd, url] = args.as_slice() {
        if cmd == "durable-receive" {
            return durable::receive(url).await;
        }
    }
    if let Some("durable") = args.first().map(String::as_str) {
        let arg = |i: usize, default: u32| args.get(i).map_or(Ok(default), |m| m.parse());
        return durable::run(arg(1, 5)?, arg(2, 50)?, arg(3, 20)?).await;
    }
    if let Some("soak") = args.first().map(String::as_str) {
        let minutes = args.get(1).map_or(Ok(30), |m| m.parse())?;
        return soak::run(minutes).await;
    }
    let only = args.first().map(String::as_str);
    let part = |name: &str| only.is_none_or(|o| o == name);
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let (db, connection) = tokio_postgres::connect(&url, NoTls).await?;
    tokio::spawn(connection);
    db.batch_execute(&format!(
        "CREATE EXTENSION IF NOT EXISTS pg_socketio; {}",
        sql::NODE_TABLE
    ))
    .await?;
    let pgbench = pgbench::Pgbench::new(&url);
    let mut rows = Vec::new();

    if part("sql") {
        eprintln!("SQL emit throughput (pgbench)…");
        sql::one_emit_per_transaction(&pgbench, &mut rows);
        sql::batched(&pgbench, &mut rows);
        eprintln!("attachment path…");
        sql::attachments(&pgbench, &mut rows);
        db.batch_execute("TRUNCATE bench_node_attachments; DELETE FROM socket_io_attachments")
            .await?;
    }
    if part("instructions") {
        eprintln!("the backend's instructions per emit (callgrind)…");
        instructions::rows(&mut rows).await;
    }
    if part("listener") {
        eprintln!("listeners: Rust and Node.js…");
        let mut rust = listener::Receiver::rust(&url).await;
        let mut node = listener::Receiver::node(&url).await;
        rust.ready(&db).await;
        node.ready(&db).await;
        listener::throughput(&mut rust, &mut node, &db, &mut rows).await;
        listener::latency(&mut rust, &mut node, &pgbench, &db, &mut rows).await;
        eprintln!("listener memory, 2 × 60 s…");
        listener::memory(&mut rust, &mut node, &pgbench, &db, &mut rows).await;
        db.batch_execute("DELETE FROM socket_io_attachments")
            .await?;
    }
    if part("trigger") {
        eprintln!("row changes: sio_trigger…");
        trigger::rows(&url, &db, &mut rows).await;
    }
    if part("scaling") {
        eprintln!("the cost of an emit as servers are added (1, 8, 32)…");
        scaling::rows(&url, &db, &pgbench, &mut rows).await;
    }
    if part("delivery") {
        eprintln!("emit throughput by pg_socketio.delivery (1, 2, 4, 8 clients)…");
        delivery::rows(&mut rows).await;
    }
    if part("memory") {
        eprintln!("backend memory of large emits…");
        memory::rows(&url, &db, &mut rows).await;
    }
    if only.is_none() {
        codec::rows(&mut rows);
    }
    report::print(&rows);
    Ok(())
}
