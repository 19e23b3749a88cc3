//! Who may emit and read, proved with roles that have nothing but what the
//! test gives them: PUBLIC may do nothing, `socketio_emitter` may emit but
//! not read, `socketio_server` may read and clean the attachment table.

use std::time::Duration;

use pg_socketio_client::protocol::{Body, Message, ReceivedOpts, Value};
use pg_socketio_client::{placeholder, Emitter, Listener};
use pg_socketio_kit::{connect, database_url, next_message, refusal, unique_prefix, TestRole};
use tokio_postgres::Client;

const WAIT: Duration = Duration::from_secs(10);

/// A superuser session, the test's channel prefix, and a Rust listener on it.
async fn setup(test: &str) -> (Client, String, Listener) {
    let admin = connect().await;
    let prefix = unique_prefix(test);
    let listener = Listener::builder(database_url())
        .channel_prefix(&prefix)
        .connect()
        .await
        .unwrap();
    (admin, prefix, listener)
}

async fn assert_quiet(listener: &mut Listener) {
    if let Ok(event) = tokio::time::timeout(Duration::from_millis(500), listener.recv()).await {
        panic!("unexpected event: {event:?}");
    }
}

/// `emit(event, ...args)` to everyone in `/`, as `uid` sends it.
fn broadcast(uid: &str, event: &str, args: Vec<Value>) -> Message {
    Message {
        uid: uid.into(),
        nsp: Some("/".into()),
        body: Body::Broadcast {
            event: event.into(),
            args,
            opts: ReceivedOpts::default(),
            request_id: None,
        },
        exact_args: None,
    }
}

/// The Rust emitter, connected as the role under test, sends `bin` with the
/// one binary argument `[byte]` (an attachment), and the listener gets it.
async fn rust_binary_emit_arrives(db: &Client, prefix: &str, listener: &mut Listener, byte: u8) {
    Emitter::new()
        .channel_prefix(prefix)
        .broadcast()
        .emit_binary(db, "bin", &[placeholder(0)], &[&[byte]])
        .await
        .unwrap();
    assert_eq!(
        next_message(listener, WAIT).await.1,
        broadcast("emitter", "bin", vec![Value::Binary(vec![byte])])
    );
}

