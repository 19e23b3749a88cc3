//! CREATE / DROP EXTENSION with and without a Node.js deployment's own
//! attachment table, in a scratch database of the local server.

use pg_socketio_kit::{attachment_rows, scratch_database, BINARY_EMIT};

const MEMBER: &str = "SELECT EXISTS (SELECT FROM pg_depend
    WHERE classid = 'pg_class'::regclass AND objid = 'socket_io_attachments'::regclass
      AND refclassid = 'pg_extension'::regclass AND deptype = 'e')";

#[tokio::test]
async fn a_node_table_is_used_and_survives_drop_extension() {
    let db = scratch_database("pg_socketio_it_node_table").await;
    // As the Node.js adapter's documentation creates it.
    db.batch_execute(
        "CREATE TABLE socket_io_attachments (id bigserial UNIQUE, created_at timestamptz DEFAULT NOW(), payload bytea);
         INSERT INTO socket_io_attachments (payload) VALUES ('node');
         CREATE EXTENSION pg_socketio;",
    )
    .await
    .unwrap();
    assert!(
        !db.query_one(MEMBER, &[]).await.unwrap().get::<_, bool>(0),
        "not a member"
    );
    // The roles get their rights on it all the same.
    let rights: String = db
        .query_one(
            "SELECT format('%s %s %s', has_table_privilege('socketio_server', 'socket_io_attachments', 'SELECT, INSERT, DELETE'),
                           has_column_privilege('socketio_emitter', 'socket_io_attachments', 'payload', 'INSERT'),
                           has_column_privilege('socketio_emitter', 'socket_io_attachments', 'payload', 'SELECT'))",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(rights, "t t f");
    db.batch_execute(BINARY_EMIT).await.unwrap();
    db.batch_execute("DROP EXTENSION pg_socketio")
        .await
        .unwrap();
    assert_eq!(
        attachment_rows(&db).await,
        2,
        "the Node row and ours, table untouched"
    );
    // And again: CREATE EXTENSION works a second time.
    db.batch_execute("CREATE EXTENSION pg_socketio")
        .await
        .unwrap();
}

#[tokio::test]
async fn without_a_table_the_extension_creates_its_own_and_drops_it() {
    let db = scratch_database("pg_socketio_it_own_table").await;
    db.batch_execute("CREATE EXTENSION pg_socketio")
        .await
        .unwrap();
    assert!(
        db.query_one(MEMBER, &[]).await.unwrap().get::<_, bool>(0),
        "a member"
    );
    let persistence: i8 = db
        .query_one(
            "SELECT relpersistence::\"char\" FROM pg_class WHERE oid = 'socket_io_attachments'::regclass",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(persistence as u8, b'u', "UNLOGGED");
    db.batch_execute("DROP EXTENSION pg_socketio")
        .await
        .unwrap();
    let gone: bool = db
        .query_one("SELECT to_regclass('socket_io_attachments') IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(gone);
}

/// pg_socketio is not a trusted extension: it creates cluster-wide roles,
/// and its security rests on a superuser-only setting and on running its
/// statements as the attachment table's owner. A database owner who is not
/// a superuser cannot install it; a superuser installs it, and grants the
/// roles.
#[tokio::test]
async fn a_database_owner_who_is_not_superuser_cannot_install_it() {
    let admin = pg_socketio_kit::connect().await;
    let owner = pg_socketio_kit::TestRole::create(&admin, "sio_it_db_owner", &[]).await;
    let name = format!("pg_socketio_it_owned_{}", std::process::id());
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name} OWNER {}", owner.name),
    ] {
        admin.batch_execute(&sql).await.unwrap();
    }
    let url = owner.url();
    let (server, _) = url.rsplit_once('@').unwrap();
    let host = pg_socketio_kit::database_address();
    let (db, _) =
        pg_socketio_kit::open(&format!("{server}@{}:{}/{name}", host.ip(), host.port())).await;
    let err = pg_socketio_kit::refused(&db, "CREATE EXTENSION pg_socketio").await;
    assert_eq!(
        (err.code().code(), err.message(), err.hint()),
        (
            "42501",
            "permission denied to create extension \"pg_socketio\"",
            Some("Must be superuser to create this extension.")
        )
    );
    drop(db);
    admin
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
    owner.drop_role(&admin).await;
}
