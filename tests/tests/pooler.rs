//! Behind a connection pooler (PgBouncer, Debian's 1.18): what emits from
//! SQL and from the Rust emitter through transaction pooling deliver, and a
//! listener that cannot hear through it refused instead of left deaf.

use std::time::Duration;

use pg_socketio_client::protocol::{Body, Message};
use pg_socketio_client::{placeholder, Emitter, Listener, ListenerError};
use pg_socketio_kit::{
    connect, database_url, event_and_argument, next_message, open, unique_prefix, PgBouncer,
};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);

async fn listener(url: String, prefix: &str) -> Result<Listener, ListenerError> {
    Listener::builder(url)
        .channel_prefix(prefix)
        .liveness(Duration::from_secs(1), Duration::from_secs(2))
        .connect()
        .await
}

/// A broadcast's event and first argument as JSON, shortened for these
/// tests' large arguments: binary ones as `{"bytes": length}`, a string of
/// one repeated character as `{"repeat": character, "times": count}`.
fn event_of(message: &Message) -> (String, Value) {
    let (event, arg) = match &message.body {
        Body::Broadcast { args, event, .. } => match &args[0] {
            rmpv::Value::Binary(bytes) => (event.clone(), json!({ "bytes": bytes.len() })),
            _ => event_and_argument(&message.body),
        },
        body => panic!("not a broadcast: {body:?}"),
    };
    match arg
        .as_str()
        .and_then(|s| Some((s.chars().next()?, s.chars().count())))
    {
        Some((c, times)) if times > 1 && arg.as_str().unwrap().chars().all(|x| x == c) => {
            (event, json!({ "repeat": c.to_string(), "times": times }))
        }
        _ => (event, arg),
    }
}

async fn received(listener: &mut Listener, count: usize) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    for _ in 0..count {
        events.push(event_of(&next_message(listener, WAIT).await.1));
    }
    if let Ok(extra) = tokio::time::timeout(Duration::from_millis(500), listener.recv()).await {
        panic!("nothing more expected, got {extra:?}");
    }
    events
}

/// The listener receives exactly `expected` (see [`event_of`]), then nothing.
async fn assert_received(listener: &mut Listener, expected: &[(&str, Value)]) {
    let expected: Vec<(String, Value)> = expected
        .iter()
        .map(|(event, arg)| (event.to_string(), arg.clone()))
        .collect();
    assert_eq!(received(listener, expected.len()).await, expected);
}

/// Two clients whose transactions interleave on the pooler's two server
/// connections, settings given per transaction (`SET LOCAL`: a session's
/// `SET` would stay on a server connection that other clients get next):
/// each committed emit arrives once, in commit order, large ones through the
/// attachment table; a rolled-back one never.
#[tokio::test]
async fn sql_emits_through_a_transaction_pooler_arrive_in_commit_order() {
    connect().await;
    let bouncer = PgBouncer::start("transaction").await;
    let prefix = unique_prefix("pool_sql");
    let mut listener = listener(database_url(), &prefix).await.unwrap();
    let (a, _) = open(&bouncer.url()).await;
    let (b, _) = open(&bouncer.url()).await;
    let begin = format!("BEGIN; SET LOCAL pg_socketio.channel_prefix = '{prefix}';");

    a.batch_execute(&format!("{begin} SELECT sio_emit('r', 'a1', '1')"))
        .await
        .unwrap();
    b.batch_execute(&format!(
        "{begin} SELECT sio_emit('r', 'b1', '2');
         SELECT sio_emit('r', 'b2', to_jsonb(repeat('x', 20000))); COMMIT"
    ))
    .await
    .unwrap();
    a.batch_execute(
        r#"SELECT sio_emit_args('r', 'a2', '[{"_placeholder":true,"num":0}]',
                                ARRAY[convert_to(repeat('y', 3), 'UTF8')]); COMMIT"#,
    )
    .await
    .unwrap();
    b.batch_execute(&format!(
        "{begin} SELECT sio_emit('r', 'gone', '0'); ROLLBACK"
    ))
    .await
    .unwrap();
    a.batch_execute(&format!("{begin} SELECT sio_emit('r', 'a3', '3'); COMMIT"))
        .await
        .unwrap();

    assert_received(
        &mut listener,
        &[
            ("b1", json!(2)),
            ("b2", json!({"repeat": "x", "times": 20000})),
            ("a1", json!(1)),
            ("a2", json!({"bytes": 3})),
            ("a3", json!(3)),
        ],
    )
    .await;
}

