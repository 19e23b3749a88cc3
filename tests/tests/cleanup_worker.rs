//! The cleanup background workers, on a private cluster that preloads the
//! library (the shared server is never reconfigured): the launcher, and
//! the worker it starts in each listed database every interval.

use std::time::{Duration, Instant};

use pg_socketio_kit::{open, wait_for, PrivateCluster};

/// A row the worker deletes and one it keeps.
const OLD_AND_FRESH: &str = "INSERT INTO socket_io_attachments (created_at, payload) VALUES
    (clock_timestamp() - interval '1 hour', 'old'),
    (clock_timestamp() + interval '1 hour', 'fresh');";

/// A private cluster running the worker every second in `databases`.
fn preloaded(databases: &str) -> PrivateCluster {
    PrivateCluster::start(&[
        "shared_preload_libraries=pg_socketio",
        "pg_socketio.cleanup_interval=1",
        &format!("pg_socketio.cleanup_database='{databases}'"),
    ])
}

#[tokio::test]
async fn worker_deletes_old_attachments_as_the_table_owner_and_keeps_fresh_ones() {
    let cluster = preloaded("postgres");
    let db = cluster.connect().await;

    // Running before the extension exists, and doing no harm.
    let launchers = "SELECT count(*) FROM pg_stat_activity
                      WHERE backend_type = 'pg_socketio cleanup launcher'";
    let one_launcher = format!("SELECT ({launchers}) = 1");
    wait_for(&db, &one_launcher, Duration::from_secs(10)).await;

    db.batch_execute(&format!("CREATE EXTENSION pg_socketio; {OLD_AND_FRESH}"))
        .await
        .unwrap();
    let remaining =
        "SELECT string_agg(convert_from(payload, 'UTF8'), ',') FROM socket_io_attachments";
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left: Option<String> = db.query_one(remaining, &[]).await.unwrap().get(0);
        if left.as_deref() == Some("fresh") {
            break;
        }
        assert!(Instant::now() < deadline, "old row not deleted: {left:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        db.query_one(launchers, &[]).await.unwrap().get::<_, i64>(0),
        1,
        "still running"
    );

    // The worker, a superuser, deletes as the table's owner: a trigger the
    // owner put on the table runs with the owner's rights, not the worker's,
    // and with search_path pinned (so it names its tables with their schema).
    db.batch_execute(
        "CREATE ROLE attachments_owner;
         ALTER TABLE socket_io_attachments OWNER TO attachments_owner;
         CREATE TABLE deleted_by (who text);
         GRANT INSERT ON deleted_by TO attachments_owner;
         CREATE FUNCTION record_deleter() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN INSERT INTO public.deleted_by VALUES (current_user); RETURN OLD; END $$;
         CREATE TRIGGER record AFTER DELETE ON socket_io_attachments
             FOR EACH ROW EXECUTE FUNCTION record_deleter();
         INSERT INTO socket_io_attachments (created_at, payload)
             VALUES (clock_timestamp() - interval '1 hour', 'old');",
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let who: Option<String> = db
            .query_one("SELECT string_agg(who, ',') FROM deleted_by", &[])
            .await
            .unwrap()
            .get(0);
        if let Some(who) = who {
            assert_eq!(who, "attachments_owner");
            break;
        }
        assert!(Instant::now() < deadline, "old row not deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn each_listed_database_is_cleaned_and_shows_its_run_in_its_sio_stats() {
    // Listed with spaces, a name twice, a mixed-case name as written; the
    // databases are created after the server started, and are cleaned
    // from the next pass on.
    let cluster = preloaded("postgres, Tenant2 ,postgres");
    let admin = cluster.connect().await;
    for create in [r#"CREATE DATABASE "Tenant2""#, "CREATE DATABASE unlisted"] {
        admin.batch_execute(create).await.unwrap();
    }
    let mut databases = Vec::new();
    for name in ["postgres", "Tenant2", "unlisted"] {
        let (db, _) = open(&cluster.url_of(name)).await;
        db.batch_execute(&format!("CREATE EXTENSION pg_socketio; {OLD_AND_FRESH}"))
            .await
            .unwrap();
        databases.push(db);
    }
    let state = "SELECT string_agg(convert_from(payload, 'UTF8'), ',' ORDER BY id),
                        cleanup_last_run IS NOT NULL, cleanup_last_deleted
                   FROM socket_io_attachments, sio_stats() GROUP BY 2, 3";
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut seen = Vec::new();
        for db in &databases {
            let row = db.query_one(state, &[]).await.unwrap();
            seen.push((
                row.get::<_, String>(0),
                row.get::<_, bool>(1),
                row.get::<_, Option<i64>>(2),
            ));
        }
        // A listed database's worker deleted its old row, and its run is
        // what that database's sio_stats() shows; the unlisted one has
        // neither.
        let cleaned = |s: &(String, bool, Option<i64>)| s.0 == "fresh" && s.1 && s.2.is_some();
        if cleaned(&seen[0]) && cleaned(&seen[1]) {
            assert_eq!(seen[2], ("old,fresh".to_string(), false, None));
            break;
        }
        assert!(Instant::now() < deadline, "{seen:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn a_list_the_server_cannot_take_stops_it_from_starting_with_the_reason() {
    let many = (1..=33).map(|i| format!("db{i}")).collect::<Vec<_>>();
    let log = PrivateCluster::refused_start(&[
        "shared_preload_libraries=pg_socketio",
        &format!("pg_socketio.cleanup_database='{}'", many.join(",")),
    ]);
    assert!(
        log.contains("pg_socketio.cleanup_database names 33 databases; at most 32 are allowed"),
        "{log}"
    );
    let long = "d".repeat(64);
    let log = PrivateCluster::refused_start(&[
        "shared_preload_libraries=pg_socketio",
        &format!("pg_socketio.cleanup_database='ok, {long}'"),
    ]);
    assert!(
        log.contains(&format!(
            "pg_socketio.cleanup_database: \"{long}\" is longer than a database name can be"
        )),
        "{log}"
    );
}

#[tokio::test]
async fn the_list_is_read_again_at_a_reload_and_a_listed_database_can_be_dropped() {
    // The list left at its default, 'postgres': ALTER SYSTEM cannot change
    // what the server's command line sets.
    let cluster = PrivateCluster::start(&[
        "shared_preload_libraries=pg_socketio",
        "pg_socketio.cleanup_interval=1",
    ]);
    let admin = cluster.connect().await;
    admin.batch_execute("CREATE DATABASE tenant").await.unwrap();
    admin
        .batch_execute(&format!("CREATE EXTENSION pg_socketio; {OLD_AND_FRESH}"))
        .await
        .unwrap();
    let (tenant, _) = open(&cluster.url_of("tenant")).await;
    tenant
        .batch_execute(&format!("CREATE EXTENSION pg_socketio; {OLD_AND_FRESH}"))
        .await
        .unwrap();
    let cleaned = "SELECT count(*) = 1 FROM socket_io_attachments";
    wait_for(&admin, cleaned, Duration::from_secs(10)).await;
    // Not listed: left alone until a reload lists it.
    assert!(!tenant
        .query_one(cleaned, &[])
        .await
        .unwrap()
        .get::<_, bool>(0));
    // ALTER SYSTEM runs alone, not in a transaction block.
    let reload = async |list: &str| {
        admin
            .batch_execute(&format!(
                "ALTER SYSTEM SET pg_socketio.cleanup_database = '{list}'"
            ))
            .await
            .unwrap();
        admin
            .batch_execute("SELECT pg_reload_conf()")
            .await
            .unwrap();
    };
    reload("postgres, tenant").await;
    wait_for(&tenant, cleaned, Duration::from_secs(10)).await;
    drop(tenant);

    // No worker stays connected to it: DROP DATABASE needs no FORCE.
    admin.batch_execute("DROP DATABASE tenant").await.unwrap();

    // A list it cannot take, at a reload: a warning, and the list before it
    // stays, its missing database a log line per pass.
    let long = "d".repeat(64);
    reload(&format!("postgres, {long}")).await;
    let warned = format!(
        "pg_socketio.cleanup_database: \"{long}\" is longer than a database name can be; \
         still cleaning [\"postgres\", \"tenant\"]"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cluster.log().contains(&warned) {
        assert!(Instant::now() < deadline, "{}", cluster.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    admin
        .batch_execute(&format!(
            "DELETE FROM socket_io_attachments; {OLD_AND_FRESH}"
        ))
        .await
        .unwrap();
    wait_for(&admin, cleaned, Duration::from_secs(10)).await;
    assert!(cluster.log().contains("database \"tenant\" does not exist"));
}
