//! Durable delivery across a failover: a failover slot (PostgreSQL 17 and
//! later) that a standby keeps in sync, the old primary crashed, the standby
//! promoted, and the `DurableListener` streaming on from it through a
//! connection string with both hosts — every message once, in commit order;
//! the NOTIFY `Listener` back with a gap; the cleanup worker started by the
//! promotion, not before.

use std::time::{Duration, Instant};

use pg_socketio_client::protocol::Body;
use pg_socketio_client::{DurableError, DurableEvent, DurableListener, Event, Listener};
use pg_socketio_kit::{next_event, next_message, server_version, wait_for, PrivateCluster};
use tokio_postgres::Client;

const WAIT: Duration = Duration::from_secs(30);

/// The cleanup worker, on both servers as their configuration is alike.
const CLEANUP: &[&str] = &[
    "shared_preload_libraries=pg_socketio",
    "pg_socketio.cleanup_interval=1",
    "pg_socketio.cleanup_database='postgres'",
];

/// Whether the server runs `n` cleanup launchers.
fn cleanup_launchers_are(n: i64) -> String {
    format!(
        "SELECT count(*) = {n} FROM pg_stat_activity
          WHERE backend_type = 'pg_socketio cleanup launcher'"
    )
}

async fn emit(db: &Client, n: i64) {
    db.execute(
        "SELECT sio_emit(ARRAY[]::text[], 'n', to_jsonb($1::bigint))",
        &[&n],
    )
    .await
    .unwrap();
}

/// The next message's number; confirmed, as an application does once it
/// has handled it.
async fn next_number(listener: &mut DurableListener) -> i64 {
    let event = tokio::time::timeout(WAIT, listener.recv())
        .await
        .expect("a message within 30 s")
        .expect("no error");
    listener.confirm(event.offset());
    match &event {
        DurableEvent::Message { message, .. } => number(&message.body),
        other => panic!("{other:?}"),
    }
}

/// The number a broadcast of [`emit`] carries.
fn number(body: &Body) -> i64 {
    match body {
        Body::Broadcast { args, .. } => args[0].as_i64().expect("a number"),
        other => panic!("not a broadcast: {other:?}"),
    }
}

