//! A hot standby (a read replica): every emit there is refused as the write
//! it is (25006, naming the function), inline or large alike; and a Rust
//! listener pointed at one gets PostgreSQL's refusal of LISTEN from
//! `connect()` rather than a retry loop (NOTIFY is not replicated: servers
//! listen on the primary).

use std::time::Duration;

use pg_socketio_client::Listener;
use pg_socketio_kit::{refused, wait_for, PrivateCluster};

#[tokio::test]
async fn a_standby_refuses_emits_and_listeners_with_clear_errors() {
    let primary = PrivateCluster::start(&[]);
    let db = primary.connect().await;
    db.batch_execute("CREATE EXTENSION pg_socketio")
        .await
        .unwrap();
    let Some(standby) = primary.standby() else {
        eprintln!("skipped: this PostgreSQL installation has no pg_basebackup");
        return;
    };
    let replica = standby.connect().await;
    let in_recovery: bool = replica
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(in_recovery);
    // The base backup already holds the extension; replay is not waited for.
    wait_for(
        &replica,
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_socketio')",
        Duration::from_secs(10),
    )
    .await;
    for (sql, function) in [
        ("SELECT sio_emit('r', 'e')", "sio_emit"),
        (
            "SELECT sio_emit('r', 'big', to_jsonb(repeat('x', 9000)))",
            "sio_emit",
        ),
        (
            "SELECT sio_emit_args(ARRAY['r'], 'e', '[1]')",
            "sio_emit_args",
        ),
        ("SELECT sio_server_side_emit('e')", "sio_server_side_emit"),
        (
            "SELECT sio_sockets_join(ARRAY['a'], ARRAY['b'])",
            "sio_sockets_join",
        ),
    ] {
        let error = refused(&replica, sql).await;
        assert_eq!(error.code().code(), "25006", "{sql}");
        assert_eq!(
            error.message(),
            format!("cannot execute {function} in a read-only transaction"),
            "{sql}"
        );
    }
    let listening = Listener::builder(standby.url()).connect().await.err();
    let said = listening.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        said.contains("cannot execute LISTEN during recovery"),
        "{said:?}"
    );
}
