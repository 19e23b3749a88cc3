//! A logical replication subscriber that emits the changes it receives:
//! PostgreSQL's apply worker runs with `session_replication_role = replica`,
//! so `sio_trigger` fires there only once the trigger is enabled for it
//! (`ENABLE ALWAYS TRIGGER`), and then only in row mode (the apply worker
//! fires no statement triggers). What it sends is what the same change
//! sends on a primary: inline and through the subscriber's attachment table,
//! rooms moved by an UPDATE reached once, in the publisher's commit order.
//! The initial copy of a subscription is a COPY: it fires row and statement
//! triggers enabled for replicas.

use std::time::{Duration, Instant};

use pg_socketio_client::protocol::Body;
use pg_socketio_client::Listener;
use pg_socketio_kit::{
    attachment_rows, event_and_argument, next_message, server_version, wait_for, PrivateCluster,
};
use serde_json::{json, Value};
use tokio_postgres::Client;

const WAIT: Duration = Duration::from_secs(20);

/// Waits until the subscriber has applied the publisher's last commit.
async fn applied(publisher: &Client, subscriber: &Client) {
    let lsn: String = publisher
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .unwrap()
        .get(0);
    let applied = format!(
        "SELECT coalesce(bool_and(latest_end_lsn >= '{lsn}'::pg_lsn), false)
           FROM pg_stat_subscription WHERE subname = 's'"
    );
    wait_for(subscriber, &applied, WAIT).await;
}

/// Nothing more arrives within a second.
async fn nothing_more(listener: &mut Listener) {
    if let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(1), listener.recv()).await {
        panic!("nothing expected, got {event:?}");
    }
}

/// The next message is event `msgs` to `rooms` (in any order) with
/// `argument`: a change sent by the row-mode trigger.
async fn expect_change(listener: &mut Listener, rooms: &[&str], argument: Value) {
    expect_event(listener, "msgs", rooms, argument).await
}

/// The next message is `event` to `rooms` (in any order) with `argument`.
async fn expect_event(listener: &mut Listener, event: &str, rooms: &[&str], argument: Value) {
    let (_, message) = next_message(listener, WAIT).await;
    let Body::Broadcast { opts, .. } = &message.body else {
        panic!("a broadcast: {message:?}");
    };
    let mut got_rooms = opts.rooms.clone();
    got_rooms.sort();
    assert_eq!(got_rooms, rooms);
    assert_eq!(
        event_and_argument(&message.body),
        (event.to_string(), argument)
    );
}

fn row(id: i32, conv: i32, body: &str) -> Value {
    json!({"id": id, "conv": conv, "body": body})
}

fn payload(op: &str, new: Option<Value>, old: Option<Value>) -> Value {
    json!({"op": op, "schema": "public", "table": "msgs", "new": new, "old": old})
}

/// A publisher and a subscriber of its table `msgs`, owned on the
/// subscriber by `app` (with `socketio_emitter` when `app_may_emit`) and
/// carrying a row-mode and a statement-mode `sio_trigger`, enabled as
/// triggers are by default.
struct Replication {
    publisher: Client,
    subscriber: Client,
    // Dropped last: the clusters stop when these go.
    subscriber_cluster: PrivateCluster,
    _publisher_cluster: PrivateCluster,
}

impl Replication {
    /// The pair, and a listener on the subscriber connected before the
    /// subscription was created (its initial copy may emit).
    async fn start(app_may_emit: bool) -> (Replication, Listener) {
        Replication::start_after(app_may_emit, "", "").await
    }

