//! Emits in procedures and DO blocks that COMMIT and ROLLBACK as they go
//! (batch jobs do): each part is sent at its own COMMIT, a rolled-back part
//! never, and the attachment rows and their COMMIT-time refresh follow the
//! same transactions. Read by the Rust listener.

use std::time::Duration;

use pg_socketio_client::{Event, Listener};
use pg_socketio_kit::{database_url, emitter, event_and_argument, unique_prefix};
use serde_json::{json, Value};

const QUIET: Duration = Duration::from_secs(2);

/// Every broadcast until `QUIET` passes without one: event and argument.
async fn broadcasts(listener: &mut Listener) -> Vec<(String, Value)> {
    let mut received = Vec::new();
    while let Ok(event) = tokio::time::timeout(QUIET, listener.recv()).await {
        let Some(Event::Message { message, .. }) = event else {
            panic!("{event:?}");
        };
        received.push(event_and_argument(&message.body));
    }
    received
}

async fn listener(prefix: &str) -> Listener {
    Listener::builder(database_url())
        .channel_prefix(prefix)
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn each_commit_of_a_do_block_sends_its_part_and_a_rollback_sends_nothing() {
    let prefix = unique_prefix("transaction_control");
    let mut listener = listener(&prefix).await;
    let db = emitter(&prefix).await;
    let before: i64 = db
        .query_one(
            "SELECT coalesce(max(id), 0) FROM socket_io_attachments",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    // Alone in its query: a DO block may end transactions only outside a
    // transaction block. 'a', 'b' and 'c' are 9,000 characters: attachments.
    db.batch_execute(
        "DO $$
         BEGIN
           PERFORM sio_emit('r', 'a', to_jsonb(repeat('a', 9000)));
           PERFORM sio_emit('r', 'a2', '1');
           COMMIT;
           PERFORM sio_emit('r', 'b', to_jsonb(repeat('b', 9000)));
           PERFORM sio_emit('r', 'b2', '2');
           ROLLBACK;
           PERFORM sio_emit('r', 'c', to_jsonb(repeat('c', 9000)));
           -- Older than a second at its COMMIT: its created_at is refreshed.
           PERFORM pg_sleep(1.1);
           COMMIT;
           PERFORM sio_emit('r', 'd', '4');
         END $$",
    )
    .await
    .unwrap();
    assert_eq!(
        broadcasts(&mut listener).await,
        [
            ("a".into(), json!("a".repeat(9000))),
            ("a2".into(), json!(1)),
            ("c".into(), json!("c".repeat(9000))),
            ("d".into(), json!(4)),
        ]
    );
    // Two rows (b's was rolled back); c's was stored 1.1 s before its
    // COMMIT, and the COMMIT inside the block refreshed its created_at.
    let rows = db
        .query(
            "SELECT extract(epoch FROM created_at)::float8 FROM socket_io_attachments
              WHERE id > $1 ORDER BY id",
            &[&before],
        )
        .await
        .unwrap();
    let at: Vec<f64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(at.len(), 2, "{at:?}");
    assert!(at[1] - at[0] >= 1.0, "c's created_at not refreshed: {at:?}");
}

#[tokio::test]
async fn a_procedure_that_commits_between_statements_sends_each_statements_rows() {
    let prefix = unique_prefix("transaction_control_trigger");
    let mut listener = listener(&prefix).await;
    let db = emitter(&prefix).await;
    let table = format!("{prefix}_t");
    db.batch_execute(&format!(
        "CREATE TABLE {table} (id int, r int);
         CREATE TRIGGER rows AFTER INSERT ON {table} REFERENCING NEW TABLE AS n
           FOR EACH STATEMENT EXECUTE FUNCTION sio_trigger('r:{{r}}', 'rows');
         CREATE TRIGGER one AFTER DELETE ON {table}
           FOR EACH ROW EXECUTE FUNCTION sio_trigger('r:{{r}}', 'one');
         CREATE PROCEDURE {prefix}_load() LANGUAGE plpgsql AS $$
         BEGIN
           INSERT INTO {table} VALUES (1, 1), (2, 2);
           COMMIT;
           INSERT INTO {table} VALUES (3, 1);
           DELETE FROM {table} WHERE id = 1;
           ROLLBACK;
           DELETE FROM {table} WHERE id = 2;
           COMMIT;
         END $$;"
    ))
    .await
    .unwrap();
    db.batch_execute(&format!("CALL {prefix}_load()"))
        .await
        .unwrap();
    let got = broadcasts(&mut listener).await;
    db.batch_execute(&format!(
        "DROP PROCEDURE {prefix}_load(); DROP TABLE {table}"
    ))
    .await
    .unwrap();
    let row = |id: i32, r: i32| json!({"id": id, "r": r});
    let inserted = |id: i32, r: i32| json!({"new": row(id, r), "old": null});
    let change = |op: &str, rows: Vec<Value>| json!({"op": op, "schema": "public", "table": table, "rows": rows});
    assert_eq!(
        got,
        [
            ("rows".into(), change("INSERT", vec![inserted(1, 1)])),
            ("rows".into(), change("INSERT", vec![inserted(2, 2)])),
            (
                "one".into(),
                json!({"op": "DELETE", "schema": "public", "table": table,
                       "new": null, "old": row(2, 2)})
            ),
        ]
    );
}
