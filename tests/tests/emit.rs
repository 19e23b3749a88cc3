//! `sio_emit` against the real PostgreSQL: what a LISTENing server receives.

use std::time::Duration;

use pg_socketio_kit::{emitter, unique_prefix, without_seq, RawListener};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn commit_delivers_the_adapter_message() {
    let prefix = unique_prefix("commit");
    let mut listener = RawListener::new(&[&format!("{prefix}#/")]).await;
    let db = emitter(&prefix).await;
    db.batch_execute(r#"SELECT sio_emit('room1', 'ping', '{"n":1}')"#)
        .await
        .unwrap();

    let n = listener.next(WAIT).await.expect("a notification");
    assert_eq!(n.channel(), format!("{prefix}#/"));
    let (message, seq) = without_seq(n.payload());
    assert!(seq.is_some(), "{}", n.payload());
    assert_eq!(
        message,
        json!({
            "type": 3,
            "data": {
                "packet": {"type": 2, "data": ["ping", {"n": 1}], "nsp": "/"},
                "opts": {"rooms": ["room1"], "except": [], "flags": {}}
            },
            "uid": "emitter",
            "nsp": "/",
            "source": "_sio_adapter"
        })
    );
    assert!(listener.drain(QUIET).await.is_empty());
}

#[tokio::test]
async fn namespace_selects_the_channel_and_options_reach_the_wire() {
    let prefix = unique_prefix("nsp");
    let mut root = RawListener::new(&[&format!("{prefix}#/")]).await;
    let mut admin = RawListener::new(&[&format!("{prefix}#/admin")]).await;
    let db = emitter(&prefix).await;
    db.batch_execute(
        r#"SELECT sio_emit(ARRAY['a','b'], 'e', '[1,"x"]', nsp => '/admin',
                           except_rooms => ARRAY['c'], volatile => true, compress => false)"#,
    )
    .await
    .unwrap();

    let n = admin.next(WAIT).await.expect("a notification on /admin");
    let (message, _) = without_seq(n.payload());
    assert_eq!(
        message,
        json!({
            "type": 3,
            "data": {
                "packet": {"type": 2, "data": ["e", [1, "x"]], "nsp": "/admin"},
                "opts": {"rooms": ["a", "b"], "except": ["c"], "flags": {"volatile": true, "compress": false}}
            },
            "uid": "emitter",
            "nsp": "/admin",
            "source": "_sio_adapter"
        })
    );
    assert!(
        root.drain(QUIET).await.is_empty(),
        "nothing on the / channel"
    );
}

/// The settings are read at every emit (the extension keeps the last ones
/// it read and compares them with the GUCs): a change, session-wide or
/// transaction-local, applies to the very next emit of the same session.
#[tokio::test]
async fn a_setting_changed_in_a_session_applies_to_its_next_emit() {
    let first = unique_prefix("settings_a");
    let second = unique_prefix("settings_b");
    let mut listener = RawListener::new(&[&format!("{first}#/"), &format!("{second}#/")]).await;
    let db = emitter(&first).await;
    db.batch_execute(&format!(
        "SELECT sio_emit('r', 'one');
         SET pg_socketio.channel_prefix = '{second}';
         SELECT sio_emit('r', 'two');
         SET pg_socketio.cluster_source = off;
         SELECT sio_emit('r', 'three');
         SET pg_socketio.payload_threshold = 0;
         SELECT sio_emit('r', 'four');
         RESET pg_socketio.payload_threshold;
         RESET pg_socketio.cluster_source;
         BEGIN;
         SET LOCAL pg_socketio.channel_prefix = '{first}';
         SELECT sio_emit('r', 'five');
         COMMIT;
         SELECT sio_emit('r', 'six');"
    ))
    .await
    .unwrap();
    let got: Vec<(String, serde_json::Value)> = listener
        .drain(QUIET)
        .await
        .iter()
        .map(|n| (n.channel().to_owned(), without_seq(n.payload()).0))
        .collect();
    let inline = |event: &str, source: bool| {
        let mut message = json!({
            "type": 3,
            "data": {
                "packet": {"type": 2, "data": [event], "nsp": "/"},
                "opts": {"rooms": ["r"], "except": [], "flags": {}}
            },
            "uid": "emitter",
            "nsp": "/"
        });
        if source {
            message["source"] = json!("_sio_adapter");
        }
        message
    };
    let (first, second) = (format!("{first}#/"), format!("{second}#/"));
    assert_eq!(got.len(), 6, "{got:?}");
    assert_eq!(got[0], (first.clone(), inline("one", true)));
    assert_eq!(got[1], (second.clone(), inline("two", true)));
    assert_eq!(got[2], (second.clone(), inline("three", false)));
    assert_eq!(got[3].0, second);
    assert_eq!(got[3].1["type"], 3);
    assert!(got[3].1["attachmentId"].is_string(), "{:?}", got[3].1);
    assert_eq!(got[4], (first, inline("five", true)));
    assert_eq!(got[5], (second, inline("six", true)));
}

