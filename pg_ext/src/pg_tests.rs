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
            "SELECT sio_emit(NULL, 'tick')",
            "SELECT sio_emit(ARRAY[]::text[], 'tick', 'null')",
            r#"SELECT sio_emit('r', 'e', '"x"', nsp => '/admin', except_rooms => ARRAY['s'], volatile => true, compress => false)"#,
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

    /// Every refused call: its SQLSTATE and the start of its message.
    #[pg_test]
    fn bad_input_is_refused_with_sqlstate() {
        let long_nsp = format!("/{}", "a".repeat(53));
        let cases: Vec<(String, &str)> = vec![
            (
                "SELECT sio_emit('r', NULL)".into(),
                "22004: event must not be NULL",
            ),
            (
                "SELECT sio_emit('r', 'e', nsp => NULL)".into(),
                "22004: nsp must not be NULL",
            ),
            (
                "SELECT sio_emit('r', 'e', volatile => NULL)".into(),
                "22004: volatile must not be NULL",
            ),
            (
                "SELECT sio_emit('r', 'e', compress => NULL)".into(),
                "22004: compress must not be NULL",
            ),
            (
                "SELECT sio_emit(ARRAY['a', NULL], 'e')".into(),
                "22004: rooms must not be NULL",
            ),
            (
                "SELECT sio_emit('r', 'e', except_rooms => ARRAY[NULL::text])".into(),
                "22004: except_rooms must not be NULL",
            ),
            (
                "SELECT sio_emit('r', 'connect')".into(),
                "22023: \"connect\" is a reserved event name",
            ),
            (
                "SELECT sio_emit('r', 'disconnect')".into(),
                "22023: \"disconnect\" is a reserved event name",
            ),
            (
                "SELECT sio_emit('r', 'newListener')".into(),
                "22023: \"newListener\" is a reserved event name",
            ),
            (
                "SELECT sio_emit('r', 'e', nsp => 'admin')".into(),
                "22023: namespace \"admin\" is invalid",
            ),
            (
                "SELECT sio_emit('r', 'e', nsp => '')".into(),
                "22023: namespace \"\" is invalid",
            ),
            (
                format!("SELECT sio_emit('r', 'e', nsp => '{long_nsp}')"),
                "22023: channel name \"socket.io#/aaa",
            ),
            (
                "SET LOCAL pg_socketio.channel_prefix = ''; SELECT sio_emit('r', 'e')".into(),
                "22023: the channel prefix must not be empty",
            ),
        ];
        for (sql, expected) in cases {
            let got = outcome(&sql);
            assert!(
                got.starts_with(expected),
                "{sql}\n  got: {got}\n  expected: {expected}"
            );
        }
    }

    #[pg_test]
    fn payload_threshold_setting_is_bounded() {
        assert!(outcome("SET pg_socketio.payload_threshold = 8001").starts_with("22023"));
        assert!(outcome("SET pg_socketio.payload_threshold = -1").starts_with("22023"));
        assert_eq!(outcome("SET pg_socketio.payload_threshold = 0"), "ok");
    }
}