#[tokio::test]
async fn public_has_no_grant_on_any_function_or_the_table() {
    let admin = connect().await;
    let granted_to_public = admin
        .query(
            "SELECT p.oid::regprocedure::text FROM pg_proc p
               JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
               JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_socketio'
              WHERE EXISTS (SELECT FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                             WHERE a.grantee = 0)
             UNION ALL
             SELECT c.oid::regclass::text FROM pg_class c
              WHERE c.oid IN ('socket_io_attachments'::regclass,
                              pg_get_serial_sequence('socket_io_attachments', 'id')::regclass)
                AND EXISTS (SELECT FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
                             WHERE a.grantee = 0)",
            &[],
        )
        .await
        .unwrap();
    let names: Vec<String> = granted_to_public.iter().map(|r| r.get(0)).collect();
    assert_eq!(names, Vec::<String>::new());

    // Nor is any of them SECURITY DEFINER (which would have to pin
    // search_path), and none carries settings (sio_trigger, C since 0.3.0,
    // runs no SQL by name).
    let definers: i64 = admin
        .query_one(
            "SELECT count(*) FILTER (WHERE p.prosecdef) FROM pg_proc p
               JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
               JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_socketio'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(definers, 0);
    let trigger: (String, Option<Vec<String>>) = admin
        .query_one(
            "SELECT l.lanname::text, p.proconfig FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
              WHERE p.oid = 'sio_trigger()'::regprocedure",
            &[],
        )
        .await
        .map(|row| (row.get(0), row.get(1)))
        .unwrap();
    assert_eq!(trigger, ("c".to_owned(), None));
}

#[tokio::test]
async fn a_role_without_grants_can_neither_emit_nor_touch_attachments() {
    let (admin, prefix, mut listener) = setup("perm_public").await;
    let nobody = TestRole::create(&admin, "sio_it_nobody", &[]).await;
    let db = nobody.connect().await;
    db.batch_execute(&format!("SET pg_socketio.channel_prefix = '{prefix}'"))
        .await
        .unwrap();

    let attempts = [
        ("SELECT sio_emit('r', 'e', '1')", "function sio_emit"),
        ("SELECT sio_emit(ARRAY['r'], 'e', '1')", "function sio_emit"),
        (
            r"SELECT sio_emit_args('r', 'e', '[]', ARRAY['\x01'::bytea])",
            "function sio_emit_args",
        ),
        (
            "SELECT sio_sockets_join(ARRAY[]::text[], ARRAY['a'])",
            "function sio_sockets_join",
        ),
        (
            "SELECT sio_sockets_leave(ARRAY[]::text[], ARRAY['a'])",
            "function sio_sockets_leave",
        ),
        (
            "SELECT sio_disconnect_sockets(ARRAY[]::text[], true)",
            "function sio_disconnect_sockets",
        ),
        (
            "SELECT sio_server_side_emit('e', '[]')",
            "function sio_server_side_emit",
        ),
        ("SELECT sio_room('{id}', '{\"id\":1}')", "function sio_room"),
        ("SELECT sio_cleanup()", "function sio_cleanup"),
        (
            "SELECT payload FROM socket_io_attachments",
            "table socket_io_attachments",
        ),
        (
            "INSERT INTO socket_io_attachments (payload) VALUES ('x')",
            "table socket_io_attachments",
        ),
        (
            "DELETE FROM socket_io_attachments",
            "table socket_io_attachments",
        ),
    ];
    for (sql, object) in attempts {
        assert_eq!(
            refusal(&db, sql).await,
            format!("42501: permission denied for {object}"),
            "{sql}"
        );
    }
    // Nothing was sent (the refused INSERTs stored nothing either: the
    // privilege check comes before any row is written).
    assert_quiet(&mut listener).await;
    nobody.drop_role(&admin).await;
}

#[tokio::test]
async fn an_emitter_emits_inline_and_attached_but_cannot_read_or_delete() {
    let (admin, prefix, mut listener) = setup("perm_emitter").await;
    let role = TestRole::create(&admin, "sio_it_emitter", &["socketio_emitter"]).await;
    let db = role.connect().await;
    db.batch_execute(&format!(
        r#"SET pg_socketio.channel_prefix = '{prefix}';
           SELECT sio_emit(ARRAY[]::text[], 'inline', '{{"n":1}}');
           SELECT sio_emit_args(ARRAY[]::text[], 'bin', '[{{"_placeholder":true,"num":0}}]', ARRAY['\x0102'::bytea]);
           -- A late COMMIT refreshes created_at: UPDATE on that column only.
           BEGIN;
           SELECT sio_emit_args(ARRAY[]::text[], 'late', '[{{"_placeholder":true,"num":0}}]', ARRAY['\x03'::bytea]);
           SELECT pg_sleep(1.1);
           COMMIT;"#
    ))
    .await
    .unwrap();
    let json = |v: serde_json::Value| rmpv::ext::to_value(v).unwrap();
    assert_eq!(
        next_message(&mut listener, WAIT).await.1,
        broadcast("emitter", "inline", vec![json(serde_json::json!({"n": 1}))])
    );
    assert_eq!(
        next_message(&mut listener, WAIT).await.1,
        broadcast("emitter", "bin", vec![Value::Binary(vec![1, 2])])
    );
    assert_eq!(
        next_message(&mut listener, WAIT).await.1,
        broadcast("emitter", "late", vec![Value::Binary(vec![3])])
    );

    for (sql, object) in [
        (
            "SELECT payload FROM socket_io_attachments",
            "table socket_io_attachments",
        ),
        (
            "SELECT * FROM socket_io_attachments",
            "table socket_io_attachments",
        ),
        (
            "DELETE FROM socket_io_attachments",
            "table socket_io_attachments",
        ),
        (
            "UPDATE socket_io_attachments SET payload = NULL",
            "table socket_io_attachments",
        ),
        // Nothing but adding messages: no row kept forever or made to look
        // old, no lock that holds up the cleanup.
        (
            "UPDATE socket_io_attachments SET created_at = 'infinity'",
            "table socket_io_attachments",
        ),
        (
            "UPDATE socket_io_attachments SET created_at = '-infinity' WHERE id = 42",
            "table socket_io_attachments",
        ),
        (
            "INSERT INTO socket_io_attachments (created_at, payload) VALUES ('infinity', 'x')",
            "table socket_io_attachments",
        ),
        (
            "SELECT id FROM socket_io_attachments FOR UPDATE",
            "table socket_io_attachments",
        ),
        (
            "SELECT id FROM socket_io_attachments FOR KEY SHARE",
            "table socket_io_attachments",
        ),
        (
            "TRUNCATE socket_io_attachments",
            "table socket_io_attachments",
        ),
        (
            "BEGIN; LOCK TABLE socket_io_attachments IN ACCESS SHARE MODE",
            "table socket_io_attachments",
        ),
        ("SELECT sio_cleanup()", "function sio_cleanup"),
    ] {
        assert_eq!(
            refusal(&db, sql).await,
            format!("42501: permission denied for {object}"),
            "{sql}"
        );
        // Ends the transaction a refused statement was in, if any.
        db.batch_execute("ROLLBACK").await.unwrap();
    }
    role.drop_role(&admin).await;
}

/// A role allowed to change `pg_socketio.attachment_table` (GRANT SET, as
/// a database owner may be) still cannot use a table it has no right on,
/// and is refused before it queues for that table's lock.
#[tokio::test]
async fn the_right_on_the_table_is_checked_before_its_lock() {
    let (admin, prefix, mut listener) = setup("perm_lock_order").await;
    let role = TestRole::create(&admin, "sio_it_lock_order", &["socketio_emitter"]).await;
    let table = format!("private_att_{}", std::process::id());
    admin
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS public.{table};
             CREATE TABLE public.{table} (id bigserial, created_at timestamptz DEFAULT now(), payload bytea);
             GRANT SET ON PARAMETER pg_socketio.attachment_table TO {};",
            role.name
        ))
        .await
        .unwrap();
    // The owner holds the strongest lock; a queued emit would wait for it.
    let holder = connect().await;
    holder
        .batch_execute(&format!(
            "BEGIN; LOCK TABLE public.{table} IN ACCESS EXCLUSIVE MODE"
        ))
        .await
        .unwrap();
    let db = role.connect().await;
    let err = pg_socketio_kit::refused(
        &db,
        &format!(
            r#"SET pg_socketio.channel_prefix = '{prefix}';
               SET pg_socketio.lock_timeout = '60s';
               SET pg_socketio.attachment_table = 'public.{table}';
               SELECT sio_emit_args(ARRAY[]::text[], 'e', '[{{"_placeholder":true,"num":0}}]', ARRAY['\x01'::bytea])"#
        ),
    )
    .await;
    assert_eq!(
        (err.code().code(), err.message()),
        (
            "42501",
            &*format!("permission denied to add messages to the attachment table public.{table}")
        )
    );
    assert_eq!(
        err.hint(),
        Some("GRANT socketio_emitter TO the role that calls sio_emit_args.")
    );
    assert_quiet(&mut listener).await;
    holder.batch_execute("ROLLBACK").await.unwrap();
    admin
        .batch_execute(&format!(
            "REVOKE SET ON PARAMETER pg_socketio.attachment_table FROM {};
             DROP TABLE public.{table};",
            role.name
        ))
        .await
        .unwrap();
    role.drop_role(&admin).await;
}

