//! ALTER EXTENSION pg_socketio UPDATE from every released version (its
//! frozen install script in sql/released/) to the current one gives exactly
//! what a fresh CREATE EXTENSION gives, and emits keep working.

use std::path::{Path, PathBuf};

use pg_socketio_kit::{
    attachment_rows, extension_catalog, extension_version, pg_config, scratch_database, BINARY_EMIT,
};

const RELEASED: &[&str] = &["0.1.0", "0.2.0"];
const CURRENT: &str = env!("CARGO_PKG_VERSION");

/// PostgreSQL's extension directory, where the released script is put next
/// to the current one (as an installation that has lived through it has).
fn extension_dir() -> PathBuf {
    Path::new(&pg_config(None, "--sharedir")).join("extension")
}

#[tokio::test]
async fn every_released_version_updates_to_what_a_fresh_install_is() {
    let fresh = scratch_database("pg_socketio_it_fresh").await;
    fresh
        .batch_execute("CREATE EXTENSION pg_socketio")
        .await
        .unwrap();
    assert_eq!(extension_version(&fresh).await, CURRENT);
    let expected = extension_catalog(&fresh).await;

    let sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql/released");
    for old in RELEASED {
        let script = format!("pg_socketio--{old}.sql");
        std::fs::copy(sql.join(&script), extension_dir().join(&script))
            .unwrap_or_else(|e| panic!("copying {script} to {:?}: {e}", extension_dir()));
        let db = scratch_database(&format!("pg_socketio_it_from_{}", old.replace('.', "_"))).await;
        db.batch_execute(&format!(
            "CREATE EXTENSION pg_socketio VERSION '{old}';
             INSERT INTO socket_io_attachments (payload) VALUES ('kept');
             CREATE TABLE changes (id int, body text);
             CREATE TRIGGER emit AFTER INSERT ON changes
               FOR EACH ROW EXECUTE FUNCTION sio_trigger('r:{{id}}');"
        ))
        .await
        .unwrap();
        assert_eq!(extension_version(&db).await, *old);
        assert_ne!(
            extension_catalog(&db).await,
            expected,
            "{old} differs from {CURRENT}"
        );

        db.batch_execute("ALTER EXTENSION pg_socketio UPDATE")
            .await
            .unwrap();
        assert_eq!(extension_version(&db).await, CURRENT);
        assert_eq!(extension_catalog(&db).await, expected, "updated from {old}");
        // Rows survive, and emits work on the updated extension, from SQL
        // and from a trigger created under {old} (a large row: an
        // attachment).
        db.batch_execute(BINARY_EMIT).await.unwrap();
        db.batch_execute("INSERT INTO changes VALUES (1, repeat('x', 9000))")
            .await
            .unwrap();
        assert_eq!(
            attachment_rows(&db).await,
            3,
            "the row from {old}, the emit's and the trigger's"
        );
    }
}
