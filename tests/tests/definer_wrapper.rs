//! The README's SECURITY DEFINER recipe, attacked by the role it is granted
//! to: nothing the caller controls (its temporary tables, its schemas, its
//! search_path, the extension's settings) makes the owner's emit touch
//! another table or run the caller's code with the owner's rights. The
//! owner here is `postgres`, a superuser, as in the README.

use std::time::Duration;

use pg_socketio_client::protocol::{Body, Message};
use pg_socketio_client::Listener;
use pg_socketio_kit::{
    connect, database_url, next_message, refused, texts, unique_prefix, TestRole,
};
use tokio_postgres::Client;

const WAIT: Duration = Duration::from_secs(10);

/// The wrapper, owned by the superuser; its name is unique to this run.
struct Wrapper {
    function: String,
}

impl Wrapper {
    async fn create(admin: &Client, caller: &TestRole) -> Wrapper {
        let function = format!("{}_shipped", caller.name);
        admin
            .batch_execute(&format!(
                "DROP FUNCTION IF EXISTS public.{function}(int, text);
                 CREATE FUNCTION public.{function}(id int, note text DEFAULT '') RETURNS void
                 LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public
                 AS $$ SELECT sio_emit('orders', 'shipped', jsonb_build_array(id, note)) $$;
                 REVOKE ALL ON FUNCTION public.{function}(int, text) FROM PUBLIC;
                 GRANT EXECUTE ON FUNCTION public.{function}(int, text) TO {};",
                caller.name
            ))
            .await
            .unwrap();
        Wrapper { function }
    }

    async fn drop(self, admin: &Client) {
        admin
            .batch_execute(&format!(
                "DROP FUNCTION public.{}(int, text)",
                self.function
            ))
            .await
            .unwrap();
    }
}

/// A superuser session, a listener on the test's prefix, and the attacker:
/// a role with nothing but EXECUTE on the wrapper (and TEMP, as PUBLIC has).
async fn setup(test: &str) -> (Client, Listener, TestRole, Wrapper, Client) {
    let admin = connect().await;
    let prefix = unique_prefix(test);
    let listener = Listener::builder(database_url())
        .channel_prefix(&prefix)
        .connect()
        .await
        .unwrap();
    let attacker = TestRole::create(&admin, &format!("sio_it_{test}"), &[]).await;
    let wrapper = Wrapper::create(&admin, &attacker).await;
    let db = attacker.connect().await;
    db.batch_execute(&format!(
        "SET pg_socketio.channel_prefix = '{prefix}';
         CREATE TEMP TABLE loot (who text);
         GRANT INSERT ON loot TO PUBLIC;"
    ))
    .await
    .unwrap();
    (admin, listener, attacker, wrapper, db)
}

/// Who the attacker's code ran as, if it ran at all.
async fn loot(db: &Client) -> Vec<String> {
    texts(db, "SELECT who FROM pg_temp.loot").await
}

/// The wrapper's emit reached the servers, from the real attachment table
/// or inline: `shipped [id, note]` to room `orders`.
async fn assert_shipped(listener: &mut Listener, id: i64, note_len: usize) {
    let message: Message = next_message(listener, WAIT).await.1;
    match &message.body {
        Body::Broadcast {
            event, args, opts, ..
        } => {
            assert_eq!(event, "shipped");
            assert_eq!(opts.rooms, ["orders"]);
            assert_eq!(args[0][0].as_i64(), Some(id));
            assert_eq!(args[0][1].as_str().map(str::len), Some(note_len));
        }
        other => panic!("not a broadcast: {other:?}"),
    }
}

