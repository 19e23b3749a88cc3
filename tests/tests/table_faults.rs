//! Emits when the attachment table cannot take the row: locked by another
//! transaction, missing, or on a full disk. Each gives a clear error and
//! leaves nothing behind; inline emits are not affected.

use std::process::Command;
use std::time::{Duration, Instant};

use pg_socketio_kit::{
    connect, incompressible_bytes, refused, unique_prefix, PrivateCluster, RawListener, BINARY_EMIT,
};

const QUIET: Duration = Duration::from_millis(500);

#[tokio::test]
async fn a_locked_table_fails_the_emit_after_lock_timeout() {
    let prefix = unique_prefix("tf_locked");
    let table = format!("{prefix}_att");
    let mut listener = RawListener::new(&[&format!("{prefix}#/")]).await;
    let holder = connect().await;
    for sql in [
        format!(
            "CREATE TABLE {table} (id bigserial UNIQUE, created_at timestamptz, payload bytea)"
        ),
        format!("BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"),
    ] {
        holder.batch_execute(&sql).await.unwrap();
    }
    let db = connect().await;
    db.batch_execute(&format!(
        "SET pg_socketio.channel_prefix = '{prefix}';
         SET pg_socketio.attachment_table = '{table}';
         SET pg_socketio.lock_timeout = '300ms';"
    ))
    .await
    .unwrap();

    let started = Instant::now();
    let err = refused(&db, BINARY_EMIT).await;
    let waited = started.elapsed();
    assert_eq!(err.code().code(), "55P03");
    assert_eq!(
        err.message(),
        format!("attachment table public.{table} is locked: waited 300 ms for it")
    );
    assert!(err.hint().unwrap().contains("pg_locks"), "{err:?}");
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // Inline messages need no table.
    db.batch_execute("SELECT sio_emit(ARRAY[]::text[], 'inline', '1')")
        .await
        .unwrap();
    let got = listener.drain(QUIET).await;
    assert_eq!(got.len(), 1, "only the inline message: {got:?}");
    assert!(got[0].payload().contains(r#""inline""#));

    // Once the lock is gone, the same emit goes through.
    holder.batch_execute("COMMIT").await.unwrap();
    db.batch_execute(BINARY_EMIT).await.unwrap();
    assert_eq!(listener.drain(QUIET).await.len(), 1);
    let rows: i64 = db
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 1, "the failed emit left no row");
    holder
        .batch_execute(&format!("DROP TABLE {table}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_missing_table_fails_the_emit_and_sends_nothing() {
    let prefix = unique_prefix("tf_missing");
    let mut listener = RawListener::new(&[&format!("{prefix}#/")]).await;
    let db = connect().await;
    db.batch_execute(&format!(
        "SET pg_socketio.channel_prefix = '{prefix}';
         SET pg_socketio.attachment_table = 'no_such_table';"
    ))
    .await
    .unwrap();
    let err = refused(
        &db,
        &format!("BEGIN; SELECT sio_emit(ARRAY[]::text[], 'a', '1'); {BINARY_EMIT}"),
    )
    .await;
    db.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(err.code().code(), "42P01");
    assert_eq!(
        err.message(),
        "attachment table \"no_such_table\" does not exist"
    );
    assert!(err.hint().unwrap().contains("pg_socketio.attachment_table"));
    assert!(
        listener.drain(QUIET).await.is_empty(),
        "the transaction sent nothing"
    );
}

/// A 1 MB tmpfs, owned by postgres; unmounted on drop.
struct TinyDisk(std::path::PathBuf);

impl TinyDisk {
    fn mount() -> TinyDisk {
        let dir = std::env::temp_dir().join(format!("pg_socketio_tiny_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let id = |flag: &str| {
            let out = Command::new("id")
                .args([flag, "postgres"])
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        };
        let options = format!("size=1m,mode=0700,uid={},gid={}", id("-u"), id("-g"));
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &options, "tmpfs"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "mount a tmpfs (this test needs root)");
        TinyDisk(dir)
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[tokio::test]
async fn a_full_disk_fails_the_emit_with_what_it_was_storing() {
    let disk = TinyDisk::mount();
    let cluster = PrivateCluster::start(&[]);
    let db = cluster.connect().await;
    // CREATE TABLESPACE may not share an implicit transaction.
    db.batch_execute(&format!(
        "CREATE TABLESPACE tiny LOCATION '{}'",
        disk.0.display()
    ))
    .await
    .unwrap();
    db.batch_execute(
        "CREATE EXTENSION pg_socketio;
         CREATE TABLE full_att (id bigserial UNIQUE, created_at timestamptz, payload bytea)
             TABLESPACE tiny;
         -- Uncompressed, as the extension's own table.
         ALTER TABLE full_att ALTER payload SET STORAGE EXTERNAL;
         SET pg_socketio.attachment_table = 'full_att';
         SET pg_socketio.channel_prefix = 'full';",
    )
    .await
    .unwrap();

    // 2 MB of MD5 digests, which lz4 cannot make smaller: they fill the disk.
    let err = refused(
        &db,
        &format!(
            r#"SELECT sio_emit_args(ARRAY[]::text[], 'e', '[{{"_placeholder":true,"num":0}}]',
                                    ARRAY[{}])"#,
            incompressible_bytes(125_000)
        ),
    )
    .await;
    assert_eq!(err.code().code(), "53100", "{err:?}");
    assert!(
        err.message().starts_with("could not extend file")
            && err.message().ends_with("No space left on device"),
        "{err:?}"
    );
    assert_eq!(err.hint(), Some("Check free disk space."));
    assert!(
        err.detail()
            == Some("pg_socketio was storing a message of 2000112 bytes in the attachment table public.full_att."),
        "{err:?}"
    );
    // Nothing stored; inline messages, which need no disk, still go out. (The
    // aborted row's pages stay allocated, so the disk stays full.)
    let rows: i64 = db
        .query_one("SELECT count(*) FROM full_att", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
    db.batch_execute("SELECT sio_emit(ARRAY[]::text[], 'inline', '1')")
        .await
        .unwrap();
    drop(db);
    drop(cluster);
}
