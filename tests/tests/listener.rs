//! The Rust listener against the real PostgreSQL: every operation pg_socketio
//! sends, attachments, wire order, reconnects, malformed input, backpressure.
//! Terminations and restarts many times over: `faults.rs`.

use std::future::Future;
use std::task::Poll;
use std::time::{Duration, Instant};

use pg_socketio_client::protocol::{Body, Message, ReceivedFlags, ReceivedOpts, Value};
use pg_socketio_client::{Event, Listener, ListenerBuilder};
use pg_socketio_kit::{
    broadcast_number, connect, database_url, emitter, next_event, next_message, unique_prefix,
    FreezingProxy,
};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

fn builder(prefix: &str) -> ListenerBuilder {
    Listener::builder(database_url()).channel_prefix(prefix)
}

/// Nothing more arrives within `quiet`.
async fn assert_quiet(listener: &mut Listener, quiet: Duration) {
    if let Ok(event) = tokio::time::timeout(quiet, listener.recv()).await {
        panic!("unexpected event: {event:?}");
    }
}

fn value(json: serde_json::Value) -> Value {
    rmpv::ext::to_value(json).unwrap()
}

fn rooms(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn from_emitter(nsp: &str, body: Body) -> Message {
    Message {
        uid: "emitter".into(),
        nsp: Some(nsp.into()),
        body,
        exact_args: None,
    }
}

#[tokio::test]
async fn every_sql_operation_arrives_decoded_in_order() {
    let prefix = unique_prefix("rl_ops");
    let mut listener = builder(&prefix)
        .namespaces(["/", "/admin"])
        .connect()
        .await
        .unwrap();
    let db = emitter(&prefix).await;
    db.batch_execute(
        r#"BEGIN;
        SELECT sio_emit('room1', 'ping', '{"n":1}');
        SELECT sio_emit(ARRAY['a','b'], 'e', '[1,"x"]', nsp => '/admin',
                        except_rooms => ARRAY['c'], volatile => true, compress => false);
        SELECT sio_emit_args(ARRAY[]::text[], 'bin', '[{"_placeholder":true,"num":0}, 7]',
                             binary_args => ARRAY['\x00ff'::bytea]);
        SELECT sio_sockets_join(ARRAY['r1'], ARRAY['j1','j2']);
        SELECT sio_sockets_leave(ARRAY[]::text[], ARRAY['j1'], nsp => '/admin');
        SELECT sio_disconnect_sockets(ARRAY['r2'], true, except_rooms => ARRAY['r3']);
        SELECT sio_server_side_emit('hello', '["w", 2]');
        COMMIT;"#,
    )
    .await
    .unwrap();

    let no_flags = ReceivedFlags::default();
    let expected = [
        (
            "/",
            from_emitter(
                "/",
                Body::Broadcast {
                    event: "ping".into(),
                    args: vec![value(json!({"n": 1}))],
                    opts: ReceivedOpts {
                        rooms: rooms(&["room1"]),
                        except: vec![],
                        flags: no_flags.clone(),
                    },
                    request_id: None,
                },
            ),
        ),
        (
            "/admin",
            from_emitter(
                "/admin",
                Body::Broadcast {
                    event: "e".into(),
                    args: vec![value(json!([1, "x"]))],
                    opts: ReceivedOpts {
                        rooms: rooms(&["a", "b"]),
                        except: rooms(&["c"]),
                        flags: ReceivedFlags {
                            volatile: true,
                            compress: Some(false),
                            timeout: None,
                        },
                    },
                    request_id: None,
                },
            ),
        ),
        (
            // Binary goes through the attachment table, as MessagePack `bin`.
            "/",
            from_emitter(
                "/",
                Body::Broadcast {
                    event: "bin".into(),
                    args: vec![Value::Binary(vec![0x00, 0xff]), Value::from(7)],
                    opts: ReceivedOpts::default(),
                    request_id: None,
                },
            ),
        ),
        (
            "/",
            from_emitter(
                "/",
                Body::SocketsJoin {
                    opts: ReceivedOpts {
                        rooms: rooms(&["r1"]),
                        ..ReceivedOpts::default()
                    },
                    rooms: rooms(&["j1", "j2"]),
                },
            ),
        ),
        (
            "/admin",
            from_emitter(
                "/admin",
                Body::SocketsLeave {
                    opts: ReceivedOpts::default(),
                    rooms: rooms(&["j1"]),
                },
            ),
        ),
        (
            "/",
            from_emitter(
                "/",
                Body::DisconnectSockets {
                    opts: ReceivedOpts {
                        rooms: rooms(&["r2"]),
                        except: rooms(&["r3"]),
                        flags: no_flags.clone(),
                    },
                    close: true,
                },
            ),
        ),
        (
            "/",
            from_emitter(
                "/",
                Body::ServerSideEmit {
                    event: "hello".into(),
                    args: vec![Value::from("w"), Value::from(2)],
                    request_id: None,
                },
            ),
        ),
    ];
    for (namespace, message) in expected {
        assert_eq!(
            next_message(&mut listener, WAIT).await,
            (namespace.into(), message)
        );
    }
    assert_quiet(&mut listener, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_small_message_never_overtakes_an_earlier_attachment() {
    let prefix = unique_prefix("rl_order");
    let mut listener = builder(&prefix).connect().await.unwrap();
    let db = emitter(&prefix).await;
    // 300 messages, every third one 20 kB (an attachment), sent partly one
    // per transaction and partly in one transaction.
    let emit = |n: i32| {
        let pad = if n % 3 == 0 { 20_000 } else { 0 };
        format!(
            "SELECT sio_emit(ARRAY[]::text[], 'n', jsonb_build_array({n}, repeat('x', {pad})));"
        )
    };
    let mut sql: String = (0..150).map(emit).collect();
    sql.push_str("BEGIN;");
    sql.extend((150..300).map(emit));
    sql.push_str("COMMIT;");
    db.batch_execute(&sql).await.unwrap();

    for n in 0..300 {
        let (_, message) = next_message(&mut listener, WAIT).await;
        assert_eq!(broadcast_number(&message), n);
    }
}

#[tokio::test]
async fn a_slow_consumer_holds_back_the_connection_and_loses_nothing() {
    let prefix = unique_prefix("rl_slow");
    let mut listener = builder(&prefix).connect().await.unwrap();
    let db = emitter(&prefix).await;
    db.batch_execute(
        "BEGIN; SELECT sio_emit(ARRAY[]::text[], 'n', jsonb_build_array(i, repeat('y', 500)))
                FROM generate_series(0, 4999) i; COMMIT;",
    )
    .await
    .unwrap();
    // The consumer is away while 2.5 MB of notifications are sent.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for n in 0..5000 {
        let (_, message) = next_message(&mut listener, WAIT).await;
        assert_eq!(broadcast_number(&message), n);
    }
}

#[tokio::test]
async fn malformed_notifications_are_reported_and_skipped() {
    let prefix = unique_prefix("rl_bad");
    let mut listener = builder(&prefix).connect().await.unwrap();
    let db = emitter(&prefix).await;
    let channel = format!("{prefix}#/");
    let garbage_id: i64 = db
        .query_one(
            "INSERT INTO socket_io_attachments (payload) VALUES ('\\x81'::bytea) RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let bad: Vec<(String, &str)> = vec![
        ("not json".into(), "not JSON"),
        ("[1,2]".into(), "malformed message: invalid type: sequence"),
        (r#"{"type":3,"uid":"x"}"#.into(), "missing field data"),
        (
            r#"{"type":99,"uid":"x","data":{}}"#.into(),
            "unknown message type 99",
        ),
        (
            r#"{"type":3,"uid":"x","nsp":"/","data":{"packet":{"data":[]},"opts":{}}}"#.into(),
            "missing field packet.data",
        ),
        (
            r#"{"uid":"x","type":3,"attachmentId":"999999999999"}"#.into(),
            "attachment 999999999999 is not in",
        ),
        (
            format!(r#"{{"uid":"x","type":3,"attachmentId":"{garbage_id}"}}"#),
            "not MessagePack",
        ),
    ];
    for (payload, _) in &bad {
        db.execute("SELECT pg_notify($1, $2)", &[&channel, payload])
            .await
            .unwrap();
    }
    db.batch_execute("SELECT sio_emit(ARRAY[]::text[], 'n', '[1]')")
        .await
        .unwrap();

    for (payload, error) in &bad {
        match next_event(&mut listener, WAIT).await {
            Event::Invalid {
                channel: c,
                payload: p,
                error: e,
            } => {
                assert_eq!((&c, &p), (&channel, payload));
                assert!(e.contains(error), "{e:?} should say {error:?}");
            }
            other => panic!("expected Invalid for {payload}, got {other:?}"),
        }
    }
    let (_, message) = next_message(&mut listener, WAIT).await;
    assert_eq!(broadcast_number(&message), 1);
    db.execute(
        "DELETE FROM socket_io_attachments WHERE id = $1",
        &[&garbage_id],
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn heartbeats_and_responses_only_when_asked_and_the_namespace_as_adapter_0_5_routes() {
    let prefix = unique_prefix("rl_kinds");
    let mut quiet = builder(&prefix)
        .namespaces(["/admin"])
        .connect()
        .await
        .unwrap();
    let mut all = builder(&prefix)
        .namespaces(["/admin"])
        .heartbeats(true)
        .responses(true)
        .connect()
        .await
        .unwrap();
    let db = connect().await;
    let channel = format!("{prefix}#/admin");
    for payload in [
        r#"{"uid":"srv1","type":2,"nsp":"/admin"}"#,
        r#"{"uid":"srv1","type":11,"nsp":"/admin","data":{"requestId":"q","clientCount":3}}"#,
        // The official emitter 0.1.1 writes no nsp.
        r#"{"uid":"emitter","type":4,"data":{"opts":{"rooms":[],"except":[]},"rooms":["z"]}}"#,
        // Adapter 0.5.0 routes by nsp, whatever the channel.
        r#"{"uid":"emitter","type":5,"nsp":"/other","data":{"opts":{"rooms":[],"except":[]},"rooms":["y"]}}"#,
    ] {
        db.execute("SELECT pg_notify($1, $2)", &[&channel, &payload])
            .await
            .unwrap();
    }
    let heartbeat = Message {
        uid: "srv1".into(),
        nsp: Some("/admin".into()),
        body: Body::Heartbeat,
        exact_args: None,
    };
    let count = Message {
        uid: "srv1".into(),
        nsp: Some("/admin".into()),
        body: Body::BroadcastClientCount {
            request_id: "q".into(),
            client_count: 3,
        },
        exact_args: None,
    };
    let join = Message {
        uid: "emitter".into(),
        nsp: None,
        body: Body::SocketsJoin {
            opts: ReceivedOpts::default(),
            rooms: rooms(&["z"]),
        },
        exact_args: None,
    };
    let leave = Message {
        uid: "emitter".into(),
        nsp: Some("/other".into()),
        body: Body::SocketsLeave {
            opts: ReceivedOpts::default(),
            rooms: rooms(&["y"]),
        },
        exact_args: None,
    };
    for message in [heartbeat, count, join.clone()] {
        assert_eq!(
            next_message(&mut all, WAIT).await,
            ("/admin".into(), message)
        );
    }
    assert_eq!(
        next_message(&mut all, WAIT).await,
        ("/other".into(), leave.clone())
    );
    assert_eq!(
        next_message(&mut quiet, WAIT).await,
        ("/admin".into(), join)
    );
    assert_eq!(
        next_message(&mut quiet, WAIT).await,
        ("/other".into(), leave)
    );
}

#[tokio::test]
async fn bad_options_and_unreachable_servers_are_the_callers_error() {
    let err = builder("p")
        .namespaces(["admin"])
        .connect()
        .await
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("a namespace starts with \"/\""),
        "{err}"
    );
    let err = builder("p")
        .namespaces(Vec::<String>::new())
        .connect()
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "invalid listener options: no namespace to listen on"
    );
    let err = Listener::builder("postgres://postgres@127.0.0.1:1/test")
        .connect()
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("error connecting"), "{err}");
}

#[tokio::test]
async fn a_half_open_connection_is_noticed_within_ten_seconds() {
    let proxy = FreezingProxy::start().await;
    let prefix = unique_prefix("rl_half");
    // Default liveness settings: this is the promise the README makes.
    let mut listener = Listener::builder(proxy.url("rl_half"))
        .channel_prefix(&prefix)
        .connect()
        .await
        .unwrap();
    let db = emitter(&prefix).await;
    proxy.freeze();
    let frozen_at = Instant::now();
    // Sent while the connection is frozen: lost, hence the gap.
    db.batch_execute("SELECT sio_emit(ARRAY[]::text[], 'n', '[1]')")
        .await
        .unwrap();
    match next_event(&mut listener, WAIT).await {
        Event::Gap { reason } => assert!(reason.contains("liveness"), "{reason}"),
        other => panic!("expected a gap, got {other:?}"),
    }
    let noticed = frozen_at.elapsed();
    assert!(
        noticed < Duration::from_secs(10),
        "noticed after {noticed:?}"
    );
    db.batch_execute("SELECT sio_emit(ARRAY[]::text[], 'n', '[2]')")
        .await
        .unwrap();
    let (_, message) = next_message(&mut listener, WAIT).await;
    assert_eq!(broadcast_number(&message), 2);
}

#[tokio::test]
async fn a_listener_is_a_stream_and_dropping_it_closes_its_connections() {
    use futures_util::StreamExt;
    let prefix = unique_prefix("rl_stream");
    let app = format!("{prefix}_listener");
    let listener = Listener::builder(format!("{}?application_name={app}", database_url()))
        .channel_prefix(&prefix)
        .connect()
        .await
        .unwrap();
    let db = emitter(&prefix).await;
    db.batch_execute(
        "SELECT sio_emit(ARRAY[]::text[], 'n', jsonb_build_array(i)) FROM generate_series(0, 2) i",
    )
    .await
    .unwrap();
    let numbers: Vec<i64> = listener
        .take(3)
        .map(|event| match event {
            Event::Message { message, .. } => broadcast_number(&message),
            other => panic!("expected a message, got {other:?}"),
        })
        .collect()
        .await;
    assert_eq!(numbers, [0, 1, 2]);
    // `take` dropped the listener: both of its backends go away.
    let count = "SELECT count(*) FROM pg_stat_activity
                 WHERE application_name IN ($1, $1 || ' (attachments)')";
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left: i64 = db.query_one(count, &[&app]).await.unwrap().get(0);
        if left == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{left} backends left after drop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn recv_is_cancel_safe() {
    let prefix = unique_prefix("rl_cancel");
    let mut listener = builder(&prefix).connect().await.unwrap();
    let db = emitter(&prefix).await;
    db.batch_execute(
        "SELECT sio_emit(ARRAY[]::text[], 'n', jsonb_build_array(i, repeat('z', CASE WHEN i % 2 = 0 THEN 20000 ELSE 1 END)))
         FROM generate_series(0, 199) i",
    )
    .await
    .unwrap();
    // Each recv() is polled once and dropped if it is not ready, mid-
    // attachment included: the first one always is (attachment 0 is not
    // asked for before it), whatever the machine's speed. A pause lets the
    // connections move on between polls.
    let (mut next_n, mut cancelled) = (0, 0);
    let deadline = Instant::now() + WAIT;
    while next_n < 200 {
        assert!(Instant::now() < deadline, "stuck at {next_n}");
        let mut recv = std::pin::pin!(listener.recv());
        let polled = std::future::poll_fn(|cx| Poll::Ready(recv.as_mut().poll(cx))).await;
        match polled {
            Poll::Ready(Some(Event::Message { message, .. })) => {
                assert_eq!(broadcast_number(&message), next_n);
                next_n += 1;
            }
            Poll::Ready(other) => panic!("unexpected {other:?}"),
            Poll::Pending => {
                cancelled += 1;
                tokio::time::sleep(Duration::from_micros(100)).await;
            }
        }
    }
    assert!(
        cancelled > 0,
        "no recv() was cancelled: the test proves nothing"
    );
    assert_quiet(&mut listener, Duration::from_millis(300)).await;
}

/// A listener on `prefix` whose connections are named `<prefix>_listener`
/// (and `... (attachments)`), and that name.
async fn named_listener(prefix: &str) -> (Listener, String) {
    let app = format!("{prefix}_listener");
    let listener = Listener::builder(format!("{}?application_name={app}", database_url()))
        .channel_prefix(prefix)
        .connect()
        .await
        .unwrap();
    (listener, app)
}

/// A large and a small emit, numbered: what must arrive after the attachment
/// connection was lost.
async fn big_then_small(db: &tokio_postgres::Client, round: i64) {
    db.batch_execute(&format!(
        "SELECT sio_emit(ARRAY[]::text[], 'n', jsonb_build_array({round}, repeat('b', 20000)));
         SELECT sio_emit(ARRAY[]::text[], 'n', jsonb_build_array({round}));"
    ))
    .await
    .unwrap();
}

async fn both_arrive(listener: &mut Listener, round: i64) {
    for _ in 0..2 {
        let (_, message) = next_message(listener, WAIT).await;
        assert_eq!(broadcast_number(&message), round, "round {round}");
    }
}

/// Issue 13: losing the attachment connection lost the notification in
/// hand and those behind it (a gap). The LISTEN connection still has them:
/// the attachment connection is opened again and nothing is lost.
#[tokio::test]
async fn a_terminated_attachment_connection_loses_nothing() {
    let prefix = unique_prefix("rl_att_term");
    let (mut listener, app) = named_listener(&prefix).await;
    let db = emitter(&prefix).await;
    for round in 0..10 {
        let terminated: i64 = db
            .query_one(
                "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity
                  WHERE application_name = $1 || ' (attachments)'",
                &[&app],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(terminated, 1);
        big_then_small(&db, round).await;
        both_arrive(&mut listener, round).await;
    }
    assert_quiet(&mut listener, Duration::from_millis(300)).await;
}

/// Attachments in a row are read one ahead, while the one before is
/// decoded; losing the attachment connection with a row asked for ahead
/// loses nothing either, and keeps the order.
#[tokio::test]
async fn attachments_read_ahead_survive_a_terminated_connection() {
    let prefix = unique_prefix("rl_att_ahead");
    let (mut listener, app) = named_listener(&prefix).await;
    let db = emitter(&prefix).await;
    for round in 0..5_i64 {
        let emits: String = (0..4)
            .map(|k| {
                format!(
                    "SELECT sio_emit(ARRAY[]::text[], 'n', jsonb_build_array({}, repeat('b', 20000)));",
                    round * 10 + k
                )
            })
            .collect();
        db.batch_execute(&format!("BEGIN; {emits} COMMIT;"))
            .await
            .unwrap();
        let (_, first) = next_message(&mut listener, WAIT).await;
        assert_eq!(broadcast_number(&first), round * 10);
        db.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
              WHERE application_name = $1 || ' (attachments)'",
            &[&app],
        )
        .await
        .unwrap();
        for k in 1..4 {
            let (_, message) = next_message(&mut listener, WAIT).await;
            assert_eq!(broadcast_number(&message), round * 10 + k);
        }
    }
    assert_quiet(&mut listener, Duration::from_millis(300)).await;
}

/// The server ends the idle attachment connection (idle_session_timeout)
/// while the LISTEN connection, checked more often, stays.
#[tokio::test]
async fn an_idle_timeout_on_the_attachment_connection_loses_nothing() {
    let admin = connect().await;
    let role = pg_socketio_kit::TestRole::create(&admin, "sio_it_idle", &["socketio_server"]).await;
    admin
        .batch_execute(&format!(
            "ALTER ROLE {} SET idle_session_timeout = '1s'",
            role.name
        ))
        .await
        .unwrap();
    let prefix = unique_prefix("rl_att_idle");
    let mut listener = Listener::builder(role.url())
        .channel_prefix(&prefix)
        .liveness(Duration::from_millis(300), Duration::from_secs(2))
        .connect()
        .await
        .unwrap();
    let db = emitter(&prefix).await;
    for round in 0..3 {
        // Waiting in recv(), as an application does: the LISTEN connection
        // is checked every 300 ms and stays; the other one idles out.
        assert_quiet(&mut listener, Duration::from_millis(1500)).await;
        big_then_small(&db, round).await;
        both_arrive(&mut listener, round).await;
    }
    assert_quiet(&mut listener, Duration::from_millis(300)).await;
    drop(listener);
    role.drop_role(&admin).await;
}

/// A stalled attachment connection (a dead route) is given up after the
/// liveness timeout and opened again; the LISTEN connection is untouched.
#[tokio::test]
async fn a_stalled_attachment_connection_is_replaced_and_loses_nothing() {
    let proxy = FreezingProxy::start().await;
    let prefix = unique_prefix("rl_att_stall");
    let mut listener = Listener::builder(proxy.url("rl_att_stall"))
        .channel_prefix(&prefix)
        .liveness(Duration::from_secs(1), Duration::from_secs(1))
        .connect()
        .await
        .unwrap();
    let db = emitter(&prefix).await;
    big_then_small(&db, 0).await;
    both_arrive(&mut listener, 0).await;
    // The listener opened LISTEN first, then the attachment connection.
    proxy.freeze_last();
    big_then_small(&db, 1).await;
    both_arrive(&mut listener, 1).await;
    assert_quiet(&mut listener, Duration::from_millis(300)).await;
}

/// A gap says what PostgreSQL said, SQLSTATE included.
#[tokio::test]
async fn a_gap_carries_the_servers_sqlstate_and_message() {
    let prefix = unique_prefix("rl_gap_reason");
    let (mut listener, app) = named_listener(&prefix).await;
    let db = emitter(&prefix).await;
    db.query_one(
        "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE application_name = $1",
        &[&app],
    )
    .await
    .unwrap();
    match next_event(&mut listener, WAIT).await {
        Event::Gap { reason } => assert_eq!(
            reason,
            "57P01 terminating connection due to administrator command"
        ),
        other => panic!("expected a gap, got {other:?}"),
    }
}

/// Nesting as deep as a notification allows, inline and through the
/// attachment table, arrives whole (Node.js servers deliver both).
#[tokio::test]
async fn deeply_nested_arguments_arrive_inline_and_attached() {
    let prefix = unique_prefix("rl_deep");
    let mut listener = builder(&prefix).connect().await.unwrap();
    let db = emitter(&prefix).await;
    // 150 levels; 3,900 inline (7,800 bytes of brackets); 3,000 around a
    // 20 kB string, which makes it an attachment.
    db.batch_execute(
        "SELECT sio_emit('r', 'd150', (repeat('[', 150) || repeat(']', 150))::jsonb);
         SELECT sio_emit('r', 'd3900', (repeat('[', 3900) || repeat(']', 3900))::jsonb);
         SELECT sio_emit('r', 'd3000', (repeat('[', 3000) || to_jsonb(repeat('x', 20000))::text || repeat(']', 3000))::jsonb);",
    )
    .await
    .unwrap();
    for (name, depth) in [("d150", 150), ("d3900", 3900), ("d3000", 3000)] {
        let (_, message) = next_message(&mut listener, WAIT).await;
        let Body::Broadcast { event, args, .. } = message.body else {
            panic!("not a broadcast")
        };
        assert_eq!(event, name);
        let mut v = &args[0];
        let mut levels = 0;
        while let Value::Array(items) = v {
            levels += 1;
            match items.first() {
                Some(inner) => v = inner,
                None => break,
            }
        }
        assert_eq!(levels, depth, "{name}");
    }
}

/// A number beyond float64 arrives as JavaScript reads it (Infinity; a
/// Node.js server does the same and sends clients `null`), not as an error.
/// `args` hold what every Node.js server reads, JavaScript's float64;
/// `exact_args` the arguments' text with every digit, whichever way the
/// message came: inline, through the attachment table, from a trigger's
/// row or a statement's rows. Nothing beside numbers that keep their digits.
#[tokio::test]
async fn numbers_beyond_float64_arrive_as_javascript_reads_them_with_their_text_beside() {
    let prefix = unique_prefix("rl_inf");
    let mut listener = builder(&prefix).connect().await.unwrap();
    let db = emitter(&prefix).await;
    let big = format!("1{}", "0".repeat(400));
    let long = "x".repeat(9000);
    db.batch_execute(&format!(
        "SELECT sio_emit('r', 'inline', '{big}'::jsonb);
         SELECT sio_emit('r', 'attached', jsonb_build_array('{big}'::numeric, '{long}'));
         SELECT sio_emit('r', 'kept', '[1.5, 12345678901234567890, 0.30000000000000004]');
         CREATE TEMP TABLE amounts (amount numeric, note text);
         CREATE TRIGGER a_row AFTER INSERT ON amounts
           FOR EACH ROW EXECUTE FUNCTION sio_trigger('r', 'row');
         CREATE TRIGGER b_statement AFTER INSERT ON amounts REFERENCING NEW TABLE AS added
           FOR EACH STATEMENT EXECUTE FUNCTION sio_trigger('r', 'rows');
         INSERT INTO amounts VALUES (12345678901234567890.123456789, 'short');
         INSERT INTO amounts VALUES (12345678901234567890.123456789, '{long}');"
    ))
    .await
    .unwrap();
    let mut next = async || {
        let (_, message) = next_message(&mut listener, WAIT).await;
        let Body::Broadcast { event, args, .. } = message.body else {
            panic!("not a broadcast")
        };
        (event, args, message.exact_args)
    };
    assert_eq!(
        next().await,
        (
            "inline".into(),
            vec![Value::F64(f64::INFINITY)],
            Some(format!("[{big}]"))
        )
    );
    assert_eq!(
        next().await,
        (
            "attached".into(),
            vec![Value::Array(vec![
                Value::F64(f64::INFINITY),
                long.as_str().into()
            ])],
            Some(format!("[[{big}, \"{long}\"]]"))
        )
    );
    assert_eq!(
        next().await,
        (
            "kept".into(),
            vec![Value::Array(vec![
                Value::F64(1.5),
                12345678901234567890u64.into(),
                Value::F64(0.30000000000000004)
            ])],
            None
        )
    );
    // Row mode, then statement mode; inline (a short row), then attached.
    for (event, note) in [
        ("row", "short"),
        ("rows", "short"),
        ("row", &*long),
        ("rows", &*long),
    ] {
        let (name, args, exact) = next().await;
        assert_eq!(name, event);
        let exact = exact.unwrap_or_else(|| panic!("{event} {}: no exact_args", note.len()));
        let row = if event == "row" {
            &args[0]["new"]
        } else {
            &args[0]["rows"][0]["new"]
        };
        assert_eq!(row["amount"], Value::F64(12345678901234567890.123456789));
        assert_eq!(row["note"], Value::from(note));
        // The same change, written as JSON with the column's every digit.
        let expected = format!(
            r#"[{{"op":"INSERT","schema":"{}","table":"amounts","#,
            args[0]["schema"].as_str().unwrap()
        );
        assert!(exact.starts_with(&expected), "{event}: {exact:.200}");
        let amount = format!(r#"{{"amount":12345678901234567890.123456789,"note":"{note}"}}"#);
        assert_eq!(exact.matches(&amount).count(), 1, "{event}: {exact:.200}");
    }
}
