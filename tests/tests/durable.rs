//! Durable delivery: `pg_socketio.delivery` = `wal` / `both`, and the
//! `DurableListener` reading a logical replication slot on a private cluster
//! with `wal_level = logical` — every kind of message, commit order,
//! rollbacks, resuming after the confirmed offset (at-least-once, and
//! exactly-once with the application's own offset), terminated walsenders,
//! server restarts, and an invalidated slot named as such.

use std::time::Duration;

use pg_socketio_client::protocol::{Body, Value};
use pg_socketio_client::{DurableError, DurableEvent, DurableListener, Event, Listener, Offset};
use pg_socketio_kit::{
    attachment_rows, connect, database_url, next_message, refused, FreezingProxy, PrivateCluster,
};
use tokio_postgres::Client;

const WAIT: Duration = Duration::from_secs(15);

async fn cluster(extra: &[&str]) -> (PrivateCluster, Client) {
    let mut settings = vec![
        "wal_level=logical",
        "max_wal_senders=10",
        "max_replication_slots=10",
    ];
    settings.extend_from_slice(extra);
    let cluster = PrivateCluster::start(&settings);
    let db = cluster.connect().await;
    db.batch_execute("CREATE EXTENSION pg_socketio")
        .await
        .unwrap();
    (cluster, db)
}

async fn durable(cluster: &PrivateCluster, slot: &str) -> DurableListener {
    DurableListener::builder(cluster.url(), slot)
        .create_slot(true)
        .connect()
        .await
        .unwrap()
}

async fn next(listener: &mut DurableListener) -> DurableEvent {
    tokio::time::timeout(WAIT, listener.recv())
        .await
        .expect("a message within 15 s")
        .expect("no error")
}

