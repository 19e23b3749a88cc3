//! pg_dump and pg_restore of a database that uses pg_socketio, as backups
//! and moves between servers do: the extension's objects and privileges
//! come back as CREATE EXTENSION makes them, triggers and definer wrappers
//! as they were; attachment rows (notifications long gone) are not dumped;
//! nothing is emitted while the rows are restored (PostgreSQL creates
//! triggers after the data); the restored triggers and wrappers emit.

use std::time::Duration;

use pg_socketio_client::Listener;
use pg_socketio_kit::{
    drop_scratch_database, event_and_argument, next_message, scratch_database, scratch_url,
};
use serde_json::json;
use tokio_postgres::Client;

const WAIT: Duration = Duration::from_secs(10);
const SOURCE: &str = "it_dump_source";
const TARGET: &str = "it_dump_target";

/// pg_dump and pg_restore of the server under test, where its installation
/// has them.
fn tools() -> Option<String> {
    let out = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()?;
    let bindir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let has = |tool: &str| std::path::Path::new(&format!("{bindir}/{tool}")).exists();
    (has("pg_dump") && has("pg_restore")).then_some(bindir)
}

fn run(program: &str, args: &[&str]) {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The privileges on the extension's attachment table, and its columns'.
async fn attachment_acl(db: &Client) -> Vec<String> {
    db.query(
        "SELECT coalesce(relacl::text, '') FROM pg_class WHERE relname = 'socket_io_attachments'
         UNION ALL
         SELECT attname || ' ' || attacl::text FROM pg_attribute
          WHERE attrelid = 'socket_io_attachments'::regclass AND attacl IS NOT NULL",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[tokio::test]
async fn a_restored_database_emits_as_the_dumped_one_and_not_while_restoring() {
    let Some(bindir) = tools() else {
        eprintln!("skipped: this PostgreSQL installation has no pg_dump and pg_restore");
        return;
    };
    let source = scratch_database(SOURCE).await;
    source
        .batch_execute(
            "CREATE EXTENSION pg_socketio;
             CREATE TABLE msgs (id int PRIMARY KEY, conv int, body text, secret text);
             CREATE TRIGGER row_changes AFTER INSERT OR UPDATE OR DELETE ON msgs
               FOR EACH ROW EXECUTE FUNCTION sio_trigger('conv:{conv}', 'message', 'exclude=secret');
             CREATE TRIGGER batches AFTER UPDATE ON msgs REFERENCING NEW TABLE AS n OLD TABLE AS o
               FOR EACH STATEMENT EXECUTE FUNCTION sio_trigger('conv:{conv}', 'batch', 'columns=id');
             CREATE FUNCTION shipped(id int) RETURNS void LANGUAGE sql SECURITY DEFINER
               SET search_path = pg_catalog, public
               AS $$ SELECT sio_emit('orders', 'shipped', jsonb_build_array(id)) $$;
             INSERT INTO msgs VALUES (1, 1, repeat('x', 9000), 's'), (2, 2, 'short', 's');",
        )
        .await
        .unwrap();
    let rows: i64 = source
        .query_one("SELECT count(*) FROM socket_io_attachments", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 1, "the 9,000-character row went through the table");

    let file = std::env::temp_dir().join(format!("pg_socketio_dump_{}", std::process::id()));
    let file = file.to_str().unwrap();
    run(
        &format!("{bindir}/pg_dump"),
        &["-Fc", "-f", file, &scratch_url(SOURCE)],
    );
    let target = scratch_database(TARGET).await;
    // Listening on the new database before its rows arrive.
    let mut listener = Listener::builder(scratch_url(TARGET))
        .connect()
        .await
        .unwrap();
    run(
        &format!("{bindir}/pg_restore"),
        &["--exit-on-error", "-d", &scratch_url(TARGET), file],
    );
    std::fs::remove_file(file).unwrap();

    let restored: (i64, i64) = {
        let row = target
            .query_one(
                "SELECT (SELECT count(*) FROM msgs), (SELECT count(*) FROM socket_io_attachments)",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(restored, (2, 0), "(rows, attachment rows)");
    assert_eq!(attachment_acl(&target).await, attachment_acl(&source).await);

    target
        .batch_execute("UPDATE msgs SET body = 'hello' WHERE id = 2; SELECT shipped(7);")
        .await
        .unwrap();
    let row = json!({"id": 2, "conv": 2, "body": "hello"});
    let old = json!({"id": 2, "conv": 2, "body": "short"});
    // Nothing from the restore comes first: the first event is the UPDATE's.
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(event_and_argument(
            &next_message(&mut listener, WAIT).await.1.body,
        ));
    }
    assert_eq!(
        got,
        [
            (
                "message".into(),
                json!({"op": "UPDATE", "schema": "public", "table": "msgs", "new": row, "old": old})
            ),
            (
                "batch".into(),
                json!({"op": "UPDATE", "schema": "public", "table": "msgs",
                       "rows": [{"new": {"id": 2}, "old": {"id": 2}}]})
            ),
            ("shipped".into(), json!([7])),
        ]
    );
    drop((listener, source, target));
    drop_scratch_database(SOURCE).await;
    drop_scratch_database(TARGET).await;
}
