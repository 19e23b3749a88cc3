//! Running out of memory while emitting is an ERROR (53200) of the one
//! statement, never an abort of its backend, which would send the whole
//! server through crash recovery and cut every other session. On a private
//! cluster whose processes may use 1 GB of address space (`ulimit -v`), so
//! that allocations fail as they do on a server whose memory ran out.

use std::time::Duration;

use pg_socketio_client::protocol::Body;
use pg_socketio_client::{Event, Listener};
use pg_socketio_kit::{refused, without_seq, PrivateCluster, RawListener};
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

const LIMIT_KB: u64 = 1_000_000;

async fn setup(cluster: &PrivateCluster) -> Client {
    let db = cluster.connect().await;
    db.batch_execute(
        "CREATE EXTENSION pg_socketio;
         CREATE TABLE by_statement (id int, body text);
         CREATE TRIGGER t AFTER INSERT ON by_statement REFERENCING NEW TABLE AS n
           FOR EACH STATEMENT EXECUTE FUNCTION sio_trigger('r');
         CREATE TABLE by_row (id int, body text);
         CREATE TRIGGER t AFTER INSERT ON by_row
           FOR EACH ROW EXECUTE FUNCTION sio_trigger('r');",
    )
    .await
    .unwrap();
    db
}

/// `sql` fails with 53200 and takes nothing else down: the session and a
/// bystander session go on, nothing was stored or sent, and the next
/// statement emits as usual.
async fn fails_alone(cluster: &PrivateCluster, db: &Client, sql: &str, table: &str) {
    let bystander = cluster.connect().await;
    let mut listener = RawListener::at(&cluster.url(), &["socket.io#/"]).await;
    let err = refused(db, sql).await;
    assert_eq!(err.code(), &SqlState::OUT_OF_MEMORY, "{err:?}");
    assert!(err.message().starts_with("out of memory"), "{err:?}");
    // No crash recovery: the bystander's connection was not cut.
    assert_eq!(one(&bystander, "SELECT 1::int8").await, 1);
    assert_eq!(one(db, &format!("SELECT count(*) FROM {table}")).await, 0);
    assert_eq!(
        one(db, "SELECT count(*) FROM socket_io_attachments").await,
        0
    );
    db.batch_execute(&format!("INSERT INTO {table} VALUES (1, 'small')"))
        .await
        .unwrap();
    let sent = listener.drain(Duration::from_secs(2)).await;
    let events: Vec<serde_json::Value> = sent
        .iter()
        .map(|n| without_seq(n.payload()).0["data"]["packet"]["data"].clone())
        .collect();
    let row = serde_json::json!({"id": 1, "body": "small"});
    let change = if table == "by_statement" {
        serde_json::json!({"op": "INSERT", "schema": "public", "table": table,
                           "rows": [{"new": row, "old": null}]})
    } else {
        serde_json::json!({"op": "INSERT", "schema": "public", "table": table,
                           "new": row, "old": null})
    };
    assert_eq!(events, [serde_json::json!([table, change])]);
}

async fn one(db: &Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).await.unwrap().get(0)
}

/// 300 rows of 4 MB (compressed in the table): their JSON is 1.2 GB.
const LARGE_STATEMENT: &str =
    "INSERT INTO by_statement SELECT i, repeat('x', 4000000) FROM generate_series(1, 300) i";

#[tokio::test]
async fn a_statement_whose_rows_outgrow_memory_fails_alone() {
    let cluster = PrivateCluster::start_with_memory_limit(&[], LIMIT_KB);
    let db = setup(&cluster).await;
    // Allowed to hold up to 1 GB of rows before it sends them, statement
    // mode runs out first.
    fails_alone(
        &cluster,
        &db,
        &format!("SET pg_socketio.statement_memory = '1GB'; {LARGE_STATEMENT}"),
        "by_statement",
    )
    .await;
}

#[tokio::test]
async fn a_statement_larger_than_memory_is_sent_in_parts() {
    let cluster = PrivateCluster::start_with_memory_limit(&[], LIMIT_KB);
    let db = setup(&cluster).await;
    let mut listener = Listener::builder(cluster.url()).connect().await.unwrap();
    // With the default pg_socketio.statement_memory (64MB), the same
    // statement is sent 64 MB at a time.
    db.batch_execute(LARGE_STATEMENT).await.unwrap();
    let (mut ids, mut messages) = (Vec::new(), 0);
    while ids.len() < 300 {
        let event = tokio::time::timeout(Duration::from_secs(60), listener.recv())
            .await
            .expect("the rows within a minute");
        let Some(Event::Message { message, .. }) = event else {
            panic!("{event:?}");
        };
        let Body::Broadcast { args, .. } = message.body else {
            panic!("{:?}", message.body);
        };
        messages += 1;
        let rows = args[0]["rows"].as_array().expect("rows");
        for row in rows {
            let new = &row["new"];
            assert_eq!(new["body"].as_str().map(str::len), Some(4_000_000));
            ids.push(new["id"].as_i64().expect("an id"));
        }
    }
    assert_eq!(ids, (1..=300).collect::<Vec<_>>());
    assert!(messages > 1, "{messages} message(s)");
}

#[tokio::test]
async fn a_row_that_outgrows_memory_fails_alone() {
    let cluster = PrivateCluster::start_with_memory_limit(&[], LIMIT_KB);
    let db = setup(&cluster).await;
    // One 400 MB row: its detoasted text, its JSON and its MessagePack.
    fails_alone(
        &cluster,
        &db,
        "INSERT INTO by_row VALUES (1, repeat('x', 400000000))",
        "by_row",
    )
    .await;
}
