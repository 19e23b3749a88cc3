//! Drives the Rust [`Emitter`] from JSON lines on stdin, for the Node.js
//! interop test `tests/interop/rust-emitter.test.mjs`; answers each line with
//! `ok` or `error: …` on stdout. Lines:
//! `{"op":"emit"|"join"|"leave"|"disconnect"|"serverSideEmit"|"begin"|"commit"|"rollback",
//!   "prefix", "nsp", "to":[..], "except":[..], "volatile", "compress", "event",
//!   "args":[..], "binary":[[bytes..]..], "rooms":[..], "close"}`

use std::io::BufRead;

use pg_socketio_client::{EmitError, Emitter};
use serde_json::Value;
use tokio_postgres::Client;

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

async fn run(db: &Client, line: &Value) -> Result<(), EmitError> {
    let emitter = Emitter::new()
        .channel_prefix(line["prefix"].as_str().unwrap_or("socket.io"))
        .of(line["nsp"].as_str().unwrap_or("/"));
    let mut target = emitter.broadcast();
    for room in strings(&line["to"]) {
        target = target.to(room);
    }
    for room in strings(&line["except"]) {
        target = target.except(room);
    }
    if line["volatile"] == true {
        target = target.volatile();
    }
    if line["compress"] == false {
        target = target.compress(false);
    }
    let event = line["event"].as_str().unwrap_or_default();
    let rooms = strings(&line["rooms"]);
    match line["op"].as_str().unwrap_or_default() {
        "emit" => {
            let binary: Vec<Vec<u8>> = line["binary"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|b| serde_json::from_value(b.clone()).unwrap())
                        .collect()
                })
                .unwrap_or_default();
            let binary: Vec<&[u8]> = binary.iter().map(Vec::as_slice).collect();
            target.emit_binary(db, event, &line["args"], &binary).await
        }
        "join" => target.sockets_join(db, &rooms).await,
        "leave" => target.sockets_leave(db, &rooms).await,
        "disconnect" => target.disconnect_sockets(db, line["close"] == true).await,
        "serverSideEmit" => emitter.server_side_emit(db, event, &line["args"]).await,
        tx @ ("begin" | "commit" | "rollback") => Ok(db.batch_execute(tx).await?),
        other => panic!("unknown op {other}"),
    }
}

#[tokio::main]
async fn main() {
    let url = pg_socketio_kit::database_url();
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    while let Some(line) = rx.recv().await {
        let line: Value = serde_json::from_str(&line).expect("a JSON line");
        match run(&db, &line).await {
            Ok(()) => println!("ok"),
            Err(e) => println!("error: {e}"),
        }
    }
}