#[tokio::test]
async fn nothing_before_commit_and_nothing_after_rollback() {
    let prefix = unique_prefix("rollback");
    let mut listener = RawListener::new(&[&format!("{prefix}#/")]).await;
    let db = emitter(&prefix).await;
    db.batch_execute("BEGIN; SELECT sio_emit('r', 'before_commit')")
        .await
        .unwrap();
    assert!(
        listener.drain(QUIET).await.is_empty(),
        "delivered before COMMIT"
    );
    db.batch_execute("COMMIT").await.unwrap();
    let n = listener.next(WAIT).await.expect("delivered at COMMIT");
    assert_eq!(
        without_seq(n.payload()).0["data"]["packet"]["data"],
        json!(["before_commit"])
    );

    db.batch_execute("BEGIN; SELECT sio_emit('r', 'rolled_back'); ROLLBACK")
        .await
        .unwrap();
    assert!(
        listener.drain(QUIET).await.is_empty(),
        "delivered after ROLLBACK"
    );
}

#[tokio::test]
async fn identical_emits_in_one_transaction_each_arrive() {
    let prefix = unique_prefix("identical");
    let mut listener = RawListener::new(&[&format!("{prefix}#/")]).await;
    let db = emitter(&prefix).await;
    db.batch_execute(
        r#"BEGIN;
           SELECT sio_emit('r', 'same', '{"k":1}') FROM generate_series(1, 5);
           COMMIT"#,
    )
    .await
    .unwrap();
    let all = listener.drain(Duration::from_secs(1)).await;
    assert_eq!(all.len(), 5, "5 identical emits, 5 notifications");
    let mut seqs = Vec::new();
    for n in &all {
        let (message, seq) = without_seq(n.payload());
        assert_eq!(message["data"]["packet"]["data"], json!(["same", {"k": 1}]));
        seqs.push(seq.unwrap());
    }
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "in emit order: {seqs:?}"
    );
}

#[tokio::test]
async fn a_refused_emit_leaves_nothing_behind() {
    let prefix = unique_prefix("refused");
    let mut listener = RawListener::new(&[&format!("{prefix}#/")]).await;
    let db = emitter(&prefix).await;
    db.batch_execute("BEGIN; SELECT sio_emit('r', 'kept'); SAVEPOINT s")
        .await
        .unwrap();
    let err = db
        .batch_execute("SELECT sio_emit('r', 'fine'), sio_emit('r', 'connect')")
        .await
        .unwrap_err();
    assert_eq!(err.code().unwrap().code(), "22023");
    db.batch_execute("ROLLBACK TO SAVEPOINT s; SELECT sio_emit('r', 'after'); COMMIT")
        .await
        .unwrap();
    let events: Vec<_> = listener
        .drain(Duration::from_secs(1))
        .await
        .iter()
        .map(|n| without_seq(n.payload()).0["data"]["packet"]["data"][0].clone())
        .collect();
    assert_eq!(events, vec![json!("kept"), json!("after")]);
}

#[tokio::test]
async fn trigger_emits_are_delivered_at_commit() {
    let prefix = unique_prefix("trigger");
    let mut listener = RawListener::new(&[&format!("{prefix}#/")]).await;
    let db = emitter(&prefix).await;
    db.batch_execute(
        "CREATE TEMP TABLE msgs (room text, body text);
         CREATE FUNCTION pg_temp.on_msg() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM sio_emit(NEW.room, 'message', to_jsonb(NEW)); RETURN NEW; END $$;
         CREATE TRIGGER t AFTER INSERT ON msgs FOR EACH ROW EXECUTE FUNCTION pg_temp.on_msg();
         INSERT INTO msgs VALUES ('r1', 'hello'), ('r2', 'world');",
    )
    .await
    .unwrap();
    let got: Vec<_> = listener
        .drain(Duration::from_secs(1))
        .await
        .iter()
        .map(|n| {
            let (m, _) = without_seq(n.payload());
            (
                m["data"]["opts"]["rooms"].clone(),
                m["data"]["packet"]["data"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                json!(["r1"]),
                json!(["message", {"room": "r1", "body": "hello"}])
            ),
            (
                json!(["r2"]),
                json!(["message", {"room": "r2", "body": "world"}])
            ),
        ]
    );
}
