//! Statement mode holds at most `pg_socketio.statement_memory` of a
//! statement's rows: beyond it, the rows held so far are sent and the
//! trigger goes on. A larger statement so arrives as several messages per
//! room, whose rows, taken in order, are each of that room's changes once,
//! a row's new and old versions together; within the limit, one message per
//! room. Read by the Rust listener (the messages go through the attachment
//! table).

use std::collections::BTreeMap;
use std::time::Duration;

use pg_socketio_client::protocol::Body;
use pg_socketio_client::{Event, Listener};
use pg_socketio_kit::{database_url, emitter, unique_prefix};
use serde_json::{json, Value};
use tokio_postgres::Client;

const ROWS: i32 = 3000;
const QUIET: Duration = Duration::from_secs(2);

/// Every message until `QUIET` passes without one: its room and the rows
/// of its argument, in arrival order.
async fn messages(listener: &mut Listener) -> Vec<(String, Vec<Value>)> {
    let mut received = Vec::new();
    while let Ok(event) = tokio::time::timeout(QUIET, listener.recv()).await {
        let Some(Event::Message { message, .. }) = event else {
            panic!("{event:?}");
        };
        let Body::Broadcast {
            event, args, opts, ..
        } = message.body
        else {
            panic!("{:?}", message.body);
        };
        assert_eq!(event, "batch");
        let [room] = &opts.rooms[..] else {
            panic!("one room per message: {:?}", opts.rooms);
        };
        let arg = serde_json::to_value(&args[0]).unwrap();
        let rows = arg["rows"].as_array().expect("rows").clone();
        assert!(!rows.is_empty(), "a message without rows");
        assert_eq!(arg["op"], "UPDATE");
        received.push((room.clone(), rows));
    }
    received
}

/// Each room's rows, the messages' rows joined in arrival order, and how
/// many messages it got.
fn by_room(received: Vec<(String, Vec<Value>)>) -> BTreeMap<String, (Vec<Value>, usize)> {
    let mut rooms: BTreeMap<String, (Vec<Value>, usize)> = BTreeMap::new();
    for (room, rows) in received {
        let entry = rooms.entry(room).or_default();
        entry.0.extend(rows);
        entry.1 += 1;
    }
    rooms
}

/// Row `id` as it is before the UPDATE below, and after it.
fn versions(id: i32) -> (Value, Value) {
    let body = format!("{}{id}", "b".repeat(50));
    let old = json!({"id": id, "r": id % 3, "body": body});
    let new_r = if id % 10 == 0 { 3 } else { id % 3 };
    let new = json!({"id": id, "r": new_r, "body": format!("{body}!")});
    (new, old)
}

/// What room `r:<k>` must get: every row whose old or new version is in
/// it, in the table's order.
fn expected() -> BTreeMap<String, Vec<Value>> {
    let mut rooms: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for id in 1..=ROWS {
        let (new, old) = versions(id);
        let mut named = vec![new["r"].clone(), old["r"].clone()];
        named.dedup();
        for r in named {
            rooms
                .entry(format!("r:{r}"))
                .or_default()
                .push(json!({"new": new, "old": old}));
        }
    }
    rooms
}

async fn setup(prefix: &str) -> (Client, Listener) {
    let db = emitter(prefix).await;
    db.batch_execute(&format!(
        "CREATE TEMP TABLE batch (id int, r int, body text);
         INSERT INTO batch SELECT i, i % 3, repeat('b', 50) || i FROM generate_series(1, {ROWS}) i;
         CREATE TRIGGER t AFTER UPDATE ON batch REFERENCING NEW TABLE AS n OLD TABLE AS o
           FOR EACH STATEMENT EXECUTE FUNCTION sio_trigger('r:{{r}}', 'batch');"
    ))
    .await
    .unwrap();
    let listener = Listener::builder(database_url())
        .channel_prefix(prefix)
        .connect()
        .await
        .unwrap();
    (db, listener)
}

const UPDATE: &str =
    "UPDATE batch SET body = body || '!', r = CASE WHEN id % 10 = 0 THEN 3 ELSE r END";

#[tokio::test]
async fn a_statement_beyond_the_limit_arrives_as_several_messages_per_room_in_order() {
    let prefix = unique_prefix("statement_batches");
    let (db, mut listener) = setup(&prefix).await;
    // ≈ 530 kB of rows, ≈ 9 times the limit.
    db.batch_execute(&format!(
        "SET pg_socketio.statement_memory = '64kB'; {UPDATE}"
    ))
    .await
    .unwrap();
    let rooms = by_room(messages(&mut listener).await);
    let expected = expected();
    assert_eq!(
        rooms.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (room, (rows, count)) in &rooms {
        assert!(*count >= 2, "{room}: {count} message(s)");
        assert_eq!(rows, &expected[room], "{room}");
    }
}

#[tokio::test]
async fn a_statement_within_the_limit_is_one_message_per_room() {
    let prefix = unique_prefix("statement_batches_one");
    let (db, mut listener) = setup(&prefix).await;
    let limit: String = db
        .query_one("SHOW pg_socketio.statement_memory", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(limit, "64MB", "the default");
    db.batch_execute(UPDATE).await.unwrap();
    let rooms = by_room(messages(&mut listener).await);
    let expected = expected();
    assert_eq!(rooms.len(), expected.len());
    for (room, (rows, count)) in &rooms {
        assert_eq!(*count, 1, "{room}");
        assert_eq!(rows, &expected[room], "{room}");
    }
}

/// Triggers of one statement share its transition tables: each reads them
/// whole, with a read pointer of its own, however often the other sent.
#[tokio::test]
async fn two_triggers_each_send_every_row_of_shared_transition_tables() {
    let prefix = unique_prefix("statement_batches_two");
    let (db, mut listener) = setup(&prefix).await;
    db.batch_execute(&format!(
        "CREATE TRIGGER again AFTER UPDATE ON batch REFERENCING NEW TABLE AS n OLD TABLE AS o
           FOR EACH STATEMENT EXECUTE FUNCTION sio_trigger('again:{{r}}', 'batch');
         SET pg_socketio.statement_memory = '64kB'; {UPDATE}"
    ))
    .await
    .unwrap();
    let rooms = by_room(messages(&mut listener).await);
    let expected = expected();
    assert_eq!(rooms.len(), 2 * expected.len());
    for (room, rows) in &expected {
        let again = room.replacen("r:", "again:", 1);
        for name in [room, &again] {
            let (got, count) = &rooms[name];
            assert!(*count >= 2, "{name}: {count} message(s)");
            assert_eq!(got, rows, "{name}");
        }
    }
}
