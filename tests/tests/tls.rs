//! TLS: every connection of the Rust client goes through the connector an
//! application gives (postgres-native-tls here), against a private cluster
//! that refuses TCP without TLS — the `Listener`'s LISTEN and attachment
//! connections, the `DurableListener`'s replication stream and SQL
//! connection, a `Peer`'s; without a connector, a clear error.

use std::time::Duration;

use native_tls::{Certificate, TlsConnector};
use pg_socketio_client::{DurableError, DurableEvent, DurableListener, Listener, Peer};
use pg_socketio_kit::{event_and_argument, next_message, PrivateCluster};
use postgres_native_tls::MakeTlsConnector;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(15);

/// A private cluster that refuses TCP without TLS; `None`, said on
/// stderr, where the server was built without SSL support.
async fn cluster() -> Option<PrivateCluster> {
    let cluster = PrivateCluster::start(&[
        "wal_level=logical",
        "max_wal_senders=10",
        "max_replication_slots=10",
    ]);
    if cluster.require_tls().await {
        return Some(cluster);
    }
    eprintln!("skipped: this PostgreSQL server was built without SSL support");
    None
}

/// A connector that trusts the cluster's certificate, and checks it
/// names 127.0.0.1.
fn connector(cluster: &PrivateCluster) -> MakeTlsConnector {
    let certificate = Certificate::from_pem(&cluster.certificate()).unwrap();
    MakeTlsConnector::new(
        TlsConnector::builder()
            .add_root_certificate(certificate)
            .build()
            .unwrap(),
    )
}

#[tokio::test]
async fn the_listeners_receive_over_tls_only() {
    let Some(cluster) = cluster().await else {
        return;
    };
    let tls = connector(&cluster);
    let url = format!("{}?sslmode=require", cluster.url());
    let (db, connection) = tokio_postgres::connect(&url, tls.clone()).await.unwrap();
    tokio::spawn(connection);
    db.batch_execute("CREATE EXTENSION pg_socketio")
        .await
        .unwrap();

    let mut listener = Listener::builder(&url)
        .connect_with(tls.clone())
        .await
        .unwrap();
    // The durable listener as a role with a password: SCRAM inside TLS.
    db.batch_execute(
        "CREATE ROLE durable LOGIN REPLICATION PASSWORD 'secret';
         GRANT CREATE ON DATABASE postgres TO durable;",
    )
    .await
    .unwrap();
    let durable_url = format!(
        "postgres://durable:secret@127.0.0.1:{}/postgres?sslmode=require",
        cluster.port
    );
    let mut durable = DurableListener::builder(&durable_url, "tls")
        .create_slot(true)
        .connect_with(tls.clone())
        .await
        .unwrap();
    // 'big' goes through the attachment table: the listener's second
    // connection reads it.
    db.batch_execute(
        "SET pg_socketio.delivery = 'both';
         SELECT sio_emit('r', 'small', '1');
         SELECT sio_emit('r', 'big', to_jsonb(repeat('b', 9000)));",
    )
    .await
    .unwrap();
    let expected = [
        ("small".to_owned(), json!(1)),
        ("big".to_owned(), json!("b".repeat(9000))),
    ];
    for want in &expected {
        let (_, message) = next_message(&mut listener, WAIT).await;
        assert_eq!(&event_and_argument(&message.body), want);
        let event = tokio::time::timeout(WAIT, durable.recv())
            .await
            .unwrap()
            .unwrap();
        let DurableEvent::Message { message, .. } = &event else {
            panic!("{event:?}")
        };
        assert_eq!(&event_and_argument(&message.body), want);
        durable.confirm(event.offset());
    }

    // Peers too: a request answered over TLS on both sides.
    let peer = |announce: bool| {
        Peer::builder(&url)
            .discovery(Duration::from_millis(300))
            .announce(announce)
            .on_server_side_emit(|event, _| (event == "ask").then(|| json!("yes")))
            .connect_with(tls.clone())
    };
    let member = peer(true).await.unwrap();
    let asker = peer(false).await.unwrap();
    let answered = asker
        .server_side_emit_with_ack("ask", &json!([]), WAIT)
        .await
        .unwrap();
    assert!(answered.complete());
    assert_eq!(answered.answers[0].server, member.uid());
    assert_eq!(answered.answers[0].value, rmpv::Value::from("yes"));
    drop((member, asker));

    // Every TCP session is encrypted: this one, LISTEN, attachments, the
    // durable listener's SQL connection and its walsender.
    let row = db
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE s.ssl),
                    count(*) FILTER (WHERE a.backend_type = 'walsender')
               FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
              WHERE a.client_addr IS NOT NULL",
            &[],
        )
        .await
        .unwrap();
    let (all, encrypted, walsenders): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    // (The peers' connections may still be closing.)
    assert!(
        all == encrypted && all >= 5,
        "{encrypted} of {all} encrypted"
    );
    assert_eq!(walsenders, 1);
    durable.close().await.unwrap();
}

#[tokio::test]
async fn without_a_connector_a_tls_only_server_is_a_clear_error() {
    let Some(cluster) = cluster().await else {
        return;
    };
    // Asked for TLS, given no connector: refused before connecting.
    let required = DurableListener::builder(format!("{}?sslmode=require", cluster.url()), "x")
        .connect()
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(&required, DurableError::Unsupported(what) if what.contains("connect_with")),
        "{required}"
    );
    // Not asked: the server says why it refuses.
    let plain = DurableListener::builder(cluster.url(), "x")
        .connect()
        .await
        .err()
        .expect("refused");
    assert!(plain.to_string().contains("no encryption"), "{plain}");
    let listener = Listener::builder(cluster.url()).connect().await.err();
    assert!(
        listener
            .as_ref()
            .is_some_and(|e| e.to_string().contains("no encryption")),
        "{listener:?}"
    );
}

#[tokio::test]
async fn required_channel_binding_is_refused_not_ignored() {
    // Refused before any connection is tried: nothing listens on port 1.
    let url = "postgres://durable:secret@127.0.0.1:1/postgres?channel_binding=require";
    let tls = MakeTlsConnector::new(TlsConnector::new().unwrap());
    for refused in [
        DurableListener::builder(url, "x")
            .connect_with(tls)
            .await
            .err(),
        DurableListener::builder(url, "x").connect().await.err(),
    ] {
        let refused = refused.expect("refused");
        assert!(
            matches!(&refused, DurableError::Unsupported(what) if what.contains("channel_binding=require")),
            "{refused}"
        );
    }
}