#[tokio::test]
async fn a_server_role_runs_the_rust_listener_and_emitter_and_cleans_up() {
    let admin = connect().await;
    let prefix = unique_prefix("perm_server");
    let role = TestRole::create(&admin, "sio_it_server", &["socketio_server"]).await;
    let mut listener = Listener::builder(role.url())
        .channel_prefix(&prefix)
        .connect()
        .await
        .unwrap();
    let db = role.connect().await;
    // Reads what SQL stored in the attachment table.
    admin
        .batch_execute(&format!(
            r#"SET pg_socketio.channel_prefix = '{prefix}';
               SELECT sio_emit_args(ARRAY[]::text[], 'from_sql', '[{{"_placeholder":true,"num":0}}]', ARRAY['\x0a'::bytea]);"#
        ))
        .await
        .unwrap();
    assert_eq!(
        next_message(&mut listener, WAIT).await.1,
        broadcast("emitter", "from_sql", vec![Value::Binary(vec![10])])
    );
    // Emits with the Rust emitter, through the table as well.
    rust_binary_emit_arrives(&db, &prefix, &mut listener, 11).await;
    // Cleans up, as the Node.js adapter does; but may not emit from SQL.
    db.batch_execute("SELECT sio_cleanup(); DELETE FROM socket_io_attachments WHERE false")
        .await
        .unwrap();
    assert_eq!(
        refusal(&db, "SELECT sio_emit('r', 'e', '1')").await,
        "42501: permission denied for function sio_emit"
    );
    drop(listener);
    role.drop_role(&admin).await;
}

