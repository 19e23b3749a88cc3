//! A major version upgrade with `pg_upgrade`, as users move a database
//! that uses pg_socketio to a newer PostgreSQL: from the installation
//! `PG_UPGRADE_FROM` names (a `bin` directory; `scripts/test.sh` sets 16's)
//! to the major under test. The extension keeps its version, objects and
//! privileges, the attachment table its rows, and afterwards triggers,
//! definer wrappers and granted roles emit as before.

use std::path::Path;
use std::time::Duration;

use pg_socketio_client::Listener;
use pg_socketio_kit::{
    attachment_rows, event_and_argument, extension_catalog, extension_version, moved_events,
    next_message, pg_config, server_version, PrivateCluster, MOVED_CHANGES, MOVED_DATABASE,
};
use serde_json::json;
use tokio_postgres::Client;

const WAIT: Duration = Duration::from_secs(10);

/// The major of the installation in `bindir` ("PostgreSQL 16.14" → 16).
fn major(bindir: &str) -> u32 {
    let version = pg_config(Some(bindir), "--version");
    version
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').next()?.parse().ok())
        .unwrap_or_else(|| panic!("{bindir}/pg_config --version: {version}"))
}

/// The older installation and the one under test, when the second is a
/// newer major with pg_upgrade and the first has pg_socketio installed; or
/// why not.
fn installations() -> Result<(String, String), String> {
    let from = std::env::var("PG_UPGRADE_FROM").map_err(|_| "PG_UPGRADE_FROM is not set")?;
    let to = PrivateCluster::local_bindir();
    let installed =
        Path::new(&pg_config(Some(&from), "--sharedir")).join("extension/pg_socketio.control");
    let (older, newer) = (major(&from), major(&to));
    if newer <= older {
        Err(format!(
            "the server under test ({newer}) is not newer than {older}"
        ))
    } else if !Path::new(&to).join("pg_upgrade").exists() {
        Err("the server under test has no pg_upgrade".into())
    } else if !installed.exists() {
        Err(format!("pg_socketio is not installed in {from}"))
    } else {
        Ok((from, to))
    }
}

async fn server_major(db: &Client) -> i32 {
    server_version(db).await / 10000
}

#[tokio::test]
async fn a_database_moved_by_pg_upgrade_emits_as_before() {
    let (from, to) = match installations() {
        Ok(both) => both,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let old = PrivateCluster::start_in(&from, &[]);
    let db = old.connect().await;
    db.batch_execute(&format!(
        "{MOVED_DATABASE} CREATE ROLE app NOLOGIN; GRANT socketio_emitter TO app;"
    ))
    .await
    .unwrap();
    let (old_major, version) = (server_major(&db).await, extension_version(&db).await);
    let catalog = extension_catalog(&db).await;
    assert!(
        catalog.contains(
            "column payload bytea storage=e compression= grants=socketio_emitter:INSERT/postgres"
        ),
        "{catalog}"
    );
    assert_eq!(attachment_rows(&db).await, 1, "the 9,000-character row");
    drop(db);

    let new = old.upgrade(&to);
    let db = new.connect().await;
    let new_major = server_major(&db).await;
    assert!(
        new_major > old_major,
        "a newer major: {old_major} → {new_major}"
    );
    assert_eq!(extension_version(&db).await, version);
    assert_eq!(extension_catalog(&db).await, catalog);
    assert_eq!(attachment_rows(&db).await, 1, "the table's rows came along");

    let mut listener = Listener::builder(new.url()).connect().await.unwrap();
    db.batch_execute(&format!(
        "{MOVED_CHANGES}
         SET ROLE app;
         SELECT sio_emit('r', 'granted', '1');
         RESET ROLE;
         INSERT INTO msgs VALUES (3, 3, repeat('y', 9000), 's');"
    ))
    .await
    .unwrap();
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(event_and_argument(
            &next_message(&mut listener, WAIT).await.1.body,
        ));
    }
    let mut expected = moved_events();
    expected.push(("granted".into(), json!(1)));
    // Through the attachment table, on the new server.
    expected.push((
        "message".into(),
        json!({"op": "INSERT", "schema": "public", "table": "msgs",
               "new": {"id": 3, "conv": 3, "body": "y".repeat(9000)}, "old": null}),
    ));
    assert_eq!(got, expected);
}
