//! In-database tests (`cargo pgrx test`). Each runs in a transaction that the
//! harness rolls back, so no notification is ever delivered here: delivery is
//! tested from outside, in `tests/` at the top of the repository.

use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    /// Runs `sql`; returns "SQLSTATE: message", or "ok".
    fn outcome(sql: &str) -> String {
        Spi::run(
            "CREATE OR REPLACE FUNCTION pg_temp.outcome(q text) RETURNS text LANGUAGE plpgsql AS $$
             BEGIN EXECUTE q; RETURN 'ok';
             EXCEPTION WHEN others THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$",
        )
        .unwrap();
        Spi::get_one_with_args::<String>("SELECT pg_temp.outcome($1)", &[sql.into()])
            .unwrap()
            .unwrap()
    }

    #[pg_test]
    fn valid_emits_succeed() {
        for sql in [
            r#"SELECT sio_emit('room1', 'ping', '{"n":1}')"#,
            r#"SELECT sio_emit(ARRAY['a','b'], 'ping', '[1,2]')"#,
            "SELECT sio_emit(ARRAY[]::text[], 'tick')",
            "SELECT sio_emit('{}', 'tick', 'null')",
            r#"SELECT sio_emit('r', 'e', '"x"', nsp => '/admin', except_rooms => ARRAY['s'], volatile => true, compress => false)"#,
            r#"SELECT sio_emit_args('r', 'e', '[1, {"a": 2}, "three"]')"#,
        "SELECT sio_emit_args(ARRAY['r'], 'e')",
        "SELECT sio_sockets_join(ARRAY['a'], ARRAY['b', 'c'])",
        "SELECT sio_sockets_join(ARRAY[]::text[], ARRAY[]::text[], nsp => '/admin', except_rooms => ARRAY['x'])",
        "SELECT sio_sockets_leave(ARRAY['a'], ARRAY['b'])",
        "SELECT sio_disconnect_sockets(ARRAY['a'])",
        "SELECT sio_disconnect_sockets(ARRAY[]::text[], close => true, nsp => '/admin')",
        r#"SELECT sio_server_side_emit('hello', '[1]')"#,
        "SELECT sio_server_side_emit('connect_ok')",
        "SELECT sio_cleanup()",
        "SELECT sio_cleanup('1 hour')",
        "SELECT sio_room('conversation:{id}', '{\"id\": 7}')",
        // One rule for JSON, inline or attached: any number, any depth.
        "SET LOCAL pg_socketio.payload_threshold = 0; SELECT sio_emit('r', 'inf', ('1' || repeat('0', 400))::jsonb)",
        "SET LOCAL pg_socketio.payload_threshold = 0; SELECT sio_emit('r', 'deep', (repeat('[', 3000) || repeat(']', 3000))::jsonb)",
        "SELECT sio_emit('r', 'deep', (repeat('[', 3000) || repeat(']', 3000))::jsonb)",
        // The longest namespace that fits the default prefix: 53 bytes.
            &format!("SELECT sio_emit('r', 'e', nsp => '/{}')", "a".repeat(52)),
        ] {
            assert_eq!(outcome(sql), "ok", "{sql}");
        }
    }

    #[pg_test]
    fn emits_from_a_trigger() {
        Spi::run(
            "CREATE TEMP TABLE msgs (room text, body text);
             CREATE FUNCTION pg_temp.on_msg() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN PERFORM sio_emit(NEW.room, 'message', to_jsonb(NEW)); RETURN NEW; END $$;
             CREATE TRIGGER t AFTER INSERT ON msgs FOR EACH ROW EXECUTE FUNCTION pg_temp.on_msg();
             INSERT INTO msgs VALUES ('r1', 'hello'), ('r2', 'world');",
        )
        .unwrap();
        assert_eq!(
            Spi::get_one::<i64>("SELECT count(*) FROM msgs").unwrap(),
            Some(2)
        );
    }

    /// A table with an `sio_trigger` defined as given, and a row inserted.
    fn trigger_case(when: &str, args: &str) -> String {
        trigger_at_level(when, "ROW", args)
    }

    /// The same FOR EACH STATEMENT (without transition tables).
    fn trigger_statement_case(when: &str, args: &str) -> String {
        trigger_at_level(when, "STATEMENT", args)
    }

    fn trigger_at_level(when: &str, level: &str, args: &str) -> String {
        format!(
            "CREATE TEMP TABLE IF NOT EXISTS trig (id int);
             DROP TRIGGER IF EXISTS t ON trig;
             CREATE TRIGGER t {when} ON trig FOR EACH {level} EXECUTE FUNCTION sio_trigger({args});
             INSERT INTO trig VALUES (1)"
        )
    }

    fn attachment_rows() -> i64 {
        Spi::get_one::<i64>("SELECT count(*) FROM socket_io_attachments")
            .unwrap()
            .unwrap()
    }

    /// Every refused call: its SQLSTATE and the start of its message. Each
    /// leaves nothing behind: no attachment row (and, since the statement
    /// fails, no notification).
    #[pg_test]
    fn bad_input_is_refused_with_sqlstate() {
        let long_nsp = format!("/{}", "a".repeat(53));
        let file = r#"'[{"_placeholder":true,"num":0}]'"#;
        let cases: Vec<(String, &str)> = vec![
            ("SELECT sio_emit('r', NULL)".into(), "22004: event must not be NULL"),
            ("SELECT sio_emit('r', 'e', nsp => NULL)".into(), "22004: nsp must not be NULL"),
            ("SELECT sio_emit('r', 'e', volatile => NULL)".into(), "22004: volatile must not be NULL"),
            ("SELECT sio_emit('r', 'e', compress => NULL)".into(), "22004: compress must not be NULL"),
            ("SELECT sio_emit(ARRAY['a', NULL], 'e')".into(), "22004: rooms must not be NULL"),
            ("SELECT sio_emit('r', 'e', except_rooms => ARRAY[NULL::text])".into(), "22004: except_rooms must not be NULL"),
            ("SELECT sio_emit('r', 'connect')".into(), "22023: \"connect\" is a reserved event name"),
            ("SELECT sio_emit('r', 'disconnect')".into(), "22023: \"disconnect\" is a reserved event name"),
            ("SELECT sio_emit('r', 'newListener')".into(), "22023: \"newListener\" is a reserved event name"),
            ("SELECT sio_emit('r', 'e', nsp => 'admin')".into(), "22023: namespace \"admin\" is invalid"),
            ("SELECT sio_emit('r', 'e', nsp => '')".into(), "22023: namespace \"\" is invalid"),
            (format!("SELECT sio_emit('r', 'e', nsp => '{long_nsp}')"), "22023: channel name \"socket.io#/aaa"),
            ("SET LOCAL pg_socketio.channel_prefix = ''; SELECT sio_emit('r', 'e')".into(), "22023: the channel prefix must not be empty"),
            ("SELECT sio_emit_args('r', 'e', '{\"a\":1}')".into(), "22023: args must be a JSON array (one element per argument), not an object"),
            ("SELECT sio_emit_args('r', 'e', NULL)".into(), "ok"),
            (format!("SELECT sio_emit_args('r', 'e', {file})"), "22023: placeholder {\"_placeholder\":true,\"num\":0} names no binary argument"),
            (format!("SELECT sio_emit_args('r', 'e', {file}, ARRAY['\\x01'::bytea, '\\x02'])"), "22023: binary argument 1 is not used"),
            (format!("SELECT sio_emit_args('r', 'e', {file}, ARRAY[NULL::bytea])"), "22004: binary_args must not be NULL"),
            (format!("SELECT sio_emit_args('r', 'connect', {file}, ARRAY['\\x01'::bytea])"), "22023: \"connect\" is a reserved event name"),
            ("SELECT sio_sockets_join(ARRAY['a'], NULL)".into(), "22004: join_rooms must not be NULL"),
            ("SELECT sio_sockets_leave(ARRAY['a'], ARRAY[NULL::text])".into(), "22004: leave_rooms must not be NULL"),
            ("SELECT sio_disconnect_sockets(ARRAY[]::text[], close => NULL)".into(), "22004: close must not be NULL"),
            ("SELECT sio_server_side_emit('connection')".into(), "22023: \"connection\" is a reserved event name"),
            ("SELECT sio_server_side_emit('new_namespace')".into(), "22023: \"new_namespace\" is a reserved event name"),
            ("SELECT sio_server_side_emit(NULL)".into(), "22004: event must not be NULL"),
            ("SELECT sio_cleanup('-1 second')".into(), "22023: older_than must not be negative"),
            ("SELECT sio_cleanup('1 month -31 days')".into(), "22023: older_than must not be negative"),
            // NULL is never "every socket" (the empty array is).
            ("SELECT sio_emit(NULL, 'e')".into(), "22004: rooms must not be NULL: NULL is not a room"),
            ("SELECT sio_emit(NULL::text[], 'e', '1')".into(), "22004: rooms must not be NULL: NULL is not a room"),
            ("SELECT sio_emit((SELECT 'r' WHERE false), 'private', '1')".into(), "22004: rooms must not be NULL: NULL is not a room"),
            ("SELECT sio_emit((SELECT array_agg(x) FROM generate_series(1, 0) x)::text[], 'private', '1')".into(), "22004: rooms must not be NULL: NULL is not a room"),
            (format!("SELECT sio_emit_args(NULL::text, 'e', {file}, ARRAY['\\x01'::bytea])"), "22004: rooms must not be NULL: NULL is not a room"),
            ("SELECT sio_emit_args(NULL::text[], 'e')".into(), "22004: rooms must not be NULL: NULL is not a room"),
            ("SELECT sio_sockets_join(NULL, ARRAY['a'])".into(), "22004: rooms must not be NULL: NULL is not a room"),
            ("SELECT sio_sockets_leave(NULL, ARRAY['a'])".into(), "22004: rooms must not be NULL: NULL is not a room"),
            ("SELECT sio_disconnect_sockets(NULL)".into(), "22004: rooms must not be NULL: NULL is not a room"),
            // Emits are writes, inline or not.
            ("SET LOCAL transaction_read_only = on; SELECT sio_emit('r', 'e')".into(), "25006: cannot execute sio_emit in a read-only transaction"),
            (format!("SET LOCAL transaction_read_only = on; SELECT sio_emit_args('r', 'e', {file}, ARRAY['\\x01'::bytea])"), "25006: cannot execute sio_emit_args in a read-only transaction"),
            ("SET LOCAL transaction_read_only = on; SELECT sio_sockets_join(ARRAY['a'], ARRAY['b'])".into(), "25006: cannot execute sio_sockets_join in a read-only transaction"),
            // The attachment table: never found through search_path, never
            // a temporary table, always a name.
            (format!("SET LOCAL pg_socketio.attachment_table = 'nope'; SELECT sio_emit_args('r', 'e', {file}, ARRAY['\\x01'::bytea])"), "42P01: attachment table \"nope\" does not exist"),
            (format!("SET LOCAL pg_socketio.attachment_table = 'pg_temp.socket_io_attachments'; SELECT sio_emit_args('r', 'e', {file}, ARRAY['\\x01'::bytea])"), "42P01: attachment table \"pg_temp.socket_io_attachments\" does not exist"),
            (format!("CREATE TEMP TABLE tmp_att (id bigserial, created_at timestamptz, payload bytea); \
                      SELECT set_config('pg_socketio.attachment_table', pg_my_temp_schema()::regnamespace || '.tmp_att', true); \
                      SELECT sio_emit_args('r', 'e', {file}, ARRAY['\\x01'::bytea])"), "22023: attachment table \"pg_temp_"),
            (format!("SET LOCAL pg_socketio.attachment_table = 'a.b.c'; SELECT sio_emit_args('r', 'e', {file}, ARRAY['\\x01'::bytea])"), "22023: attachment table name \"a.b.c\" is not an SQL name"),
            (format!("CREATE TABLE bad_att (id int); SET LOCAL pg_socketio.attachment_table = 'bad_att'; SELECT sio_emit_args('r', 'e', {file}, ARRAY['\\x01'::bytea])"), "42703: attachment table public.bad_att has no column \"payload\""),
            ("SELECT sio_room('c:{nope}', '{\"id\":1}')".into(), "42703: room template names column \"nope\""),
            ("SELECT sio_room('c:{id', '{\"id\":1}')".into(), "22023: room template has an unbalanced brace"),
            ("SELECT sio_room('', '{\"id\":1}')".into(), "22023: room template must not be empty"),
            ("SELECT sio_room('c', '[1]')".into(), "22023: row must be a JSON object"),
            (trigger_case("BEFORE INSERT", "'c:{id}'"), "22023: sio_trigger must be an AFTER trigger"),
            (trigger_case("AFTER INSERT", ""), "22023: sio_trigger's arguments are invalid: a room template is required"),
            (trigger_case("AFTER INSERT", "'c:{id'"), "22023: sio_trigger's arguments are invalid: room template has an unbalanced brace"),
            (trigger_case("AFTER INSERT", "'c', 'e', '/', 'extra'"), "22023: sio_trigger's arguments are invalid: argument 4 (\"extra\") is not an option"),
            (trigger_case("AFTER INSERT", "'c', 'columns=id', 'exclude=id'"), "22023: sio_trigger's arguments are invalid: give columns= or exclude=, once"),
            (trigger_case("AFTER INSERT", "'c:{nope}'"), "42703: sio_trigger names column \"nope\", which the table does not have"),
            (trigger_case("AFTER INSERT", "'c', 'columns=nope'"), "42703: sio_trigger names column \"nope\", which the table does not have"),
            (trigger_case("AFTER INSERT", "'c', 'nsp=admin'"), "22023: sio_trigger's arguments are invalid: namespace \"admin\" is invalid"),
            // A trigger made without the check (as under 0.2.0) is refused
            // by the same check when it fires.
            ("ALTER EVENT TRIGGER pg_socketio_check_triggers DISABLE; CREATE TEMP TABLE fired (id int); CREATE TRIGGER t BEFORE INSERT ON fired FOR EACH ROW EXECUTE FUNCTION sio_trigger('c'); INSERT INTO fired VALUES (1)".into(), "22023: sio_trigger must be an AFTER trigger"),
            ("ALTER EVENT TRIGGER pg_socketio_check_triggers DISABLE; CREATE TEMP TABLE fired (id int); CREATE TRIGGER t AFTER INSERT ON fired FOR EACH ROW EXECUTE FUNCTION sio_trigger('c', 'e', '/', 'extra'); INSERT INTO fired VALUES (1)".into(), "22023: sio_trigger's arguments are invalid: argument 4"),
            // Refused by CREATE TRIGGER itself, before any write.
            ("CREATE TEMP TABLE only_created (id int); CREATE TRIGGER t AFTER INSERT ON only_created FOR EACH ROW EXECUTE FUNCTION sio_trigger('c:{nope}')".into(), "42703: sio_trigger names column \"nope\""),
            ("CREATE TEMP TABLE only_created (id int); CREATE TRIGGER t BEFORE INSERT ON only_created FOR EACH ROW EXECUTE FUNCTION sio_trigger('c')".into(), "22023: sio_trigger must be an AFTER trigger"),
            (trigger_statement_case("AFTER INSERT", "'c:{id}'"), "22023: sio_trigger FOR EACH STATEMENT needs the statement's transition tables"),
            ("CREATE TEMP TABLE trunc (id int); CREATE TRIGGER t AFTER TRUNCATE ON trunc FOR EACH STATEMENT EXECUTE FUNCTION sio_trigger('c'); TRUNCATE trunc".into(), "22023: sio_trigger cannot emit TRUNCATE"),
            ("CREATE TEMP TABLE disconnect (id int); CREATE TRIGGER t AFTER INSERT ON disconnect FOR EACH ROW EXECUTE FUNCTION sio_trigger('c'); INSERT INTO disconnect VALUES (1)".into(), "22023: table \"disconnect\" is named like a reserved event"),
            ("SET pg_socketio.payload_threshold = 8001".into(), "22023"),
            ("SET pg_socketio.payload_threshold = -1".into(), "22023"),
        ];
        let rows = attachment_rows();
        for (sql, expected) in cases {
            let got = outcome(&sql);
            assert!(
                got.starts_with(expected),
                "{sql}\n  got: {got}\n  expected: {expected}"
            );
            assert_eq!(attachment_rows(), rows, "{sql} left an attachment row");
        }
    }

    #[pg_test]
    fn binary_and_large_messages_go_to_the_attachment_table() {
        let rows = attachment_rows();
        Spi::run(r#"SELECT sio_emit_args('r', 'file', '[{"name":"a.png"},{"_placeholder":true,"num":0}]', ARRAY['\x89504e47'::bytea])"#).unwrap();
        assert_eq!(attachment_rows(), rows + 1);
        // A small message stays inline; one of 8000+ bytes does not.
        Spi::run("SELECT sio_emit('r', 'small', to_jsonb(repeat('a', 100)))").unwrap();
        assert_eq!(attachment_rows(), rows + 1);
        Spi::run("SELECT sio_emit('r', 'large', to_jsonb(repeat('é', 4000)))").unwrap();
        assert_eq!(attachment_rows(), rows + 2);
        // Every message, when the threshold is 0.
        Spi::run("SET LOCAL pg_socketio.payload_threshold = 0; SELECT sio_sockets_join(ARRAY[]::text[], ARRAY['x'])").unwrap();
        assert_eq!(attachment_rows(), rows + 3);
        // MessagePack maps (fixmap 0x8N or map16 0xde) with created_at fresh.
        let first = Spi::get_one::<i32>(
            "SELECT get_byte(payload, 0) FROM socket_io_attachments ORDER BY id DESC LIMIT 1",
        )
        .unwrap()
        .unwrap();
        assert!(
            (0x80..=0x8f).contains(&first) || first == 0xde,
            "{first:#x}"
        );
    }

    #[pg_test]
    fn cleanup_deletes_only_old_rows() {
        Spi::run(
            "INSERT INTO socket_io_attachments (created_at, payload) VALUES
               (clock_timestamp() - interval '1 hour', '\\x00'),
               (clock_timestamp() - interval '31 seconds', '\\x00'),
               (clock_timestamp(), '\\x00')",
        )
        .unwrap();
        assert_eq!(
            Spi::get_one::<i64>("SELECT sio_cleanup('10 minutes')").unwrap(),
            Some(1)
        );
        assert_eq!(
            Spi::get_one::<i64>("SELECT sio_cleanup()").unwrap(),
            Some(1)
        );
        assert_eq!(
            Spi::get_one::<i64>("SELECT sio_cleanup()").unwrap(),
            Some(0)
        );
        // Compared as PostgreSQL compares intervals: 23 hours is not
        // negative; an age beyond the timestamp range has nothing older.
        for (age, deleted) in [("1 day -1 hour", 0), ("290000 years", 0), ("0", 1)] {
            assert_eq!(
                Spi::get_one_with_args::<i64>("SELECT sio_cleanup($1::interval)", &[age.into()])
                    .unwrap(),
                Some(deleted),
                "{age}"
            );
        }
        assert_eq!(attachment_rows(), 0);
    }

    /// A room is the column's text exactly, never through a float; a huge
    /// number elsewhere in the row does not matter.
    #[pg_test]
    fn rooms_are_the_columns_text() {
        for (row, room) in [
            (
                r#"{"n": 123456789012345678901234567890}"#,
                Some("acct:123456789012345678901234567890"),
            ),
            (
                r#"{"n": 123456789012345678901234567891}"#,
                Some("acct:123456789012345678901234567891"),
            ),
            (r#"{"n": 1.50}"#, Some("acct:1.50")),
            (r#"{"n": "x\"y"}"#, Some("acct:x\"y")),
            (r#"{"n": true}"#, Some("acct:true")),
            (r#"{"n": null}"#, None),
        ] {
            assert_eq!(
                Spi::get_one_with_args::<String>(
                    "SELECT sio_room('acct:{n}', $1::jsonb)",
                    &[row.into()]
                )
                .unwrap()
                .as_deref(),
                room,
                "{row}"
            );
        }
        Spi::run(
            "CREATE TEMP TABLE huge (id int, x numeric);
             CREATE TRIGGER t AFTER INSERT OR UPDATE OR DELETE ON huge
               FOR EACH ROW EXECUTE FUNCTION sio_trigger('r:{id}');
             INSERT INTO huge VALUES (1, ('1' || repeat('0', 400))::numeric);
             UPDATE huge SET id = 2;
             DELETE FROM huge;",
        )
        .unwrap();
    }

    /// sio_trigger pins its search_path; the attachment table is found all
    /// the same (0.2.0 failed such a row with 42P01).
    #[pg_test]
    fn a_large_row_from_sio_trigger_goes_to_the_attachment_table() {
        let rows = attachment_rows();
        Spi::run(
            "CREATE TEMP TABLE big_rows (id int, body text);
             CREATE TRIGGER t AFTER INSERT ON big_rows
               FOR EACH ROW EXECUTE FUNCTION sio_trigger('r:{id}');
             INSERT INTO big_rows VALUES (1, repeat('x', 9000));",
        )
        .unwrap();
        assert_eq!(attachment_rows(), rows + 1);
    }

    /// A table of the caller's in pg_temp, named like the attachment table,
    /// is never used: the name is looked up in the extension's schema.
    #[pg_test]
    fn a_temporary_table_never_stands_in_for_the_attachment_table() {
        let rows = attachment_rows();
        Spi::run(
            r#"CREATE TEMP TABLE socket_io_attachments (id bigserial, created_at timestamptz, payload bytea);
               SET LOCAL pg_socketio.payload_threshold = 0;
               SELECT sio_emit('r', 'e', '1');"#,
        )
        .unwrap();
        assert_eq!(
            Spi::get_one::<i64>("SELECT count(*) FROM pg_temp.socket_io_attachments").unwrap(),
            Some(0)
        );
        assert_eq!(
            Spi::get_one::<i64>("SELECT count(*) FROM public.socket_io_attachments").unwrap(),
            Some(rows + 1)
        );
    }

    #[pg_test]
    fn the_extension_table_is_unlogged_and_private() {
        let (persistence, acl) = Spi::get_two::<String, String>(
            "SELECT relpersistence::text, coalesce(relacl::text, '') FROM pg_class
              WHERE oid = 'socket_io_attachments'::regclass",
        )
        .unwrap();
        assert_eq!(persistence.as_deref(), Some("u"));
        assert!(!acl.unwrap_or_default().contains("=r"), "no PUBLIC grant");
    }

    /// The text the extension writes for a jsonb or numeric value from its
    /// bytes (for `sio_emit`'s argument, `sio_trigger`'s columns); NULL
    /// where it leaves that to PostgreSQL.
    #[pg_extern]
    fn written_here(value: pgrx::AnyElement) -> Option<String> {
        use pg_socketio_protocol::DatumKind;
        let kind = match value.oid() {
            pg_sys::JSONBOID => DatumKind::Jsonb,
            pg_sys::NUMERICOID => DatumKind::Numeric,
            other => panic!("not jsonb or numeric: {other:?}"),
        };
        // SAFETY: a value of the type `kind` reads, palloc'd text.
        unsafe {
            crate::datum_text::written_here(value.datum().cast_mut_ptr(), kind, |len| {
                pg_sys::palloc(len)
            })
        }
        .map(str::to_owned)
    }

    #[pg_test]
    fn jsonb_and_numeric_are_written_as_their_output_functions_write_them() {
        Spi::run(
            r#"SELECT setseed(0.5);
            CREATE TEMP TABLE samples(j jsonb);
            INSERT INTO samples SELECT v::jsonb FROM unnest(ARRAY[
              'null', 'true', 'false', '0', '-0', '0.0', '1.50', '-1.5e-10', '1e400',
              '1e-400', '123456789012345678901234567890.123456789', '0.0001', '0.00001',
              '9999', '10000', '10001', '99999999', '100000000', '-0.000000001',
              '3.14159265358979323846264338327950288419716939937510',
              '"plain"', '""', '"\u0001\u001f \b\f\n\r\t \"\\ / é ✓ 😀"', '[]', '{}',
              '[[]]', '[{}]', '{"a":{}}', '{"":1}', '[1,[2,[3,[4,[5]]]]]',
              '{"b":1,"a":2,"aa":[1,"x",null,true,false,{"k":"v"}],"a\"b":"c\\d"}']) v;
            -- numbers of every size and scale, short and long formats
            INSERT INTO samples SELECT to_jsonb(round(((random() - 0.5) * 10 ^ (i % 60))::numeric, i % 25))
              FROM generate_series(1, 3000) i;
            INSERT INTO samples SELECT to_jsonb(x) FROM generate_series(-1100, 1100) x;
            INSERT INTO samples SELECT to_jsonb(('1e' || e)::numeric) FROM generate_series(-140, 140) e;
            INSERT INTO samples SELECT to_jsonb(('-1.' || repeat('0', s) || '7')::numeric)
              FROM generate_series(0, 140, 7) s;
            -- containers on both sides of the 32-entry stride of stored ends
            INSERT INTO samples SELECT (SELECT jsonb_agg(k) FROM generate_series(1, n) k)
              FROM generate_series(1, 100) n;
            INSERT INTO samples SELECT (SELECT jsonb_object_agg('k' || k, repeat('v', k % 7))
              FROM generate_series(1, n) k) FROM generate_series(1, 100) n;
            -- every character below 300 in keys and strings
            INSERT INTO samples SELECT jsonb_build_object(chr(c), chr(c) || 'x') FROM generate_series(1, 300) c;
            INSERT INTO samples SELECT to_jsonb(r) FROM (SELECT 1 AS i, now() AS t, '\x00ff'::bytea AS b,
              ARRAY[1.5, NULL] AS a, point(1, 2) AS p, interval '1 day' AS d, '{"x": [1]}'::json AS js) r;
            -- nested 60 to 70 levels: beyond MAX_DEPTH (64) left to PostgreSQL
            INSERT INTO samples SELECT (repeat('[', d) || repeat(']', d))::jsonb FROM generate_series(60, 70) d;
            -- compressed, stored out of line: left to PostgreSQL
            INSERT INTO samples SELECT jsonb_agg(jsonb_build_object('n', k, 's', 'same text'))
              FROM generate_series(1, 5000) k;"#,
        )
        .unwrap();
        let count = |sql: &str| Spi::get_one::<i64>(sql).unwrap().unwrap();
        // As stored: small values with a 1-byte header, read unaligned.
        let wrong = "SELECT count(*) FROM samples
            WHERE tests.written_here(j) IS DISTINCT FROM j::text AND tests.written_here(j) IS NOT NULL";
        assert_eq!(count(wrong), 0);
        let left = "SELECT count(*) FROM samples WHERE tests.written_here(j) IS NULL";
        // Nested 66 to 70 levels, and the compressed one.
        assert_eq!(count(left), 6);
        // Built in memory: 4-byte headers, the large one detoasted.
        let differ = "SELECT count(*) FROM samples
            WHERE tests.written_here(j::text::jsonb) IS DISTINCT FROM j::text";
        assert_eq!(count(differ), 5);
        assert!(count("SELECT count(*) FROM samples") > 6_000);
        // numeric columns (sio_trigger's rows), from the numbers above.
        Spi::run(
            "CREATE TEMP TABLE numbers AS SELECT (j #>> '{}')::numeric AS n FROM samples
              WHERE jsonb_typeof(j) = 'number'
             UNION ALL SELECT 'NaN' UNION ALL SELECT 'Infinity' UNION ALL SELECT '-Infinity'",
        )
        .unwrap();
        let wrong =
            "SELECT count(*) FROM numbers WHERE tests.written_here(n) IS DISTINCT FROM n::text";
        assert_eq!(count(wrong), 3, "all but NaN and the infinities");
        let wrong = "SELECT count(*) FROM numbers WHERE tests.written_here(n + 0) IS DISTINCT FROM (n + 0)::text";
        assert_eq!(count(wrong), 3);
        assert!(count("SELECT count(*) FROM numbers") > 5_000);
    }
}