    /// As `start`, `publisher_sql` and `subscriber_sql` run on each before
    /// the subscription is created.
    async fn start_after(
        app_may_emit: bool,
        publisher_sql: &str,
        subscriber_sql: &str,
    ) -> (Replication, Listener) {
        let publisher_cluster = PrivateCluster::start(&["wal_level=logical"]);
        // A failed apply is retried after this, not after 5 s.
        let subscriber_cluster = PrivateCluster::start(&["wal_retrieve_retry_interval=200ms"]);
        let publisher = publisher_cluster.connect().await;
        let subscriber = subscriber_cluster.connect().await;
        let table = "CREATE TABLE msgs (id int PRIMARY KEY, conv int, body text)";
        publisher
            .batch_execute(&format!(
                "{table}; CREATE PUBLICATION p FOR TABLE msgs; {publisher_sql}"
            ))
            .await
            .unwrap();
        let grant = if app_may_emit {
            "GRANT socketio_emitter TO app;"
        } else {
            ""
        };
        subscriber
            .batch_execute(&format!(
                "CREATE EXTENSION pg_socketio;
                 {table};
                 -- From 16 the apply worker writes as the table's owner, in a
                 -- security-restricted operation: that role needs to emit.
                 CREATE ROLE app NOLOGIN;
                 {grant}
                 ALTER TABLE msgs OWNER TO app;
                 CREATE TRIGGER t AFTER INSERT OR UPDATE OR DELETE ON msgs
                   FOR EACH ROW EXECUTE FUNCTION sio_trigger('conv:{{conv}}');
                 CREATE TRIGGER batch AFTER INSERT ON msgs REFERENCING NEW TABLE AS rows
                   FOR EACH STATEMENT EXECUTE FUNCTION sio_trigger('batch:{{conv}}', 'batch');
                 {subscriber_sql}"
            ))
            .await
            .unwrap();
        let listener = Listener::builder(subscriber_cluster.url())
            .connect()
            .await
            .unwrap();
        // Alone: it creates the publisher's slot, which no transaction block may.
        subscriber
            .batch_execute(&format!(
                "CREATE SUBSCRIPTION s
                   CONNECTION 'host=127.0.0.1 port={} user=postgres dbname=postgres'
                   PUBLICATION p",
                publisher_cluster.port
            ))
            .await
            .unwrap();
        // The table's initial copy done: later changes are the apply
        // worker's.
        wait_for(
            &subscriber,
            "SELECT coalesce(bool_and(srsubstate = 'r'), false) FROM pg_subscription_rel",
            WAIT,
        )
        .await;
        let pair = Replication {
            publisher,
            subscriber,
            subscriber_cluster,
            _publisher_cluster: publisher_cluster,
        };
        (pair, listener)
    }

    async fn rows(&self) -> i64 {
        self.subscriber
            .query_one("SELECT count(*) FROM msgs", &[])
            .await
            .unwrap()
            .get(0)
    }