/// The first argument of a broadcast (the tests number their emits).
fn number(event: &DurableEvent) -> i64 {
    match event {
        DurableEvent::Message { message, .. } => match &message.body {
            Body::Broadcast { args, .. } => args[0].as_i64().expect("a number"),
            other => panic!("not a broadcast: {other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

async fn emit_numbers(db: &Client, from: i64, to: i64) {
    db.batch_execute(&format!(
        "SELECT sio_emit('r', 'n', to_jsonb(i)) FROM generate_series({from}, {to}) i"
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn wal_delivery_needs_wal_level_logical_and_leaves_nothing() {
    // The shared server runs with wal_level = replica.
    let db = connect().await;
    let mut listener = Listener::builder(database_url())
        .channel_prefix("it_durable_refused")
        .connect()
        .await
        .unwrap();
    for delivery in ["wal", "both"] {
        db.batch_execute(&format!(
            "SET pg_socketio.delivery = '{delivery}'; SET pg_socketio.channel_prefix = 'it_durable_refused'"
        ))
        .await
        .unwrap();
        let error = refused(&db, "SELECT sio_emit('r', 'e', '1')").await;
        assert_eq!(error.code().code(), "55000");
        assert_eq!(
            error.message(),
            format!("sio_emit: pg_socketio.delivery = '{delivery}' needs wal_level = logical")
        );
        assert!(error.hint().unwrap().contains("wal_level = logical"));
    }
    db.batch_execute("RESET pg_socketio.delivery; SELECT sio_emit('r', 'after', '1')")
        .await
        .unwrap();
    // Only the emit after RESET arrives.
    let (_, message) = next_message(&mut listener, WAIT).await;
    assert!(matches!(message.body, Body::Broadcast { ref event, .. } if event == "after"));
}

#[tokio::test]
async fn every_message_in_commit_order_and_only_what_committed() {
    let (cluster, db) = cluster(&[]).await;
    let mut listener = durable(&cluster, "order").await;
    let mut notified = Listener::builder(cluster.url()).connect().await.unwrap();

    db.batch_execute("SET pg_socketio.delivery = 'wal'")
        .await
        .unwrap();
    // Inline, large (no attachment row in WAL mode), binary, another
    // operation, another namespace.
    db.batch_execute(
        r#"SELECT sio_emit('r', 'small', '{"n":1}');
           SELECT sio_emit('r', 'large', jsonb_build_array(repeat('x', 20000), 12345678901234567890.5));
           SELECT sio_emit_args(ARRAY['r'], 'bin', '[{"_placeholder":true,"num":0}]', binary_args => ARRAY['\x00ff'::bytea]);
           SELECT sio_sockets_join(ARRAY['r'], ARRAY['j']);
           SELECT sio_emit('r', 'admin', '1', nsp => '/admin');"#,
    )
    .await
    .unwrap();
    let mut got = Vec::new();
    let mut exact_args = Vec::new();
    for _ in 0..4 {
        let event = next(&mut listener).await;
        let DurableEvent::Message {
            offset,
            namespace,
            message,
            ..
        } = event
        else {
            panic!("{event:?}")
        };
        assert_eq!(namespace, "/");
        exact_args.push(message.exact_args);
        got.push((offset, message.body));
    }
    assert!(got.windows(2).all(|w| w[0].0 < w[1].0), "offsets grow");
    assert!(matches!(&got[0].1, Body::Broadcast { event, .. } if event == "small"));
    match &got[1].1 {
        Body::Broadcast { event, args, .. } => {
            assert_eq!(event, "large");
            assert_eq!(args[0][0].as_str().map(str::len), Some(20000));
            assert_eq!(args[0][1], Value::F64(12345678901234567890.5));
        }
        other => panic!("{other:?}"),
    }
    // The number's every digit, beside the float64 (the MessagePack's
    // `exactArgs`); nothing beside the others.
    let x = "x".repeat(20000);
    assert_eq!(
        exact_args,
        [
            None,
            Some(format!("[[\"{x}\", 12345678901234567890.5]]")),
            None,
            None
        ]
    );
    match &got[2].1 {
        Body::Broadcast { args, .. } => assert_eq!(args[0], Value::Binary(vec![0, 0xff])),
        other => panic!("{other:?}"),
    }
    assert!(matches!(&got[3].1, Body::SocketsJoin { rooms, .. } if rooms == &["j"]));
    // WAL only: no notification, no attachment row.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), notified.recv())
            .await
            .is_err(),
        "nothing is notified in WAL mode"
    );
    assert_eq!(attachment_rows(&db).await, 0);
    listener.confirm(got[3].0);

    // Commit order, not statement order; rolled back: never.
    let other = cluster.connect().await;
    other
        .batch_execute("SET pg_socketio.delivery = 'wal'; BEGIN; SELECT sio_emit('r', 'n', '1')")
        .await
        .unwrap();
    db.batch_execute("BEGIN; SELECT sio_emit('r', 'n', '2'); COMMIT")
        .await
        .unwrap();
    db.batch_execute("BEGIN; SELECT sio_emit('r', 'n', '99'); ROLLBACK")
        .await
        .unwrap();
    other.batch_execute("COMMIT").await.unwrap();
    let a = next(&mut listener).await;
    let b = next(&mut listener).await;
    assert_eq!((number(&a), number(&b)), (2, 1));
    assert_eq!(a.offset().index, 0);

    // Both ways: the LISTENer and the slot get the same message.
    both_get_3(&db, &mut listener, &mut notified).await;
}

/// Emits 3 with `delivery = 'both'`, and checks that it is the next
/// message of the slot and of the LISTENer.
async fn both_get_3(db: &Client, listener: &mut DurableListener, notified: &mut Listener) {
    db.batch_execute("SET pg_socketio.delivery = 'both'; SELECT sio_emit('r', 'n', '3')")
        .await
        .unwrap();
    assert_eq!(number(&next(listener).await), 3);
    let event = tokio::time::timeout(WAIT, notified.recv())
        .await
        .unwrap()
        .unwrap();
    let Event::Message { message, .. } = event else {
        panic!("{event:?}")
    };
    assert!(matches!(&message.body, Body::Broadcast { args, .. } if args[0].as_i64() == Some(3)));
}

/// The event and first argument of a broadcast, as JSON.
fn event_and_first(event: &DurableEvent) -> (String, serde_json::Value) {
    match event {
        DurableEvent::Message { message, .. } => match &message.body {
            Body::Broadcast { event, args, .. } => {
                (event.clone(), serde_json::to_value(&args[0]).unwrap())
            }
            other => panic!("not a broadcast: {other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

/// Two-phase commit: emits of a prepared transaction go through the WAL and
/// reach the durable listener at COMMIT PREPARED, from whichever session,
/// and never after ROLLBACK PREPARED. An emit that notifies makes PREPARE
/// fail, with an error saying why and what works, leaving nothing behind;
/// one in a rolled-back subtransaction does not.
#[tokio::test]
async fn prepared_transactions_emit_through_the_wal() {
    let (cluster, db) = cluster(&["max_prepared_transactions=4"]).await;
    let mut listener = durable(&cluster, "two_phase").await;
    let mut notified = Listener::builder(cluster.url()).connect().await.unwrap();
    db.batch_execute(
        "CREATE TABLE orders (id int, room text);
         CREATE TRIGGER emit AFTER INSERT ON orders
           FOR EACH ROW EXECUTE FUNCTION sio_trigger('{room}', 'order');
         SET pg_socketio.delivery = 'wal';
         BEGIN;
         SELECT sio_emit('r', 'n', '1');
         SELECT sio_emit('r', 'large', to_jsonb(repeat('x', 20000)));
         INSERT INTO orders VALUES (7, 'r');
         PREPARE TRANSACTION 'kept';
         BEGIN; SELECT sio_emit('r', 'n', '99'); PREPARE TRANSACTION 'dropped';
         SELECT sio_emit('r', 'n', '2');",
    )
    .await
    .unwrap();
    // Commit order: the prepared ones are not committed yet.
    assert_eq!(number(&next(&mut listener).await), 2);
    // Each alone: neither runs in a transaction block.
    let other = cluster.connect().await;
    for finish in ["ROLLBACK PREPARED 'dropped'", "COMMIT PREPARED 'kept'"] {
        other.batch_execute(finish).await.unwrap();
    }
    assert_eq!(number(&next(&mut listener).await), 1);
    let (event, large) = event_and_first(&next(&mut listener).await);
    assert_eq!(
        (event.as_str(), large.as_str().map(str::len)),
        ("large", Some(20000))
    );
    let (event, change) = event_and_first(&next(&mut listener).await);
    assert_eq!(event, "order");
    assert_eq!(change["new"], serde_json::json!({"id": 7, "room": "r"}));

    // Emits that notify: refused at PREPARE, attachments and WAL included.
    for delivery in ["notify", "both"] {
        let err = refused(
            &db,
            &format!(
                "SET pg_socketio.delivery = '{delivery}';
                 BEGIN;
                 SELECT sio_emit('r', 'n', '5');
                 SELECT sio_emit('r', 'large', jsonb_build_array(repeat('x', 20000), 12345678901234567890.5));
                 PREPARE TRANSACTION 'refused'"
            ),
        )
        .await;
        assert_eq!(err.code().code(), "0A000", "{delivery}");
        assert_eq!(
            err.message(),
            "cannot PREPARE a transaction that emitted with pg_socketio.delivery = 'notify' or 'both'"
        );
        assert!(err.hint().unwrap().contains("pg_socketio.delivery = 'wal'"));
    }
    // Notifications moved up by RELEASE, or sent before a rolled-back
    // savepoint, still refuse it.
    for kept in [
        "SAVEPOINT a; SELECT sio_emit('r', 'n', '5'); RELEASE SAVEPOINT a;",
        "SELECT sio_emit('r', 'n', '5'); SAVEPOINT a; SELECT sio_emit('r', 'n', '5'); ROLLBACK TO a;",
    ] {
        let err = refused(
            &db,
            &format!("SET pg_socketio.delivery = 'notify'; BEGIN; {kept} PREPARE TRANSACTION 'refused'"),
        )
        .await;
        assert_eq!(err.code().code(), "0A000", "{kept}");
    }
    // Notifications that rolled back with their subtransaction (a savepoint,
    // a PL/pgSQL exception block) leave nothing to refuse.
    db.batch_execute(
        "SET pg_socketio.delivery = 'notify';
         BEGIN;
         SAVEPOINT a; SAVEPOINT b; SELECT sio_emit('r', 'n', '5'); RELEASE b; ROLLBACK TO a;
         DO $$ BEGIN
           PERFORM sio_emit('r', 'n', '5');
           RAISE EXCEPTION 'undo';
         EXCEPTION WHEN raise_exception THEN NULL;
         END $$;
         PREPARE TRANSACTION 'clean';",
    )
    .await
    .unwrap();
    db.batch_execute("COMMIT PREPARED 'clean'").await.unwrap();
    let prepared: i64 = db
        .query_one("SELECT count(*) FROM pg_prepared_xacts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!((prepared, attachment_rows(&db).await), (0, 0));
    // Nothing of the refused or rolled-back emits, on either path.
    both_get_3(&db, &mut listener, &mut notified).await;
}

#[tokio::test]
async fn resumes_after_the_confirmed_offset_across_restarts() {
    let (cluster, db) = cluster(&[]).await;
    db.batch_execute("ALTER DATABASE postgres SET pg_socketio.delivery = 'wal'")
        .await
        .unwrap();
    let db = cluster.connect().await;
    let mut listener = durable(&cluster, "resume").await;
    emit_numbers(&db, 1, 5).await;
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(next(&mut listener).await);
    }
    assert_eq!(seen.iter().map(number).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    // One transaction: confirming its 3rd message moves nothing on the server.
    listener.confirm(seen[2].offset());
    listener.close().await.unwrap();

    // A new listener gets the whole unconfirmed transaction again.
    let mut listener = durable(&cluster, "resume").await;
    let again: Vec<i64> = futures_collect(&mut listener, 5).await;
    assert_eq!(again, [1, 2, 3, 4, 5]);
    // An application that stored its own offset skips what it handled.
    drop(listener);
    let mut exact = DurableListener::builder(cluster.url(), "resume")
        .resume_after(seen[2].offset())
        .connect()
        .await
        .unwrap();
    assert_eq!(futures_collect(&mut exact, 2).await, [4, 5]);
    exact.confirm(seen[4].offset());
    // A walsender slow to read what close() sent (stopped here for 300 ms):
    // close() waits for it rather than leave the confirmation in flight.
    let walsender: i32 = db
        .query_one(
            "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'resume'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    signal(walsender, "STOP");
    let resume = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        signal(walsender, "CONT");
    });
    exact.close().await.unwrap();

    // close() returned: the server has the confirmation, and the slot is
    // free for the next listener...
    let slot = db
        .query_one(
            "SELECT confirmed_flush_lsn > $1::text::pg_lsn, active FROM pg_replication_slots WHERE slot_name = 'resume'",
            &[&seen[4].offset().to_string().split('#').next().unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(
        (slot.get::<_, bool>(0), slot.get::<_, bool>(1)),
        (true, false),
        "(confirmed, active)"
    );
    resume.await.unwrap();
    // ...but before PostgreSQL 17 a clean shutdown does not save it (the
    // slot is saved when its restart point moves): after a restart, a new
    // process may get confirmed messages again. With its own offset it
    // skips them: exactly once.
    cluster.restart();
    let db = cluster.connect().await;
    emit_numbers(&db, 6, 6).await;
    let mut listener = DurableListener::builder(cluster.url(), "resume")
        .resume_after(seen[4].offset())
        .connect()
        .await
        .unwrap();
    let event = next(&mut listener).await;
    assert_eq!(number(&event), 6);
    assert!(event.offset() > seen[4].offset());

    // The walsender terminated, then the server restarted, mid-stream: the
    // listener reconnects by itself; nothing is lost.
    listener.confirm(event.offset());
    emit_numbers(&db, 7, 8).await;
    assert_eq!(number(&next(&mut listener).await), 7);
    db.batch_execute(
        "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'resume'",
    )
    .await
    .unwrap();
    // 8 may already be buffered; then 7 and 8 come again (not confirmed).
    let mut after_kill = vec![number(&next(&mut listener).await)];
    while after_kill.len() < 2 || after_kill[after_kill.len() - 2..] != [7, 8] {
        after_kill.push(number(&next(&mut listener).await));
    }
    assert!(
        after_kill == [7, 8] || after_kill == [8, 7, 8],
        "{after_kill:?}"
    );
    // A server restart: a fast shutdown waits for the listener to confirm
    // what it was sent (up to wal_sender_timeout), so it confirms first.
    let nine = last_offset(&mut listener, &db, 9).await;
    listener.confirm(nine);
    let (cluster, during) = while_reading(&mut listener, move || {
        cluster.restart();
        cluster
    })
    .await;
    assert_eq!(during, []);
    let db = cluster.connect().await;
    emit_numbers(&db, 10, 10).await;
    assert_eq!(number(&next(&mut listener).await), 10);
    assert!(listener.reconnects() >= 2);
    let lag = listener.lag().await.unwrap();
    assert_eq!(lag.wal_status, "reserved");
    assert!(lag.bytes >= 0);
}

/// Runs blocking `work` (a restart) while the listener reads, as an
/// application does; returns what it read meanwhile.
async fn while_reading<T: Send + 'static>(
    listener: &mut DurableListener,
    work: impl FnOnce() -> T + Send + 'static,
) -> (T, Vec<DurableEvent>) {
    let task = tokio::task::spawn_blocking(work);
    tokio::pin!(task);
    let mut got = Vec::new();
    loop {
        tokio::select! {
            done = &mut task => return (done.unwrap(), got),
            event = listener.recv() => got.push(event.unwrap()),
        }
    }
}

/// Emits `n` and returns its offset once received.
async fn last_offset(listener: &mut DurableListener, db: &Client, n: i64) -> Offset {
    emit_numbers(db, n, n).await;
    let event = next(listener).await;
    assert_eq!(number(&event), n);
    event.offset()
}

/// Sends a signal to a server process (the private cluster is local).
fn signal(pid: i32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

async fn futures_collect(listener: &mut DurableListener, n: usize) -> Vec<i64> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(number(&next(listener).await));
    }
    out
}

#[tokio::test]
async fn streams_over_a_unix_socket() {
    let (cluster, db) = cluster(&[]).await;
    let mut listener = DurableListener::builder(cluster.socket_url(), "socket")
        .create_slot(true)
        .connect()
        .await
        .unwrap();
    db.batch_execute("SET pg_socketio.delivery = 'wal'")
        .await
        .unwrap();
    emit_numbers(&db, 1, 2).await;
    let first = next(&mut listener).await;
    let second = next(&mut listener).await;
    assert_eq!((number(&first), number(&second)), (1, 2));
    let walsender: String = db
        .query_one(
            "SELECT coalesce(client_addr::text, 'local') FROM pg_stat_replication",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(walsender, "local");
}

#[tokio::test]
async fn a_half_open_connection_is_noticed_and_opened_again() {
    // The server drops the walsender of the dead route 3 s after its last
    // status update, freeing the slot for the new connection.
    let (cluster, db) = cluster(&["wal_sender_timeout=3s"]).await;
    db.batch_execute("ALTER DATABASE postgres SET pg_socketio.delivery = 'wal'")
        .await
        .unwrap();
    let db = cluster.connect().await;
    let proxy = FreezingProxy::to(([127, 0, 0, 1], cluster.port).into()).await;
    let mut listener = DurableListener::builder(
        format!("postgres://postgres@127.0.0.1:{}/postgres", proxy.port),
        "frozen",
    )
    .create_slot(true)
    .liveness(Duration::from_secs(1), Duration::from_secs(1))
    .connect()
    .await
    .unwrap();
    emit_numbers(&db, 1, 1).await;
    let first = next(&mut listener).await;
    assert_eq!(number(&first), 1);
    listener.confirm(first.offset());
    // The route goes silent without closing: no error, no EOF, ever.
    proxy.freeze();
    emit_numbers(&db, 2, 2).await;
    let second = tokio::time::timeout(Duration::from_secs(30), listener.recv())
        .await
        .expect("the dead connection noticed and replaced within 30 s")
        .unwrap();
    assert_eq!(number(&second), 2);
    assert_eq!(listener.reconnects(), 1);
}

#[tokio::test]
async fn an_invalidated_slot_is_an_error_never_a_silent_gap() {
    let (cluster, db) = cluster(&["max_slot_wal_keep_size=1MB", "wal_keep_size=0"]).await;
    let listener = durable(&cluster, "lost").await;
    drop(listener);
    // More WAL than the slot may keep, then checkpoints: the slot is invalidated.
    db.batch_execute(
        "CREATE TABLE filler(x text);
         INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, 30000);
         SELECT pg_switch_wal(); CHECKPOINT;
         INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, 30000);
         SELECT pg_switch_wal(); CHECKPOINT;",
    )
    .await
    .unwrap();
    let status: String = db
        .query_one(
            "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'lost'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "lost");
    let error = match DurableListener::builder(cluster.url(), "lost")
        .connect()
        .await
    {
        Err(e) => e,
        Ok(_) => panic!("an invalidated slot streamed"),
    };
    assert!(
        matches!(&error, DurableError::SlotInvalidated { slot, .. } if slot == "lost"),
        "{error:?}"
    );
}

/// A mixed cluster: with `delivery = 'both'`, a Node.js server (NOTIFY)
/// and the durable listener (WAL) receive the same emits.
#[tokio::test]
async fn node_servers_and_the_durable_listener_receive_the_same_emits() {
    use tokio::io::AsyncBufReadExt;
    let (cluster, db) = cluster(&[]).await;
    let mut listener = durable(&cluster, "mixed").await;
    let interop = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("interop");
    let mut node = tokio::process::Command::new("node")
        .args(["capture/mixed-receive.mjs", "4"])
        .current_dir(&interop)
        .env("DATABASE_URL", cluster.url())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs (npm ci in tests/interop)");
    let mut lines = tokio::io::BufReader::new(node.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the Node.js server starts")
        .unwrap();
    assert_eq!(ready.as_deref(), Some("ready"));

    db.batch_execute(
        r#"SET pg_socketio.delivery = 'both';
           SELECT sio_emit('r', 'small', '{"n":1}');
           SELECT sio_emit('r', 'large', to_jsonb(repeat('é', 5000)));
           SELECT sio_emit_args(ARRAY['r'], 'bin', '[{"_placeholder":true,"num":0}, 2]', binary_args => ARRAY['\x00ff'::bytea]);
           SELECT sio_emit('r', 'end', '[]');"#,
    )
    .await
    .unwrap();
    let mut from_node = Vec::new();
    while let Some(line) = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .unwrap()
        .unwrap()
    {
        from_node.push(serde_json::from_str::<serde_json::Value>(&line).unwrap());
    }
    let mut from_wal = Vec::new();
    while from_wal.last().map(|(e, _): &(String, _)| e.as_str()) != Some("end") {
        let DurableEvent::Message { message, .. } = next(&mut listener).await else {
            panic!("invalid")
        };
        let Body::Broadcast { event, args, .. } = message.body else {
            panic!("not a broadcast")
        };
        from_wal.push((event, args));
    }
    // Node.js writes a Buffer as {"type":"Buffer","data":[..]}; the listener
    // has it as MessagePack bin.
    let as_node = |v: &Value| match v {
        Value::Binary(b) => serde_json::json!({"type": "Buffer", "data": b}),
        other => serde_json::to_value(other).unwrap(),
    };
    let from_wal: Vec<serde_json::Value> = from_wal
        .iter()
        .map(|(event, args)| {
            let mut all = vec![serde_json::json!(event)];
            all.extend(args.iter().map(as_node));
            serde_json::Value::Array(all)
        })
        .collect();
    // The adapter fetches attachments asynchronously: Node.js's order of
    // arrival may differ; the durable listener's is commit order.
    assert_eq!(from_wal[3][0], "end");
    let by_event = |v: &mut Vec<serde_json::Value>| v.sort_by_key(|e| e[0].to_string());
    let mut from_wal = from_wal;
    by_event(&mut from_node);
    by_event(&mut from_wal);
    assert_eq!(from_node.len(), 4);
    assert_eq!(from_wal, from_node);
}

/// The socketioxide bridge example on the durable listener: its clients get
/// what SQL emits through the WAL, and after a restart it gets what was
/// committed while it was down (a server-side emit, which it prints).
#[tokio::test]
async fn the_socketioxide_bridge_runs_on_the_durable_listener() {
    use tokio::io::AsyncBufReadExt;
    let bridge_bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/debug/examples/socketioxide_bridge");
    assert!(
        bridge_bin.exists(),
        "build it first: cargo build -p pg_socketio_client --features socketioxide --examples"
    );
    let (cluster, db) = cluster(&[]).await;
    db.batch_execute("ALTER DATABASE postgres SET pg_socketio.delivery = 'wal'")
        .await
        .unwrap();
    let db = cluster.connect().await;
    let start_bridge = || {
        let mut child = tokio::process::Command::new(&bridge_bin)
            .arg("0")
            .env("DATABASE_URL", cluster.url())
            .env("DURABLE_SLOT", "bridge")
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        (child, lines)
    };
    let (mut bridge, mut out) = start_bridge();
    let listening = next_line(&mut out).await;
    let port = listening.rsplit(':').next().unwrap().to_owned();
    assert_eq!(next_line(&mut out).await, "reading the WAL");

    let interop = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("interop");
    let mut client = tokio::process::Command::new("node")
        .args(["capture/bridge-client.mjs", &port, "1"])
        .current_dir(&interop)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut client_out = tokio::io::BufReader::new(client.stdout.take().unwrap()).lines();
    assert_eq!(next_line(&mut client_out).await, "connected");
    db.batch_execute("SELECT sio_emit('r', 'one', '{\"n\":1}')")
        .await
        .unwrap();
    assert_eq!(next_line(&mut client_out).await, r#"["one",{"n":1}]"#);

    // Down: what commits meanwhile waits in the slot.
    bridge.kill().await.unwrap();
    db.batch_execute("SELECT sio_server_side_emit('two', '[2]')")
        .await
        .unwrap();
    let (_bridge, mut out) = start_bridge();
    next_line(&mut out).await; // listening on …
    assert_eq!(next_line(&mut out).await, "reading the WAL");
    assert_eq!(
        next_line(&mut out).await,
        "server-side / two [Integer(PosInt(2))]"
    );
}

async fn next_line<R: tokio::io::AsyncBufRead + Unpin>(lines: &mut tokio::io::Lines<R>) -> String {
    tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("a line within 15 s")
        .unwrap()
        .expect("the program runs")
}
