//! `sio_stats()`: exact counts, per session without preloading, for the
//! whole server with it (the cleanup worker's runs included), reset, and
//! readable by the roles that should see it only.

use std::time::{Duration, Instant};

use pg_socketio_kit::{connect, refused, unique_prefix, PrivateCluster, RawListener};
use tokio_postgres::Client;

const COUNTS: &str = "SELECT scope, emits_inline, emits_attachment, bytes_sent, attachments_stored,
        refused, sio_emit, sio_emit_args, sio_sockets_join, sio_trigger
   FROM sio_stats()";

/// scope, inline, attachment, bytes, stored, refused, sio_emit,
/// sio_emit_args, sio_sockets_join, sio_trigger
type Counts = (String, i64, i64, i64, i64, i64, i64, i64, i64, i64);

async fn counts(db: &Client) -> Counts {
    let r = db.query_one(COUNTS, &[]).await.unwrap();
    (
        r.get(0),
        r.get(1),
        r.get(2),
        r.get(3),
        r.get(4),
        r.get(5),
        r.get(6),
        r.get(7),
        r.get(8),
        r.get(9),
    )
}

/// Two inline emits, one attachment, a socketsJoin, a trigger's row, and a
/// refused call.
const WORK: &str = r#"
    SELECT sio_emit('r', 'a', '1');
    SELECT sio_emit(ARRAY['r'], 'b', '{"x": [1, 2]}');
    SELECT sio_emit_args('r', 'bin', '[{"_placeholder":true,"num":0}]', ARRAY['\x0102'::bytea]);
    SELECT sio_sockets_join(ARRAY['r'], ARRAY['s']);
    CREATE TEMP TABLE stats_rows (id int);
    CREATE TRIGGER t AFTER INSERT ON stats_rows FOR EACH ROW EXECUTE FUNCTION sio_trigger('r:{id}');
    INSERT INTO stats_rows VALUES (7);
"#;

#[tokio::test]
async fn without_preloading_each_session_counts_its_own_calls_exactly() {
    let prefix = unique_prefix("stats_session");
    let mut listener = RawListener::new(&[&format!("{prefix}#/")]).await;
    let db = connect().await;
    db.batch_execute(&format!("SET pg_socketio.channel_prefix = '{prefix}'"))
        .await
        .unwrap();
    assert_eq!(
        counts(&db).await,
        ("session".into(), 0, 0, 0, 0, 0, 0, 0, 0, 0)
    );
    db.batch_execute(WORK).await.unwrap();
    refused(&db, "SELECT sio_emit(NULL, 'x')").await;

    // Bytes sent: the inline notifications' JSON as a LISTENer receives
    // it, and the attachment's MessagePack as stored.
    let notifications = listener.drain(Duration::from_millis(500)).await;
    assert_eq!(notifications.len(), 5);
    let inline: usize = notifications
        .iter()
        .filter(|n| !n.payload().contains("attachmentId"))
        .map(|n| n.payload().len())
        .sum();
    let id: i64 = notifications
        .iter()
        .find_map(|n| {
            let v: serde_json::Value = serde_json::from_str(n.payload()).ok()?;
            v["attachmentId"].as_str()?.parse().ok()
        })
        .expect("one attachment");
    let stored: i32 = db
        .query_one(
            "SELECT octet_length(payload) FROM socket_io_attachments WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        counts(&db).await,
        (
            "session".into(),
            4,
            1,
            (inline + stored as usize) as i64,
            1,
            1,
            2,
            1,
            1,
            1
        )
    );
    // Another session counts nothing of it.
    let other = connect().await;
    assert_eq!(counts(&other).await.1, 0);
    db.batch_execute("SELECT sio_stats_reset()").await.unwrap();
    assert_eq!(
        counts(&db).await,
        ("session".into(), 0, 0, 0, 0, 0, 0, 0, 0, 0)
    );
}

#[tokio::test]
async fn preloaded_the_counts_are_the_servers_and_the_worker_reports_its_runs() {
    let cluster = PrivateCluster::start(&[
        "shared_preload_libraries=pg_socketio",
        "pg_socketio.cleanup_interval=1",
        "pg_socketio.cleanup_database=postgres",
    ]);
    let admin = cluster.connect().await;
    admin
        .batch_execute("CREATE EXTENSION pg_socketio")
        .await
        .unwrap();
    let (a, b) = (cluster.connect().await, cluster.connect().await);
    a.batch_execute(WORK).await.unwrap();
    b.batch_execute(WORK).await.unwrap();
    refused(&b, "SELECT sio_emit(NULL, 'x')").await;
    let (scope, inline, attachment, bytes, stored, refusals, emits, args, joins, trigger) =
        counts(&admin).await;
    assert_eq!(
        (
            scope.as_str(),
            inline,
            attachment,
            stored,
            refusals,
            emits,
            args,
            joins,
            trigger
        ),
        ("cluster", 8, 2, 2, 1, 4, 2, 2, 2)
    );
    assert!(bytes > 0);

    // The worker deletes the two attachments once they are a second old.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let row = admin
            .query_one(
                "SELECT attachments_cleaned, cleanup_last_run IS NOT NULL, cleanup_last_deleted
                   FROM sio_stats()",
                &[],
            )
            .await
            .unwrap();
        let (cleaned, ran, last): (i64, bool, Option<i64>) = (row.get(0), row.get(1), row.get(2));
        if cleaned == 2 {
            assert!(ran);
            assert!(last.is_some_and(|n| n >= 0), "{last:?}");
            break;
        }
        assert!(Instant::now() < deadline, "cleaned {cleaned}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Readable by the servers' role and pg_monitor; reset by superusers.
    admin
        .batch_execute(
            "CREATE ROLE stats_server LOGIN IN ROLE socketio_server;
             CREATE ROLE stats_monitor LOGIN IN ROLE pg_monitor;
             CREATE ROLE stats_nobody LOGIN IN ROLE socketio_emitter;",
        )
        .await
        .unwrap();
    let as_role = |role: &str| {
        let url = format!("postgres://{role}@127.0.0.1:{}/postgres", cluster.port);
        async move { pg_socketio_kit::open(&url).await.0 }
    };
    let server = as_role("stats_server").await;
    assert_eq!(counts(&server).await.1, 8);
    assert_eq!(counts(&as_role("stats_monitor").await).await.1, 8);
    let nobody = as_role("stats_nobody").await;
    for (db, sql) in [
        (&nobody, "SELECT * FROM sio_stats()"),
        (&server, "SELECT sio_stats_reset()"),
    ] {
        let err = refused(db, sql).await;
        assert_eq!(err.code().code(), "42501", "{sql}");
    }
    // Never reset yet: NULL, as pg_stat_database has it.
    let before: Option<std::time::SystemTime> = admin
        .query_one("SELECT stats_reset FROM sio_stats()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(before, None);
    let started = std::time::SystemTime::now();
    admin
        .batch_execute("SELECT sio_stats_reset()")
        .await
        .unwrap();
    assert_eq!(
        counts(&server).await,
        ("cluster".into(), 0, 0, 0, 0, 0, 0, 0, 0, 0)
    );
    let after: Option<std::time::SystemTime> = admin
        .query_one("SELECT stats_reset FROM sio_stats()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        after.is_some_and(|at| at >= started - Duration::from_secs(1)),
        "{after:?}"
    );
}
