//! Drives a [`Peer`] from JSON lines on stdin, for the Node.js interop test
//! `tests/interop/peer.test.mjs`; answers each line with one JSON line on
//! stdout. Arguments: the channel prefix, then `announce` to join the
//! cluster (its handler answers the server-side event `ask` with
//! `{"peer": <uid>, "args": [...]}` and leaves other events unanswered).
//! Lines: `{"op":"servers"|"discover"|"fetchSockets"|"serverSideEmitWithAck"|
//! "emitWithAck"|"pending"|"close", "to":[..], "except":[..], "event", "args",
//! "timeout": ms, "wait": ms}`.

use std::io::BufRead;
use std::time::{Duration, Instant};

use pg_socketio_client::{Answer, Answers, Peer, PeerError};
use serde_json::{json, Value};

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn millis(v: &Value, default: u64) -> Duration {
    Duration::from_millis(v.as_u64().unwrap_or(default))
}

fn answers<T>(a: &[Answer<T>], value: impl Fn(&T) -> Value) -> Value {
    a.iter()
        .map(|a| json!({"server": a.server, "value": value(&a.value)}))
        .collect()
}

fn ended<T>(a: &Answers<T>, value: impl Fn(&T) -> Value, started: Instant) -> Value {
    json!({
        "answers": answers(&a.answers, value),
        "missing": a.missing,
        "left": a.left,
        "complete": a.complete(),
        "ms": started.elapsed().as_millis() as u64,
    })
}

async fn run(peer: &Peer, line: &Value) -> Result<Value, PeerError> {
    let started = Instant::now();
    let mut select = peer.all().timeout(millis(&line["timeout"], 5000));
    for room in strings(&line["to"]) {
        select = select.to(room);
    }
    for room in strings(&line["except"]) {
        select = select.except(room);
    }
    let event = line["event"].as_str().unwrap_or_default();
    let uids = |servers: Vec<pg_socketio_client::Server>| -> Value {
        servers.into_iter().map(|s| s.uid).collect()
    };
    Ok(match line["op"].as_str().unwrap_or_default() {
        "servers" => json!({"servers": uids(peer.servers())}),
        "discover" => json!({"servers": uids(peer.discover(millis(&line["wait"], 200)).await?)}),
        "pending" => json!({"pending": peer.pending_requests()}),
        "fetchSockets" => {
            let found = select.fetch_sockets().await?;
            ended(
                &found,
                |sockets| {
                    sockets
                        .iter()
                        .map(|s| {
                            json!({
                                "id": s.id,
                                "rooms": s.rooms,
                                "data": serde_json::to_value(&s.data).unwrap(),
                                "auth": serde_json::to_value(&s.handshake.auth).unwrap(),
                                "address": s.handshake.address,
                                "issued": s.handshake.issued,
                            })
                        })
                        .collect()
                },
                started,
            )
        }
        "serverSideEmitWithAck" => {
            let timeout = millis(&line["timeout"], 5000);
            let got = peer
                .server_side_emit_with_ack(event, &line["args"], timeout)
                .await?;
            ended(&got, |v| serde_json::to_value(v).unwrap(), started)
        }
        "emitWithAck" => {
            let acks = select.emit_with_ack(event, &line["args"]).await?;
            json!({
                "counts": answers(&acks.client_counts, |n| json!(n)),
                "acks": answers(&acks.acks, |v| serde_json::to_value(v).unwrap()),
                "missing": acks.missing,
                "left": acks.left,
                "missingAcks": acks.missing_acks(),
                "complete": acks.complete(),
                "ms": started.elapsed().as_millis() as u64,
            })
        }
        other => panic!("unknown op {other}"),
    })
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let prefix = args.next().expect("a channel prefix");
    let announce = args.next().as_deref() == Some("announce");
    let peer = Peer::builder(pg_socketio_kit::database_url())
        .channel_prefix(prefix)
        .announce(announce)
        .on_server_side_emit(|event, args| {
            (event == "ask")
                .then(|| json!({"peer": "rust", "args": serde_json::to_value(args).unwrap()}))
        })
        .connect()
        .await
        .expect("connect");
    println!("{}", json!({"uid": peer.uid()}));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    let mut peer = Some(peer);
    while let Some(line) = rx.recv().await {
        let line: Value = serde_json::from_str(&line).expect("a JSON line");
        if line["op"] == "close" {
            if let Some(peer) = peer.take() {
                peer.close().await.expect("close");
            }
            println!("{}", json!({"closed": true}));
            continue;
        }
        let Some(peer) = &peer else {
            println!("{}", json!({"error": "closed"}));
            continue;
        };
        match run(peer, &line).await {
            Ok(v) => println!("{v}"),
            Err(e) => println!("{}", json!({"error": e.to_string()})),
        }
    }
}
