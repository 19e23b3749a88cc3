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
    attachment_rows, event_and_argument, extension_privileges, moved_events, next_message,
    PrivateCluster, MOVED_CHANGES, MOVED_DATABASE,
};
use serde_json::json;
use tokio_postgres::Client;

const WAIT: Duration = Duration::from_secs(10);

/// The major of the installation in `bindir`, from its `pg_config`.
fn major(bindir: &str) -> Result<u32, String> {
    let out = std::process::Command::new(Path::new(bindir).join("pg_config"))
        .arg("--version")
        .output()
        .map_err(|e| format!("{bindir}/pg_config: {e}"))?;
    // "PostgreSQL 16.14"
    let version = String::from_utf8_lossy(&out.stdout);
    version
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').next()?.parse().ok())
        .ok_or_else(|| format!("{bindir}/pg_config --version: {version}"))
}

/// The older installation and the one under test, when the second is a
/// newer major with pg_upgrade and the first has pg_socketio installed; or
/// why not.
fn installations() -> Result<(String, String), String> {
    let from = std::env::var("PG_UPGRADE_FROM").map_err(|_| "PG_UPGRADE_FROM is not set")?;
    let to = PrivateCluster::local_bindir();
    let sharedir = std::process::Command::new(Path::new(&from).join("pg_config"))
        .arg("--sharedir")
        .output()
        .map_err(|e| format!("{from}/pg_config: {e}"))?;
    let installed = Path::new(String::from_utf8_lossy(&sharedir.stdout).trim())
        .join("extension/pg_socketio.control");
    let (older, newer) = (major(&from)?, major(&to)?);
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

async fn version(db: &Client) -> (i32, String) {
    let row = db
        .query_one(
            "SELECT current_setting('server_version_num')::int,
                    (SELECT extversion FROM pg_extension WHERE extname = 'pg_socketio')",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
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
    let (old_version, extension) = version(&db).await;
    let privileges = extension_privileges(&db).await;
    assert!(
        privileges.contains(&"column payload socketio_emitter INSERT".into()),
        "{privileges:?}"
    );
    assert_eq!(attachment_rows(&db).await, 1, "the 9,000-character row");
    drop(db);

    let new = old.upgrade(&to);
    let db = new.connect().await;
    let (new_version, upgraded_extension) = version(&db).await;
    assert!(
        new_version / 10000 > old_version / 10000,
        "a newer major: {old_version} → {new_version}"
    );
    assert_eq!(upgraded_extension, extension);
    assert_eq!(extension_privileges(&db).await, privileges);
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
