//! The cleanup background worker, on a private cluster that preloads the
//! library (the shared server is never reconfigured).

use std::time::{Duration, Instant};

use pg_socketio_kit::PrivateCluster;

#[tokio::test]
async fn worker_deletes_old_attachments_as_the_table_owner_and_keeps_fresh_ones() {
    let cluster = PrivateCluster::start(&[
        "shared_preload_libraries=pg_socketio",
        "pg_socketio.cleanup_interval=1",
        "pg_socketio.cleanup_database=postgres",
    ]);
    let db = cluster.connect().await;

    // Running before the extension exists, and doing no harm.
    let workers =
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_socketio cleanup'";
    let deadline = Instant::now() + Duration::from_secs(10);
    while db.query_one(workers, &[]).await.unwrap().get::<_, i64>(0) != 1 {
        assert!(Instant::now() < deadline, "the worker did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    db.batch_execute(
        "CREATE EXTENSION pg_socketio;
         INSERT INTO socket_io_attachments (created_at, payload) VALUES
           (clock_timestamp() - interval '1 hour', 'old'),
           (clock_timestamp() + interval '1 hour', 'fresh');",
    )
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
        db.query_one(workers, &[]).await.unwrap().get::<_, i64>(0),
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