/// The Rust emitter keeps nothing on the server between statements (no
/// named prepared statements, no session settings), so two tasks emitting
/// at once through transaction pooling, whose statements land on whichever
/// server connection is free, deliver every emit, inline and attachment,
/// in transactions and outside them; a rolled-back transaction nothing.
#[tokio::test]
async fn the_rust_emitter_works_through_a_transaction_pooler() {
    connect().await;
    let bouncer = PgBouncer::start("transaction").await;
    let prefix = unique_prefix("pool_rust");
    let mut listener = listener(database_url(), &prefix).await.unwrap();
    let emitter = Emitter::new().channel_prefix(&prefix);
    let tasks: Vec<_> = ["p", "q"]
        .into_iter()
        .map(|task| {
            let (emitter, url) = (emitter.clone(), bouncer.url());
            tokio::spawn(async move {
                let (mut db, _) = open(&url).await;
                for i in 0..10u8 {
                    let event = format!("{task}{i}");
                    let to = emitter.to("r");
                    if i % 2 == 0 {
                        to.emit(&db, &event, &json!([i])).await.unwrap();
                    } else {
                        // Two statements (INSERT, then NOTIFY); in a
                        // transaction every third time.
                        let bytes = vec![i; usize::from(i)];
                        let args = [placeholder(0)];
                        if i % 3 == 0 {
                            let tx = db.transaction().await.unwrap();
                            to.emit_binary(&tx, &event, &args, &[&bytes]).await.unwrap();
                            tx.commit().await.unwrap();
                        } else {
                            to.emit_binary(&db, &event, &args, &[&bytes]).await.unwrap();
                        }
                    }
                }
                let tx = db.transaction().await.unwrap();
                emitter
                    .to("r")
                    .emit(&tx, "gone", &json!([0]))
                    .await
                    .unwrap();
                tx.rollback().await.unwrap();
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }

    let events = received(&mut listener, 20).await;
    // Each task's emits in its own order; the two interleave as they did.
    for task in ["p", "q"] {
        let of_task: Vec<&(String, Value)> =
            events.iter().filter(|(e, _)| e.starts_with(task)).collect();
        let expected: Vec<(String, Value)> = (0..10u8)
            .map(|i| {
                let arg = if i % 2 == 0 {
                    json!(i)
                } else {
                    json!({ "bytes": i })
                };
                (format!("{task}{i}"), arg)
            })
            .collect();
        assert_eq!(of_task, expected.iter().collect::<Vec<_>>(), "task {task}");
    }
}

/// Through transaction pooling, LISTEN is answered but holds only on the
/// server connection it ran on, which the pooler gives to other clients:
/// the listener would hear nothing, silently. It sees that its own test
/// notification does not arrive and refuses to start.
#[tokio::test]
async fn a_listener_behind_a_transaction_pooler_is_refused_not_left_deaf() {
    connect().await;
    let bouncer = PgBouncer::start("transaction").await;
    let error = listener(bouncer.url(), &unique_prefix("pool_deaf"))
        .await
        .err()
        .expect("the listener refuses a pooled LISTEN");
    assert!(
        matches!(error, ListenerError::Undelivered(limit) if limit == Duration::from_secs(2)),
        "{error:?}"
    );
    let said = error.to_string();
    for part in [
        "did not reach its LISTEN connection",
        "pool_mode = transaction",
    ] {
        assert!(said.contains(part), "{said}");
    }
}

/// Session pooling gives each client connection a server session of its
/// own: a listener behind it hears everything, attachments included.
#[tokio::test]
async fn a_listener_behind_a_session_pooler_receives_everything() {
    connect().await;
    let bouncer = PgBouncer::start("session").await;
    let prefix = unique_prefix("pool_session");
    let mut listener = listener(bouncer.url(), &prefix).await.unwrap();
    let (db, _) = open(&database_url()).await;
    db.batch_execute(&format!(
        "SET pg_socketio.channel_prefix = '{prefix}';
         SELECT sio_emit('r', 'small', '1');
         SELECT sio_emit('r', 'large', to_jsonb(repeat('z', 9000)));"
    ))
    .await
    .unwrap();
    assert_received(
        &mut listener,
        &[
            ("small", json!(1)),
            ("large", json!({"repeat": "z", "times": 9000})),
        ],
    )
    .await;
}