    async fn stop(self) {
        self.subscriber
            .batch_execute("DROP SUBSCRIPTION s")
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_subscriber_emits_the_changes_it_applies_once_its_trigger_is_enabled_for_replicas() {
    // Enabled as triggers are by default, they fire neither for the
    // initial copy nor for the apply worker.
    let (pair, mut listener) = Replication::start_after(
        true,
        "INSERT INTO msgs VALUES (0, 1, 'copied, not sent')",
        "",
    )
    .await;
    let (publisher, subscriber) = (&pair.publisher, &pair.subscriber);
    publisher
        .batch_execute("INSERT INTO msgs VALUES (1, 1, 'not sent')")
        .await
        .unwrap();
    applied(publisher, subscriber).await;
    assert_eq!(pair.rows().await, 2);
    nothing_more(&mut listener).await;

    subscriber
        .batch_execute(
            "ALTER TABLE msgs ENABLE ALWAYS TRIGGER t;
             ALTER TABLE msgs ENABLE ALWAYS TRIGGER batch;",
        )
        .await
        .unwrap();
    let big = "b".repeat(9000);
    publisher
        .batch_execute(&format!(
            "INSERT INTO msgs VALUES (2, 1, 'hello');
             INSERT INTO msgs VALUES (3, 1, '{big}');
             BEGIN;
             UPDATE msgs SET conv = 2, body = 'moved' WHERE id = 2;
             DELETE FROM msgs WHERE id = 3;
             COMMIT;"
        ))
        .await
        .unwrap();
    let hello = row(2, 1, "hello");
    expect_change(
        &mut listener,
        &["conv:1"],
        payload("INSERT", Some(hello.clone()), None),
    )
    .await;
    // ≥ 8000 bytes: through the subscriber's attachment table.
    let large = row(3, 1, &big);
    expect_change(
        &mut listener,
        &["conv:1"],
        payload("INSERT", Some(large.clone()), None),
    )
    .await;
    let moved = payload("UPDATE", Some(row(2, 2, "moved")), Some(hello));
    expect_change(&mut listener, &["conv:1", "conv:2"], moved).await;
    expect_change(
        &mut listener,
        &["conv:1"],
        payload("DELETE", None, Some(large)),
    )
    .await;
    // The statement trigger, enabled too, was not fired by the apply worker.
    applied(publisher, subscriber).await;
    nothing_more(&mut listener).await;
    // The INSERT and the DELETE of the large row.
    assert_eq!(attachment_rows(subscriber).await, 2);
    pair.stop().await;
}

#[tokio::test]
async fn from_16_an_owner_that_may_not_emit_stops_replication_until_granted() {
    let (pair, mut listener) = Replication::start(false).await;
    if server_version(&pair.subscriber).await < 160000 {
        eprintln!("skipped: before 16 the apply worker writes as the subscription's owner");
        return;
    }
    pair.subscriber
        .batch_execute("ALTER TABLE msgs ENABLE ALWAYS TRIGGER t")
        .await
        .unwrap();
    pair.publisher
        .batch_execute("INSERT INTO msgs VALUES (1, 1, 'waits')")
        .await
        .unwrap();
    // The apply fails (42501, in the server log) and is retried, the row
    // not applied meanwhile.
    let deadline = Instant::now() + WAIT;
    loop {
        let errors: i64 = pair
            .subscriber
            .query_one(
                "SELECT apply_error_count FROM pg_stat_subscription_stats WHERE subname = 's'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if errors >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the apply failed: {errors} errors, {} rows",
            pair.rows().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pair.rows().await, 0);
    let log = pair.subscriber_cluster.log();
    assert!(
        log.contains("ERROR:  permission denied for function sio_trigger"),
        "{log}"
    );
    nothing_more(&mut listener).await;
    // Granted: the next retry applies it, and it is sent.
    pair.subscriber
        .batch_execute("GRANT socketio_emitter TO app")
        .await
        .unwrap();
    let waited = payload("INSERT", Some(row(1, 1, "waits")), None);
    expect_change(&mut listener, &["conv:1"], waited).await;
    assert_eq!(pair.rows().await, 1);
    pair.stop().await;
}

#[tokio::test]
async fn the_initial_copy_fires_triggers_enabled_for_replicas_row_and_statement_mode() {
    // Rows on the publisher before the subscription, and triggers enabled
    // for replicas before its initial copy: the copy (a COPY, unlike the
    // apply worker's changes) fires row and statement triggers.
    let (pair, mut listener) = Replication::start_after(
        true,
        "INSERT INTO msgs SELECT i, i % 2, 'copied ' || i FROM generate_series(1, 3) i",
        "ALTER TABLE msgs ENABLE ALWAYS TRIGGER t; ALTER TABLE msgs ENABLE ALWAYS TRIGGER batch;",
    )
    .await;
    for (id, conv) in [(1, 1), (2, 0), (3, 1)] {
        let copied = row(id, conv, &format!("copied {id}"));
        let room = format!("conv:{conv}");
        expect_change(
            &mut listener,
            &[&room],
            payload("INSERT", Some(copied), None),
        )
        .await;
    }
    let batch = |rows: &[(i32, i32)]| {
        let rows: Vec<Value> = rows
            .iter()
            .map(|&(id, conv)| json!({"new": row(id, conv, &format!("copied {id}")), "old": null}))
            .collect();
        json!({"op": "INSERT", "schema": "public", "table": "msgs", "rows": rows})
    };
    for (room, rows) in [
        ("batch:1", batch(&[(1, 1), (3, 1)])),
        ("batch:0", batch(&[(2, 0)])),
    ] {
        expect_event(&mut listener, "batch", &[room], rows).await;
    }
    // Later changes are the apply worker's: row mode only.
    pair.publisher
        .batch_execute("INSERT INTO msgs VALUES (4, 0, 'applied')")
        .await
        .unwrap();
    let applied_row = row(4, 0, "applied");
    expect_change(
        &mut listener,
        &["conv:0"],
        payload("INSERT", Some(applied_row), None),
    )
    .await;
    applied(&pair.publisher, &pair.subscriber).await;
    nothing_more(&mut listener).await;
    assert_eq!(pair.rows().await, 4);
    pair.stop().await;
}
