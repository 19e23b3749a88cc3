//! A listener that stops reading, on a private cluster (the NOTIFY queue is
//! shared by the whole cluster): what emitters see as the queue fills, the
//! warning pg_socketio gives, and that nothing is lost once it reads again.

use std::time::Duration;

use futures_util::{stream, StreamExt};
use pg_socketio_client::protocol::Body;
use pg_socketio_client::{Event, Listener};
use pg_socketio_tests::PrivateCluster;
use tokio::sync::mpsc;
use tokio_postgres::error::DbError;
use tokio_postgres::{AsyncMessage, Client, NoTls};

/// A connection whose notices (warnings) are passed on.
async fn connect_with_notices(url: &str) -> (Client, mpsc::UnboundedReceiver<DbError>) {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notice(notice) = message {
                let _ = tx.send(notice);
            }
        }
    });
    (client, rx)
}

async fn usage(db: &Client) -> f64 {
    db.query_one("SELECT pg_notification_queue_usage()", &[])
        .await
        .unwrap()
        .get(0)
}

/// An inline message of about 7 kB numbered `n`.
async fn emit(db: &Client, n: i64) {
    db.execute(
        "SELECT sio_emit(NULL::text, 'n', jsonb_build_array($1::int8, repeat('x', 6900)))",
        &[&n],
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_stopped_listener_fills_the_queue_emitters_are_warned_nothing_is_lost() {
    let cluster = PrivateCluster::start(&[]);
    let (db, mut notices) = connect_with_notices(&cluster.url()).await;
    db.batch_execute(
        "CREATE EXTENSION pg_socketio;
         SET pg_socketio.channel_prefix = 'q';
         SET pg_socketio.queue_warning = 0.001;",
    )
    .await
    .unwrap();
    // Connected, then not read from: its backend blocks once the socket
    // buffers are full, and the queue cannot be freed past it.
    let mut listener = Listener::builder(cluster.url())
        .channel_prefix("q")
        .connect()
        .await
        .unwrap();

    assert_eq!(usage(&db).await, 0.0);
    let mut sent = 0;
    let warning = loop {
        assert!(sent < 20_000, "no warning after {sent} messages of 7 kB");
        emit(&db, sent).await;
        sent += 1;
        if sent % 500 == 0 {
            eprintln!(
                "{sent} messages of 7 kB sent: usage {:.6}",
                usage(&db).await
            );
        }
        if let Ok(notice) = notices.try_recv() {
            break notice;
        }
    };
    let at_warning = usage(&db).await;
    eprintln!(
        "warned after {sent} messages, usage {at_warning:.6}: {}",
        warning.message()
    );
    assert!(at_warning >= 0.001, "{at_warning}");
    assert_eq!(warning.severity(), "WARNING");
    assert_eq!(warning.code().code(), "01000");
    assert!(
        warning
            .message()
            .starts_with("the NOTIFY queue is 0.1% full")
            && warning
                .message()
                .ends_with("(pg_socketio.queue_warning is 0.1%)"),
        "{}",
        warning.message()
    );
    assert!(warning.hint().unwrap().contains("pg_terminate_backend"));

    // Once per 10 s per session, not once per emit.
    for _ in 0..100 {
        emit(&db, sent).await;
        sent += 1;
    }
    assert!(notices.try_recv().is_err(), "a second warning within 10 s");

    // Reading again: every message arrives, in order.
    for n in 0..sent {
        let event = tokio::time::timeout(Duration::from_secs(10), listener.recv())
            .await
            .expect("a message within 10 s");
        match event {
            Some(Event::Message { message, .. }) => match message.body {
                Body::Broadcast { args, .. } => assert_eq!(args[0][0].as_i64(), Some(n)),
                other => panic!("not a broadcast: {other:?}"),
            },
            other => panic!("message {n}: {other:?}"),
        }
    }
    // PostgreSQL frees the queue at the next commits that notify.
    for _ in 0..20 {
        emit(&db, sent).await;
        sent += 1;
    }
    let after = usage(&db).await;
    eprintln!("after the listener caught up: usage {after:.6}");
    assert!(after < 0.0001, "{after}");
}