#[tokio::test]
async fn writers_to_a_table_with_sio_trigger_need_the_emitter_role() {
    let admin = connect().await;
    let prefix = unique_prefix("perm_trigger");
    let table = format!("perm_trigger_{}", std::process::id());
    let mut listener = Listener::builder(database_url())
        .channel_prefix(&prefix)
        .connect()
        .await
        .unwrap();
    let writer = TestRole::create(&admin, "sio_it_writer", &[]).await;
    admin
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {table};
             CREATE TABLE {table} (id int, room text);
             CREATE TRIGGER emit AFTER INSERT ON {table}
                 FOR EACH ROW EXECUTE FUNCTION sio_trigger('{{room}}', 'row');
             GRANT INSERT ON {table} TO {writer};",
            writer = writer.name
        ))
        .await
        .unwrap();
    let db = writer.connect().await;
    db.batch_execute(&format!("SET pg_socketio.channel_prefix = '{prefix}'"))
        .await
        .unwrap();
    assert_eq!(
        refusal(&db, &format!("INSERT INTO {table} VALUES (1, 'a')")).await,
        "42501: permission denied for function sio_trigger"
    );
    admin
        .batch_execute(&format!("GRANT socketio_emitter TO {}", writer.name))
        .await
        .unwrap();
    db.batch_execute(&format!("INSERT INTO {table} VALUES (2, 'b')"))
        .await
        .unwrap();
    let message = next_message(&mut listener, WAIT).await.1;
    match &message.body {
        Body::Broadcast {
            event, args, opts, ..
        } => {
            assert_eq!(event, "row");
            assert_eq!(opts.rooms, ["b"]);
            assert_eq!(args[0]["new"]["id"], Value::from(2));
        }
        other => panic!("not a broadcast: {other:?}"),
    }
    assert_quiet(&mut listener).await;
    admin
        .batch_execute(&format!("DROP TABLE {table}"))
        .await
        .unwrap();
    writer.drop_role(&admin).await;
}

#[tokio::test]
async fn a_security_definer_wrapper_lets_a_role_emit_one_event_only() {
    // The README's recipe for narrow rights: a function owned by an emitter,
    // callable by a role that may not emit itself.
    let (admin, prefix, mut listener) = setup("perm_definer").await;
    let owner = TestRole::create(&admin, "sio_it_wrapper_owner", &["socketio_emitter"]).await;
    let caller = TestRole::create(&admin, "sio_it_wrapper_caller", &[]).await;
    let function = format!("order_shipped_{}", std::process::id());
    admin
        .batch_execute(&format!("GRANT CREATE ON SCHEMA public TO {}", owner.name))
        .await
        .unwrap();
    owner
        .connect()
        .await
        .batch_execute(&format!(
            "CREATE FUNCTION public.{function}(id int) RETURNS void
             LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public
             AS $$ SELECT sio_emit_args('orders', 'shipped',
                                        jsonb_build_array(id, '{{\"_placeholder\":true,\"num\":0}}'::jsonb),
                                        ARRAY['\\x0102'::bytea]) $$;
             REVOKE ALL ON FUNCTION public.{function}(int) FROM PUBLIC;
             GRANT EXECUTE ON FUNCTION public.{function}(int) TO {};",
            caller.name
        ))
        .await
        .unwrap();
    let db = caller.connect().await;
    // A long transaction: the attachment's created_at is refreshed at
    // COMMIT as the role that stored it, the caller having no right on it.
    db.batch_execute(&format!(
        "SET pg_socketio.channel_prefix = '{prefix}';
         BEGIN;
         SELECT {function}(7);
         SELECT pg_sleep(1.1);
         COMMIT;"
    ))
    .await
    .unwrap();
    let message = next_message(&mut listener, WAIT).await.1;
    match &message.body {
        Body::Broadcast {
            event, args, opts, ..
        } => {
            assert_eq!(event, "shipped");
            assert_eq!(opts.rooms, ["orders"]);
            assert_eq!(args, &[Value::from(7), Value::Binary(vec![1, 2])]);
        }
        other => panic!("not a broadcast: {other:?}"),
    }
    assert_eq!(
        refusal(&db, "SELECT sio_emit('orders', 'forged', '1')").await,
        "42501: permission denied for function sio_emit"
    );
    admin
        .batch_execute(&format!("DROP FUNCTION public.{function}(int)"))
        .await
        .unwrap();
    caller.drop_role(&admin).await;
    owner.drop_role(&admin).await;
}

#[tokio::test]
async fn the_rust_emitter_works_with_the_emitter_role() {
    let (admin, prefix, mut listener) = setup("perm_rust_emitter").await;
    let role = TestRole::create(&admin, "sio_it_rust_emitter", &["socketio_emitter"]).await;
    let db = role.connect().await;
    Emitter::new()
        .channel_prefix(&prefix)
        .broadcast()
        .emit(&db, "inline", &[1])
        .await
        .unwrap();
    assert_eq!(
        next_message(&mut listener, WAIT).await.1,
        broadcast("emitter", "inline", vec![Value::from(1)])
    );
    rust_binary_emit_arrives(&db, &prefix, &mut listener, 5).await;
    role.drop_role(&admin).await;
}