#[tokio::test]
async fn a_temporary_table_named_like_the_attachment_table_is_never_used() {
    let (admin, mut listener, attacker, wrapper, db) = setup("definer_temp").await;
    db.batch_execute(&format!(
        "CREATE TEMP TABLE socket_io_attachments (id bigserial, created_at timestamptz, payload bytea);
         GRANT ALL ON socket_io_attachments TO PUBLIC;
         GRANT USAGE ON SEQUENCE socket_io_attachments_id_seq TO PUBLIC;
         CREATE FUNCTION pg_temp.evil() RETURNS trigger LANGUAGE plpgsql AS
           $$BEGIN INSERT INTO pg_temp.loot VALUES (current_user); RETURN NEW; END$$;
         CREATE TRIGGER e BEFORE INSERT ON socket_io_attachments
           FOR EACH ROW EXECUTE FUNCTION pg_temp.evil();
         SET pg_socketio.payload_threshold = 0;
         SELECT {}(1);",
        wrapper.function
    ))
    .await
    .unwrap();
    assert_shipped(&mut listener, 1, 0).await;
    assert_eq!(loot(&db).await, Vec::<String>::new());
    let rows: i64 = db
        .query_one("SELECT count(*) FROM pg_temp.socket_io_attachments", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
    wrapper.drop(&admin).await;
    attacker.drop_role(&admin).await;
}

#[tokio::test]
async fn the_caller_cannot_name_another_attachment_table() {
    let (admin, mut listener, attacker, wrapper, db) = setup("definer_setting").await;
    // Once the library is loaded (by the wrapper's emit), setting it is
    // refused...
    db.batch_execute(&format!("SELECT {}(1)", wrapper.function))
        .await
        .unwrap();
    assert_shipped(&mut listener, 1, 0).await;
    for table in [
        "pg_temp.socket_io_attachments",
        "public.socket_io_attachments",
    ] {
        let err = refused(
            &db,
            &format!("SET pg_socketio.attachment_table = '{table}'"),
        )
        .await;
        assert_eq!(
            (err.code().code(), err.message()),
            (
                "42501",
                "permission denied to set parameter \"pg_socketio.attachment_table\""
            )
        );
    }
    // ...and a value set before it was loaded is dropped when it loads.
    let fresh = attacker.connect().await;
    fresh
        .batch_execute(&format!(
            "SET pg_socketio.attachment_table = 'pg_temp.x';
             SET pg_socketio.payload_threshold = 0;
             SET pg_socketio.channel_prefix = '{}';
             SELECT {}(2);",
            listener_prefix(&db).await,
            wrapper.function
        ))
        .await
        .unwrap();
    assert_shipped(&mut listener, 2, 0).await;
    let setting: String = fresh
        .query_one("SHOW pg_socketio.attachment_table", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(setting, "socket_io_attachments");
    wrapper.drop(&admin).await;
    attacker.drop_role(&admin).await;
}

async fn listener_prefix(db: &Client) -> String {
    db.query_one("SHOW pg_socketio.channel_prefix", &[])
        .await
        .unwrap()
        .get(0)
}

/// The COMMIT-time refresh of a long transaction's attachment, with the
/// caller's search_path putting its own functions and operators first.
#[tokio::test]
async fn the_commit_refresh_runs_nothing_of_the_caller() {
    let (admin, mut listener, attacker, wrapper, db) = setup("definer_commit").await;
    let schema = format!("att_{}", std::process::id());
    admin
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE;
             CREATE SCHEMA {schema} AUTHORIZATION {};",
            attacker.name
        ))
        .await
        .unwrap();
    db.batch_execute(&format!(
        "CREATE FUNCTION {schema}.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS
           $$BEGIN INSERT INTO pg_temp.loot VALUES (current_user); RETURN pg_catalog.clock_timestamp(); END$$;
         CREATE FUNCTION {schema}.format(text, name, name) RETURNS text LANGUAGE plpgsql AS
           $$BEGIN INSERT INTO pg_temp.loot VALUES (current_user); RETURN pg_catalog.format($1, $2, $3); END$$;
         CREATE FUNCTION {schema}.eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
           $$BEGIN INSERT INTO pg_temp.loot VALUES (current_user); RETURN $1 OPERATOR(pg_catalog.=) $2; END$$;
         CREATE OPERATOR {schema}.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = {schema}.eq);
         GRANT USAGE ON SCHEMA {schema} TO PUBLIC;
         GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {schema} TO PUBLIC;
         BEGIN;
         SET LOCAL search_path = {schema}, pg_catalog;
         SELECT public.{function}(3, repeat('x', 9000));
         SELECT pg_catalog.pg_sleep(1.1);
         COMMIT;",
        function = wrapper.function
    ))
    .await
    .unwrap();
    assert_shipped(&mut listener, 3, 9000).await;
    assert_eq!(loot(&db).await, Vec::<String>::new());
    admin
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
    wrapper.drop(&admin).await;
    attacker.drop_role(&admin).await;
}

/// A trigger the attachment table's owner put on it runs as that owner,
/// not as the superuser whose definer function emitted.
#[tokio::test]
async fn the_table_owners_trigger_runs_as_the_owner() {
    let (admin, listener, attacker, wrapper, db) = setup("definer_owner").await;
    let owner = TestRole::create(&admin, "sio_it_table_owner", &[]).await;
    let table = format!("owned_att_{}", std::process::id());
    drop(listener);
    let mut listener = Listener::builder(database_url())
        .channel_prefix(listener_prefix(&db).await)
        .attachment_table(format!("public.{table}"))
        .connect()
        .await
        .unwrap();
    admin
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS public.{table};
             CREATE TABLE public.{table} (id bigserial, created_at timestamptz DEFAULT now(), payload bytea);
             CREATE TABLE IF NOT EXISTS public.definer_owner_log (who text);
             TRUNCATE public.definer_owner_log;
             GRANT INSERT ON public.definer_owner_log TO PUBLIC;
             ALTER TABLE public.{table} OWNER TO {owner};
             CREATE FUNCTION public.{table}_log() RETURNS trigger LANGUAGE plpgsql AS
               $$BEGIN INSERT INTO public.definer_owner_log VALUES (current_user); RETURN NEW; END$$;
             ALTER FUNCTION public.{table}_log() OWNER TO {owner};
             CREATE TRIGGER log BEFORE INSERT ON public.{table}
               FOR EACH ROW EXECUTE FUNCTION public.{table}_log();
             ALTER ROLE {attacker} SET pg_socketio.attachment_table = 'public.{table}';",
            owner = owner.name,
            attacker = attacker.name
        ))
        .await
        .unwrap();
    let db2 = attacker.connect().await;
    db2.batch_execute(&format!(
        "SET pg_socketio.channel_prefix = '{}';
         SET pg_socketio.payload_threshold = 0;
         SELECT {}(4);",
        listener_prefix(&db).await,
        wrapper.function
    ))
    .await
    .unwrap();
    assert_shipped(&mut listener, 4, 0).await;
    let who = texts(&admin, "SELECT who FROM public.definer_owner_log").await;
    assert_eq!(who, std::slice::from_ref(&owner.name));
    admin
        .batch_execute(&format!(
            "DROP TABLE public.{table}; DROP FUNCTION public.{table}_log();
             DROP TABLE public.definer_owner_log;"
        ))
        .await
        .unwrap();
    wrapper.drop(&admin).await;
    attacker.drop_role(&admin).await;
    owner.drop_role(&admin).await;
}
