//! The attachment path against the real PostgreSQL: the notification, the
//! row, the MessagePack in it, transactions, size.

use std::time::Duration;

use pg_socketio_kit::{emitter, incompressible_bytes, unique_prefix, RawListener};
use rmpv::Value;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

fn attachment_id(notification: &str) -> i64 {
    let header: serde_json::Value = serde_json::from_str(notification).unwrap();
    header["attachmentId"].as_str().unwrap().parse().unwrap()
}

/// The attachment row a notification points at, decoded.
async fn fetch(db: &tokio_postgres::Client, notification: &str) -> Value {
    let id = attachment_id(notification);
    let row = db
        .query_one(
            "SELECT payload FROM socket_io_attachments WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let bytes: Vec<u8> = row.get(0);
    rmpv::decode::read_value(&mut &bytes[..]).unwrap()
}

/// How the attachment row a notification points at is stored: its
/// compression method, its stored size and its length.
async fn stored(db: &tokio_postgres::Client, notification: &str) -> (Option<String>, i32, i32) {
    let row = db
        .query_one(
            "SELECT pg_column_compression(payload), pg_column_size(payload), length(payload)
               FROM socket_io_attachments WHERE id = $1",
            &[&attachment_id(notification)],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

/// What `stored` says of a row stored uncompressed.
fn assert_stored_as_is((method, size, length): (Option<String>, i32, i32)) {
    assert_eq!(
        (method, size >= length),
        (None, true),
        "{size} bytes stored for {length}"
    );
}

#[tokio::test]
async fn binary_emit_stores_the_whole_message_and_notifies_its_id() {
    let prefix = unique_prefix("att_binary");
    let mut listener = RawListener::new(&[&format!("{prefix}#/chat")]).await;
    let db = emitter(&prefix).await;
    db.execute(
        r#"SELECT sio_emit_args('r', 'file', '[{"name":"a.png"},{"_placeholder":true,"num":0}]',
                                ARRAY['\x89504e47'::bytea], nsp => '/chat')"#,
        &[],
    )
    .await
    .unwrap();
    let n = listener.next(WAIT).await.expect("a notification");
    let header: serde_json::Value = serde_json::from_str(n.payload()).unwrap();
    assert_eq!(header["uid"], json!("emitter"));
    assert_eq!(header["type"], json!(3));
    assert!(header["attachmentId"]
        .as_str()
        .unwrap()
        .parse::<i64>()
        .is_ok());
    assert_eq!(header.as_object().unwrap().len(), 3, "{header}");

    let message = fetch(&db, n.payload()).await;
    assert_eq!(message["type"], Value::from(3));
    assert_eq!(message["uid"], Value::from("emitter"));
    assert_eq!(message["nsp"], Value::from("/chat"));
    let data = &message["data"]["packet"]["data"];
    assert_eq!(data[0], Value::from("file"));
    assert_eq!(data[1]["name"], Value::from("a.png"));
    assert_eq!(data[2], Value::Binary(vec![0x89, b'P', b'N', b'G']));
    assert_eq!(message["data"]["opts"]["rooms"][0], Value::from("r"));
}

#[tokio::test]
async fn rollback_leaves_no_row_and_no_notification() {
    let prefix = unique_prefix("att_rollback");
    let mut listener = RawListener::new(&[&format!("{prefix}#/")]).await;
    let db = emitter(&prefix).await;
    // A table of its own: other tests add rows to the shared one meanwhile.
    let table = format!("public.att_rollback_{}", std::process::id());
    db.batch_execute(&format!(
        "DROP TABLE IF EXISTS {table};
         CREATE TABLE {table} (id bigserial, created_at timestamptz, payload bytea);
         SET pg_socketio.attachment_table = '{table}';"
    ))
    .await
    .unwrap();
    db.batch_execute(
        r#"BEGIN;
           SELECT sio_emit('r', 'big', to_jsonb(repeat('x', 9000)));
           SELECT sio_emit_args('r', 'b', '[{"_placeholder":true,"num":0}]', ARRAY['\x01'::bytea]);
           ROLLBACK"#,
    )
    .await
    .unwrap();
    assert!(listener.drain(Duration::from_millis(500)).await.is_empty());
    let count = format!("SELECT count(*) FROM {table}");
    let after: i64 = db.query_one(&count, &[]).await.unwrap().get(0);
    assert_eq!(after, 0);
    // The same emits, committed, do store rows there: the count can fail.
    db.batch_execute(
        r#"SELECT sio_emit('r', 'big', to_jsonb(repeat('x', 9000)));
           SELECT sio_emit_args('r', 'b', '[{"_placeholder":true,"num":0}]', ARRAY['\x01'::bytea]);"#,
    )
    .await
    .unwrap();
    let after: i64 = db.query_one(&count, &[]).await.unwrap().get(0);
    assert_eq!(after, 2);
    db.batch_execute(&format!("DROP TABLE {table}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn order_of_inline_and_attachment_messages_is_kept_in_one_transaction() {
    let prefix = unique_prefix("att_order");
    let mut listener = RawListener::new(&[&format!("{prefix}#/")]).await;
    let db = emitter(&prefix).await;
    db.batch_execute(
        r#"BEGIN;
           SELECT sio_emit('r', 'one');
           SELECT sio_emit('r', 'two', to_jsonb(repeat('x', 9000)));
           SELECT sio_emit('r', 'three');
           COMMIT"#,
    )
    .await
    .unwrap();
    let all = listener.drain(Duration::from_millis(500)).await;
    let kinds: Vec<bool> = all
        .iter()
        .map(|n| n.payload().contains("attachmentId"))
        .collect();
    assert_eq!(kinds, vec![false, true, false]);
    assert_eq!(
        fetch(&db, all[1].payload()).await["data"]["packet"]["data"][0],
        Value::from("two")
    );
}

#[tokio::test]
async fn a_100_megabyte_binary_argument_is_stored_whole() {
    let prefix = unique_prefix("att_100mb");
    let mut listener = RawListener::new(&[&format!("{prefix}#/")]).await;
    let db = emitter(&prefix).await;
    let size: i32 = 100 * 1024 * 1024;
    db.execute(
        r#"SELECT sio_emit_args('r', 'huge', '[{"_placeholder":true,"num":0}]',
                                ARRAY[convert_to(repeat('z', $1), 'UTF8')])"#,
        &[&size],
    )
    .await
    .unwrap();
    let n = listener.next(WAIT).await.expect("a notification");
    let message = fetch(&db, n.payload()).await;
    match &message["data"]["packet"]["data"][1] {
        Value::Binary(bytes) => {
            assert_eq!(bytes.len(), size as usize);
            assert!(bytes.iter().all(|&b| b == b'z'));
        }
        other => panic!("expected binary, got {:?}", other.as_str()),
    }
    db.execute("SELECT sio_cleanup('0 seconds')", &[])
        .await
        .unwrap();
}

#[tokio::test]
async fn rows_of_a_long_transaction_are_not_cleaned_before_they_are_read() {
    let prefix = unique_prefix("att_long");
    let mut listener = RawListener::new(&[&format!("{prefix}#/")]).await;
    let db = emitter(&prefix).await;
    db.batch_execute(
        r#"BEGIN;
           SELECT sio_emit('r', 'late', to_jsonb(repeat('x', 9000)));
           SELECT pg_sleep(2);
           COMMIT"#,
    )
    .await
    .unwrap();
    let n = listener.next(WAIT).await.expect("a notification");
    // Stored 2 s before COMMIT: without the refresh at COMMIT it would look
    // older than 1 s at once, and `sio_cleanup('1 second')` would delete it
    // unread. (Asked of this row only: other tests' rows share the table.)
    let id = attachment_id(n.payload());
    let fresh: bool = db
        .query_one(
            "SELECT created_at > clock_timestamp() - interval '1 second'
               FROM socket_io_attachments WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(fresh, "created_at was refreshed at COMMIT");
    let message = fetch(&db, n.payload()).await;
    assert_eq!(message["data"]["packet"]["data"][0], Value::from("late"));
}

/// The INSERT plan is kept per table for the session's life: it must follow
/// `pg_socketio.attachment_table`, and a table dropped and made again.
#[tokio::test]
async fn kept_plans_follow_the_setting_and_a_recreated_table() {
    let prefix = unique_prefix("att_plans");
    let other = format!("{prefix}_other");
    let db = emitter(&prefix).await;
    let create = format!(
        "CREATE TABLE {other} (id bigserial UNIQUE, created_at timestamptz DEFAULT now(), payload bytea)"
    );
    db.batch_execute(&create).await.unwrap();
    let big = "SELECT sio_emit(ARRAY[]::text[], 'big', to_jsonb(repeat('x', 9000)))";
    let count = |table: &str| format!("SELECT count(*) FROM {table}");
    let rows = |sql: String| {
        let db = &db;
        async move { db.query_one(&sql, &[]).await.unwrap().get::<_, i64>(0) }
    };

    // Our own row, seen in our transaction: other tests clean the shared table.
    let in_ours = || async {
        let tx = "BEGIN; SELECT sio_emit(ARRAY[]::text[], 'big', to_jsonb(repeat('x', 9000)))";
        db.batch_execute(tx).await.unwrap();
        let n = rows(
            "SELECT count(*) FROM socket_io_attachments
             WHERE id = currval(pg_get_serial_sequence('socket_io_attachments', 'id'))"
                .into(),
        )
        .await;
        db.batch_execute("COMMIT").await.unwrap();
        n
    };

    assert_eq!(in_ours().await, 1);
    db.batch_execute(&format!("SET pg_socketio.attachment_table = '{other}'"))
        .await
        .unwrap();
    db.batch_execute(big).await.unwrap();
    assert_eq!(rows(count(&other)).await, 1);
    db.batch_execute(&format!("DROP TABLE {other}; {create}"))
        .await
        .unwrap();
    db.batch_execute(big).await.unwrap();
    assert_eq!(rows(count(&other)).await, 1, "the new table got the row");
    db.batch_execute(&format!(
        "RESET pg_socketio.attachment_table; DROP TABLE {other}"
    ))
    .await
    .unwrap();
    assert_eq!(in_ours().await, 1);
}

/// A message of 2 kB or more is stored compressed with lz4 where the
/// server was built with it (Debian's and the PGDG packages are; the test's
/// 16–18 builds are not), and not at all otherwise; one that does not
/// compress is stored as it is. The column stays `STORAGE EXTERNAL`, so
/// PostgreSQL never compresses on its own. Either way every row reads back
/// whole.
#[tokio::test]
async fn large_messages_are_stored_lz4_compressed_where_the_server_has_it() {
    let prefix = unique_prefix("att_storage");
    let mut listener = RawListener::new(&[&format!("{prefix}#/")]).await;
    let db = emitter(&prefix).await;
    let storage: i8 = db
        .query_one(
            "SELECT attstorage::\"char\" FROM pg_attribute
              WHERE attrelid = 'socket_io_attachments'::regclass AND attname = 'payload'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(storage as u8, b'e', "STORAGE EXTERNAL");
    let has_lz4: bool = db
        .query_one(
            "SELECT 'lz4' = ANY (enumvals) FROM pg_settings
              WHERE name = 'default_toast_compression'",
            &[],
        )
        .await
        .unwrap()
        .get(0);

    // 200 kB of JSON that compresses well.
    let rows = 2_000;
    db.execute(
        "SELECT sio_emit('r', 'rows', (SELECT jsonb_agg(jsonb_build_object('id', i, 'body', 'hello'))
                                         FROM generate_series(1, $1) i))",
        &[&rows],
    )
    .await
    .unwrap();
    let n = listener.next(WAIT).await.expect("a notification");
    if has_lz4 {
        let (method, size, length) = stored(&db, n.payload()).await;
        assert_eq!(method.as_deref(), Some("lz4"));
        assert!(size < length / 4, "{size} bytes stored for {length}");
    } else {
        assert_stored_as_is(stored(&db, n.payload()).await);
    }
    let message = fetch(&db, n.payload()).await;
    let expected: Vec<Value> = (1..=rows as i64)
        .map(|i| {
            Value::Map(vec![
                (Value::from("id"), Value::from(i)),
                (Value::from("body"), Value::from("hello")),
            ])
        })
        .collect();
    assert_eq!(message["data"]["packet"]["data"][1], Value::Array(expected));

    // 3 kB and 100 kB of bytes that do not compress (MD5 digests), below
    // and above the size that is first tried on its first 8 kB: stored as
    // they are.
    let digests = format!("SELECT {}", incompressible_bytes("$1"));
    for count in [200, 6_400] {
        let sent: Vec<u8> = db.query_one(&digests, &[&count]).await.unwrap().get(0);
        db.execute(
            r#"SELECT sio_emit_args('r', 'bin', '[{"_placeholder":true,"num":0}]', ARRAY[$1::bytea])"#,
            &[&sent],
        )
        .await
        .unwrap();
        let n = listener.next(WAIT).await.expect("a notification");
        assert_stored_as_is(stored(&db, n.payload()).await);
        let message = fetch(&db, n.payload()).await;
        assert_eq!(
            message["data"]["packet"]["data"][1],
            Value::Binary(sent),
            "{count} digests"
        );
    }
}

/// Whether the server has lz4 is asked in SQL, once per session: with
/// every name qualified and `search_path` pinned, so that an `=` of the
/// caller's, first on its path, is not what runs (it would run with the
/// rights of whoever emits: a definer function's owner).
#[tokio::test]
async fn the_lz4_question_runs_nothing_of_the_callers_search_path() {
    let prefix = unique_prefix("att_lz4_path");
    let mut listener = RawListener::new(&[&format!("{prefix}#/")]).await;
    let db = emitter(&prefix).await;
    let schema = format!("att_lz4_{}", std::process::id());
    db.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE;
         CREATE SCHEMA {schema};
         CREATE TEMP TABLE loot (what text);
         CREATE FUNCTION {schema}.eq(text, text) RETURNS boolean LANGUAGE plpgsql AS
           $$BEGIN INSERT INTO pg_temp.loot VALUES ($1); RETURN $1 OPERATOR(pg_catalog.=) $2; END$$;
         CREATE OPERATOR {schema}.= (LEFTARG = text, RIGHTARG = text, FUNCTION = {schema}.eq);
         SET search_path = {schema}, pg_catalog, public;
         SELECT 'shadowed' = 'shadowed';"
    ))
    .await
    .unwrap();
    let shadowed = pg_socketio_kit::texts(&db, "SELECT what FROM pg_temp.loot").await;
    assert_eq!(shadowed, ["shadowed"], "the caller's = comes first");

    db.batch_execute(
        "SELECT public.sio_emit('r', 'big', pg_catalog.to_jsonb(pg_catalog.repeat('x', 9000)))",
    )
    .await
    .unwrap();
    let n = listener.next(WAIT).await.expect("a notification");
    let message = fetch(&db, n.payload()).await;
    assert_eq!(
        message["data"]["packet"]["data"][1].as_str().map(str::len),
        Some(9000)
    );
    let loot = pg_socketio_kit::texts(&db, "SELECT what FROM pg_temp.loot").await;
    assert_eq!(loot, ["shadowed"], "nothing more ran");
    db.batch_execute(&format!("RESET search_path; DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
