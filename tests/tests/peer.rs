//! The Rust `Peer` against the real PostgreSQL, with Rust peers on both
//! sides: what an announcing peer answers, what ends a request, and that
//! nothing is left behind — no pending request after a cancelled one, no
//! connection after a drop. Against real Node.js servers:
//! `tests/interop/peer.test.mjs`.

use std::time::{Duration, Instant};

use pg_socketio_client::{Peer, PeerBuilder};
use pg_socketio_kit::{connect, database_url, unique_prefix};
use serde_json::json;

/// A peer whose connections carry `application_name`, so that a test can
/// count them.
fn builder(prefix: &str, application_name: &str) -> PeerBuilder {
    let url = format!("{}?application_name={application_name}", database_url());
    Peer::builder(url)
        .channel_prefix(prefix)
        .discovery(Duration::from_millis(300))
}

async fn connections(application_name: &str) -> i64 {
    let db = connect().await;
    db.query_one(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE $1 || '%'",
        &[&application_name],
    )
    .await
    .unwrap()
    .get(0)
}

/// Until `f` holds, for at most 10 s.
async fn eventually<F: std::future::Future<Output = bool>>(mut f: impl FnMut() -> F) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn a_member_answers_and_is_forgotten_when_it_closes() {
    let prefix = unique_prefix("peer_member");
    let member = builder(&prefix, "peer_member_a")
        .announce(true)
        .on_server_side_emit(|event, args| {
            (event == "ask").then(|| json!({"got": rmpv::ext::from_value::<serde_json::Value>(args[0].clone()).unwrap()}))
        })
        .connect()
        .await
        .unwrap();
    let asker = builder(&prefix, "peer_member_b").connect().await.unwrap();
    assert_eq!(asker.uid(), "emitter");
    let known: Vec<String> = asker.servers().into_iter().map(|s| s.uid).collect();
    assert_eq!(known, vec![member.uid().to_owned()]);
    // The member heard nobody: the asker sends as "emitter", never counted.
    assert!(member.servers().is_empty());

    let found = asker.all().fetch_sockets().await.unwrap();
    assert!(found.complete());
    assert_eq!(found.answers.len(), 1);
    assert_eq!(found.answers[0].server, member.uid());
    assert!(found.answers[0].value.is_empty());

    let answered = asker
        .server_side_emit_with_ack("ask", &json!([{"n": 1}]), Duration::from_secs(5))
        .await
        .unwrap();
    assert!(answered.complete());
    assert_eq!(
        answered.answers[0].value,
        rmpv::ext::to_value(json!({"got": {"n": 1}})).unwrap()
    );

    let acks = asker.to("r").emit_with_ack("hi", &json!([])).await.unwrap();
    assert!(acks.complete());
    assert_eq!(acks.client_counts[0].value, 0);
    assert!(acks.acks.is_empty());

    // Not answered by the member's handler: missing once the timeout ends it.
    let started = Instant::now();
    let unanswered = asker
        .server_side_emit_with_ack("other", &json!([]), Duration::from_millis(500))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(unanswered.missing, vec![member.uid().to_owned()]);
    assert!(unanswered.answers.is_empty());

    // ADAPTER_CLOSE: the asker forgets the member at once.
    let uid = member.uid().to_owned();
    let no_args = json!([]);
    let pending = asker.server_side_emit_with_ack("other", &no_args, Duration::from_secs(20));
    let (result, ()) = tokio::join!(pending, async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        member.close().await.unwrap();
    });
    let result = result.unwrap();
    assert_eq!(result.left, vec![uid]);
    assert!(result.missing.is_empty());
    assert!(asker.servers().is_empty());
    assert_eq!(asker.pending_requests(), 0);
}

#[tokio::test]
async fn a_cancelled_request_and_a_dropped_peer_leave_nothing() {
    let prefix = unique_prefix("peer_leaks");
    let member = builder(&prefix, "peer_leak_member")
        .announce(true)
        .connect()
        .await
        .unwrap();
    let asker = builder(&prefix, "peer_leak_asker").connect().await.unwrap();
    assert_eq!(asker.servers().len(), 1);
    // Listen + attachments + send.
    assert_eq!(connections("peer_leak_asker").await, 3);

    // A request whose future is dropped is forgotten.
    let no_args = json!([]);
    let request = asker.server_side_emit_with_ack("never", &no_args, Duration::from_secs(30));
    assert!(tokio::time::timeout(Duration::from_millis(300), request)
        .await
        .is_err());
    assert_eq!(asker.pending_requests(), 0);

    drop(asker);
    assert!(
        eventually(|| async { connections("peer_leak_asker").await == 0 }).await,
        "the asker's connections are still open"
    );
    // A dropped member says goodbye too.
    let watcher = builder(&prefix, "peer_leak_watcher")
        .connect()
        .await
        .unwrap();
    assert_eq!(watcher.servers().len(), 1);
    drop(member);
    assert!(eventually(|| async { watcher.servers().is_empty() }).await);
    assert!(eventually(|| async { connections("peer_leak_member").await == 0 }).await);
}

#[tokio::test]
async fn a_server_gone_silent_is_forgotten_after_the_heartbeat_timeout() {
    let prefix = unique_prefix("peer_silent");
    let member = builder(&prefix, "peer_silent_member")
        .announce(true)
        .heartbeat(Duration::from_millis(500), Duration::from_secs(2))
        .connect()
        .await
        .unwrap();
    let asker = builder(&prefix, "peer_silent_asker")
        .heartbeat(Duration::from_millis(500), Duration::from_secs(2))
        .connect()
        .await
        .unwrap();
    assert_eq!(asker.servers().len(), 1);
    // Heartbeats keep it known past the timeout.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(asker.servers().len(), 1);
    // A member that stops without ADAPTER_CLOSE (its runtime gone) is
    // forgotten after the timeout, and a waiting request names it as left.
    let no_args = json!([]);
    let pending = asker.server_side_emit_with_ack("never", &no_args, Duration::from_secs(20));
    let started = Instant::now();
    let silent = std::thread::spawn(move || {
        // Dropped outside a runtime: no goodbye is sent.
        std::thread::sleep(Duration::from_millis(200));
        drop(member);
    });
    let result = pending.await.unwrap();
    silent.join().unwrap();
    assert_eq!(result.left.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(asker.servers().is_empty());
}
