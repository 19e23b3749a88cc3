//! A listener that stops reading, on a private cluster (the NOTIFY queue is
//! shared by the whole cluster): what emitters see as the queue fills, the
//! warning pg_socketio gives, and that nothing is lost once it reads again.

use std::time::{Duration, Instant};

use pg_socketio_client::Listener;
use pg_socketio_kit::{broadcast_number, next_message, open, PrivateCluster};
use tokio::sync::mpsc;
use tokio_postgres::error::DbError;
use tokio_postgres::{AsyncMessage, Client};

/// The next notice (a warning) the server sent, if any.
fn notice(messages: &mut mpsc::UnboundedReceiver<AsyncMessage>) -> Option<DbError> {
    while let Ok(message) = messages.try_recv() {
        if let AsyncMessage::Notice(notice) = message {
            return Some(notice);
        }
    }
    None
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
        "SELECT sio_emit(ARRAY[]::text[], 'n', jsonb_build_array($1::int8, repeat('x', 6900)))",
        &[&n],
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_stopped_listener_fills_the_queue_emitters_are_warned_nothing_is_lost() {
    let cluster = PrivateCluster::start(&[]);
    let (db, mut messages) = open(&cluster.url()).await;
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
        if let Some(notice) = notice(&mut messages) {
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
    // The usage the emit saw, to one decimal: at least the threshold, and at
    // most what it is now. The emits look at the queue once per 100 ms, and
    // a fast machine sends hundreds of messages in between.
    let said = warning.message();
    let reported: f64 = said
        .strip_prefix("the NOTIFY queue is ")
        .and_then(|rest| rest.split_once("% full")?.0.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    assert!(
        (0.1..=(at_warning * 1000.0).round() / 10.0 + 1e-9).contains(&reported),
        "{said} (usage now {at_warning})"
    );
    assert!(
        said.ends_with("(pg_socketio.queue_warning is 0.1%)"),
        "{said}"
    );
    assert!(warning.hint().unwrap().contains("pg_terminate_backend"));

    // Once per 10 s per session, not once per emit: half a second of emits
    // looks at the (still filling) queue several times, 100 ms apart.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(500) {
        emit(&db, sent).await;
        sent += 1;
    }
    assert!(usage(&db).await >= 0.001);
    assert!(
        notice(&mut messages).is_none(),
        "a second warning within 10 s"
    );

    // Reading again: every message arrives, in order.
    for n in 0..sent {
        let (_, message) = next_message(&mut listener, Duration::from_secs(10)).await;
        assert_eq!(broadcast_number(&message), n);
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