#[tokio::test]
async fn durable_delivery_goes_on_from_a_promoted_standby() {
    let primary = PrivateCluster::start(&[&["wal_level=logical"], CLEANUP].concat());
    let db = primary.connect().await;
    if server_version(&db).await < 170000 {
        // What the option says where PostgreSQL has no failover slots.
        let refused = DurableListener::builder(primary.url(), "durable")
            .create_slot(true)
            .failover(true)
            .connect()
            .await
            .err()
            .expect("failover slots refused before 17");
        assert!(
            matches!(&refused, DurableError::Unsupported(said)
                if said.starts_with("failover slots need PostgreSQL 17 or later")),
            "{refused:?}"
        );
        return;
    }
    // The standby's own slot on the primary, which the primary waits for
    // before it sends a logical change: what a listener has seen, the
    // standby has too, so the promoted standby never lacks it.
    // One statement each: ALTER SYSTEM may not run in the implicit
    // transaction of several.
    for sql in [
        "CREATE EXTENSION pg_socketio",
        "ALTER DATABASE postgres SET pg_socketio.delivery = 'both'",
        "SELECT pg_create_physical_replication_slot('standby')",
        "ALTER SYSTEM SET synchronized_standby_slots = 'standby'",
        "SELECT pg_reload_conf()",
    ] {
        db.batch_execute(sql).await.unwrap();
    }
    let conninfo = format!(
        "primary_conninfo='host=127.0.0.1 port={} user=postgres dbname=postgres'",
        primary.port
    );
    let replication = [
        "wal_level=logical",
        "primary_slot_name=standby",
        "hot_standby_feedback=on",
        "sync_replication_slots=on",
        &conninfo,
    ];
    let Some(standby) = primary.standby_with(&[&replication[..], CLEANUP].concat()) else {
        eprintln!("skipped: this installation has no pg_basebackup");
        return;
    };
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write",
        primary.port, standby.port
    );
    let mut listener = DurableListener::builder(url.clone(), "durable")
        .create_slot(true)
        .failover(true)
        .liveness(Duration::from_secs(1), Duration::from_secs(2))
        .max_backoff(Duration::from_millis(500))
        .connect()
        .await
        .unwrap();
    // A slot made without failover is made a failover slot at connect.
    db.batch_execute("SELECT pg_create_logical_replication_slot('existing', 'pgoutput')")
        .await
        .unwrap();
    let existing = DurableListener::builder(primary.url(), "existing")
        .failover(true)
        .connect()
        .await
        .unwrap();
    existing.close().await.unwrap();
    let failover: bool = db
        .query_one(
            "SELECT failover FROM pg_replication_slots WHERE slot_name = 'existing'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(failover, "ALTER_REPLICATION_SLOT ... (FAILOVER true)");
    db.batch_execute("SELECT pg_drop_replication_slot('existing')")
        .await
        .unwrap();
    // The hosts the other way round: the standby, which read-write skips,
    // first (its replication connection would find no slot "skipping").
    let standby_first = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write",
        standby.port, primary.port
    );
    let mut skipping = DurableListener::builder(standby_first, "skipping")
        .create_slot(true)
        .connect()
        .await
        .unwrap();
    // And a NOTIFY listener on the same hosts, which tokio-postgres goes
    // through as the durable listener does.
    let mut notified = Listener::builder(url)
        .liveness(Duration::from_secs(1), Duration::from_secs(2))
        .max_backoff(Duration::from_millis(500))
        .connect()
        .await
        .unwrap();

    // A new session, which has the database's setting.
    let db = primary.connect().await;
    let replica = standby.connect().await;
    // Emits, each read by both listeners, until the standby's copy of the
    // slot is persistent: it is kept temporary until the primary's slot has
    // moved past what the standby can provide, which takes a running-xacts
    // record (logged here, not waited for) and a confirmation after it.
    let mut n = 0;
    let start = Instant::now();
    loop {
        n += 1;
        emit(&db, n).await;
        assert_eq!(next_number(&mut listener).await, n);
        let (_, message) = next_message(&mut notified, WAIT).await;
        assert_eq!(number(&message.body), n);
        let persistent: bool = replica
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_replication_slots
                                 WHERE slot_name = 'durable' AND synced AND NOT temporary)",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if persistent {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "the standby's slot persistent within 30 s"
        );
        db.batch_execute("SELECT pg_log_standby_snapshot()")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(next_number(&mut skipping).await, 1);
    skipping.close().await.unwrap();
    // The cleanup worker waits for the end of recovery: on the primary, not
    // on the standby.
    wait_for(&db, &cleanup_launchers_are(1), WAIT).await;
    let on_standby = replica.query_one(&cleanup_launchers_are(0), &[]).await;
    assert!(
        on_standby.unwrap().get::<_, bool>(0),
        "no cleanup worker on the standby"
    );
    // Committed, on the standby too, and perhaps not yet read by the
    // durable listener: then the primary is gone.
    for m in n + 1..=n + 2 {
        emit(&db, m).await;
        let (_, message) = next_message(&mut notified, WAIT).await;
        assert_eq!(number(&message.body), m);
    }
    let written: String = db
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .unwrap()
        .get(0);
    let replayed = format!("SELECT pg_last_wal_replay_lsn() >= '{written}'::pg_lsn");
    wait_for(&replica, &replayed, WAIT).await;
    drop(db);
    primary.crash();
    standby.promote();
    // NOTIFY keeps nothing for an absent listener: it says so, once
    // listening on the promoted standby.
    match next_event(&mut notified, WAIT).await {
        Event::Gap { reason } => assert!(!reason.is_empty()),
        other => panic!("expected a gap, got {other:?}"),
    }
    // The promoted server has the old primary's synchronized_standby_slots
    // (ALTER SYSTEM's file came with the base backup) and no such slot:
    // its logical walsenders would wait for it forever. What the operator
    // does at a failover: name the new standbys' slots, or none.
    let promoted = standby.connect().await;
    for sql in [
        "ALTER SYSTEM RESET synchronized_standby_slots",
        "SELECT pg_reload_conf()",
    ] {
        promoted.batch_execute(sql).await.unwrap();
    }
    emit(&promoted, n + 3).await;

    let (_, message) = next_message(&mut notified, WAIT).await;
    assert_eq!(number(&message.body), n + 3);
    // The promoted server runs its cleanup worker.
    wait_for(&promoted, &cleanup_launchers_are(1), WAIT).await;
    for m in n + 1..=n + 3 {
        assert_eq!(next_number(&mut listener).await, m);
    }
    assert!(
        listener.reconnects() >= 1,
        "it reconnected to the promoted standby"
    );
    // Its SQL connection, to the old primary, is opened again on the new one.
    let lag = listener.lag().await.unwrap();
    assert_eq!(lag.wal_status, "reserved");
    assert!(lag.bytes >= 0, "{lag:?}");
}
