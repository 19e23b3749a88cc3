//! What clients see of an error: its SQLSTATE, message, detail and hint —
//! never the extension's internals, even on a server whose environment turns
//! Rust backtraces on. And databases whose text is not UTF-8 are refused at
//! CREATE EXTENSION, not at the first non-ASCII emit.

use pg_socketio_kit::{refused, PrivateCluster};

#[tokio::test]
async fn error_details_show_no_backtrace_even_with_rust_backtrace_set() {
    // Inherited by the private server through pg_ctl. Set before any thread
    // is started by this test binary's runtime work.
    unsafe { std::env::set_var("RUST_BACKTRACE", "full") };
    let cluster = PrivateCluster::start(&[]);
    let db = cluster.connect().await;
    db.batch_execute(
        "CREATE EXTENSION pg_socketio;
         CREATE TABLE int_payload (id bigserial, created_at timestamptz, payload int);
         CREATE ROLE nobody LOGIN;",
    )
    .await
    .unwrap();

    // Raised by the extension itself.
    let err = refused(&db, "SELECT sio_emit(NULL, 'e')").await;
    assert_eq!(err.code().code(), "22004");
    assert_eq!(
        err.detail(),
        Some(
            "A subquery that finds no room gives NULL; sending to everyone then would \
             reach sockets the statement did not mean."
        )
    );
    // Raised by PostgreSQL inside the extension's SPI call, passed on with
    // what the extension was doing.
    let err = refused(
        &db,
        r#"SET pg_socketio.attachment_table = 'int_payload';
           SELECT sio_emit_args(ARRAY[]::text[], 'e', '[{"_placeholder":true,"num":0}]', ARRAY['\x01'::bytea])"#,
    )
    .await;
    assert_eq!(err.code().code(), "42804");
    let detail = err.detail().unwrap_or_default();
    assert!(
        detail.starts_with("pg_socketio was storing a message of ")
            && detail.ends_with(" bytes in the attachment table public.int_payload."),
        "{detail}"
    );
    // Raised by PostgreSQL in a statement the extension runs, and passed
    // through it unchanged: here, a trigger on the attachment table.
    db.batch_execute(
        "INSERT INTO socket_io_attachments (payload) VALUES ('x');
         CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
           $$BEGIN RAISE EXCEPTION 'kept' USING ERRCODE = '55000', DETAIL = 'the only detail'; END$$;
         CREATE TRIGGER refuse BEFORE DELETE ON socket_io_attachments
           FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .await
    .unwrap();
    let err = refused(&db, "SELECT sio_cleanup('0')").await;
    assert_eq!(
        (err.code().code(), err.message(), err.detail()),
        ("55000", "kept", Some("the only detail"))
    );
    // Raised by PostgreSQL's own checks for a role without rights.
    let nobody = tokio_postgres::connect(
        &format!("postgres://nobody@127.0.0.1:{}/postgres", cluster.port),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(nobody.1);
    let err = refused(&nobody.0, "SELECT sio_emit('r', 'e')").await;
    assert_eq!(
        (err.code().code(), err.detail()),
        ("42501", None),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_database_that_is_not_utf8_is_refused_at_create_extension() {
    let admin = pg_socketio_kit::connect().await;
    let name = format!("pg_socketio_latin1_{}", std::process::id());
    // Two statements: neither may run inside a transaction block.
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"),
    ] {
        admin.batch_execute(&sql).await.unwrap();
    }
    let (db, _) = pg_socketio_kit::open(&pg_socketio_kit::scratch_url(&name)).await;
    let err = refused(&db, "CREATE EXTENSION pg_socketio").await;
    assert_eq!(
        (err.code().code(), err.message()),
        (
            "22021",
            "pg_socketio needs a UTF8 database; this one is LATIN1"
        )
    );
    // Nothing of it is left.
    let left: i64 = db
        .query_one(
            "SELECT (SELECT count(*) FROM pg_extension WHERE extname = 'pg_socketio')
                  + (SELECT count(*) FROM pg_class WHERE relname = 'socket_io_attachments')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    drop(db);
    admin
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
}
