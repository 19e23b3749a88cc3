//! pg_dump and pg_restore of a database that uses pg_socketio, as backups
//! and moves between servers do: the extension's objects and privileges
//! come back as CREATE EXTENSION makes them, triggers and definer wrappers
//! as they were; attachment rows (notifications long gone) are not dumped;
//! nothing is emitted while the rows are restored (PostgreSQL creates
//! triggers after the data); the restored triggers and wrappers emit.

use std::time::Duration;

use pg_socketio_client::Listener;
use pg_socketio_kit::{
    attachment_rows, drop_scratch_database, event_and_argument, extension_catalog, moved_events,
    next_message, scratch_database, scratch_url, PrivateCluster, MOVED_CHANGES, MOVED_DATABASE,
};

const WAIT: Duration = Duration::from_secs(10);
const SOURCE: &str = "it_dump_source";
const TARGET: &str = "it_dump_target";

/// pg_dump and pg_restore of the server under test, where its installation
/// has them.
fn tools() -> Option<String> {
    let bindir = PrivateCluster::local_bindir();
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

#[tokio::test]
async fn a_restored_database_emits_as_the_dumped_one_and_not_while_restoring() {
    let Some(bindir) = tools() else {
        eprintln!("skipped: this PostgreSQL installation has no pg_dump and pg_restore");
        return;
    };
    let source = scratch_database(SOURCE).await;
    source.batch_execute(MOVED_DATABASE).await.unwrap();
    assert_eq!(
        attachment_rows(&source).await,
        1,
        "the 9,000-character row went through the table"
    );

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

    let rows: i64 = target
        .query_one("SELECT count(*) FROM msgs", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        (rows, attachment_rows(&target).await),
        (2, 0),
        "(rows, attachment rows)"
    );
    assert_eq!(
        extension_catalog(&target).await,
        extension_catalog(&source).await
    );

    target.batch_execute(MOVED_CHANGES).await.unwrap();
    // Nothing from the restore comes first: the first event is the UPDATE's.
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(event_and_argument(
            &next_message(&mut listener, WAIT).await.1.body,
        ));
    }
    assert_eq!(got, moved_events());
    drop((listener, source, target));
    drop_scratch_database(SOURCE).await;
    drop_scratch_database(TARGET).await;
}
