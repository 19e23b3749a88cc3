//! `sio_trigger` writes each row's JSON itself, from the tuple: it must be
//! byte for byte what `row_to_json` writes for every column type, under
//! session settings that change how values print. In a database of its own,
//! with the extensions `hstore` (whose cast to `json` `row_to_json` uses)
//! and `citext` (which has none) where the server has them (the PostgreSQL
//! 16 wheel ships no contrib modules; enums, domains and composites made
//! here take the same path as types of extensions).

use std::time::Duration;

use pg_socketio_kit::{
    drop_scratch_database, emitter, refusal, scratch_database, scratch_url, texts, unique_prefix,
    RawListener,
};
use tokio_postgres::Client;

const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(300);

/// Columns of every kind `datum_to_json` tells apart, with a dropped one in
/// the middle and a domain, an enum, a composite and arrays of several kinds.
const TABLE: &str = r#"
    CREATE EXTENSION pg_socketio;
    CREATE TYPE pg_temp.mood AS ENUM ('ok', 'so "so"');
    CREATE TYPE pg_temp.pair AS (a int, b text);
    CREATE DOMAIN pg_temp.email AS text CHECK (VALUE LIKE '%@%');
    CREATE DOMAIN pg_temp.small AS int;
    CREATE TEMP TABLE every_type (
        id int, b bool, i2 int2, i8 int8, f4 float4, f8 float8, n numeric,
        gone text, t text, vc varchar(10), c char(4), nm name, ch "char",
        j json, jb jsonb, d date, ts timestamp, tz timestamptz, tm time, ttz timetz,
        iv interval, by bytea, u uuid, ip inet, money money, pt point, r int4range,
        ints int[], grid text[][], tzs timestamptz[], e pg_temp.mood, p pg_temp.pair,
        mail pg_temp.email, s pg_temp.small, o oid, tv tsvector, bits bit varying,
        "we""ird key" int);
    ALTER TABLE every_type DROP COLUMN gone;
"#;

/// The columns of types of extensions, appended to `TABLE` where the server
/// has the extensions.
const EXTENSION_COLUMNS: &str = "CREATE EXTENSION hstore; CREATE EXTENSION citext;
    ALTER TABLE every_type ADD COLUMN h hstore, ADD COLUMN ci citext;";

/// Rows that reach the edge of each type's printing; `rows` fills in the
/// values of the extension columns.
const ROWS: &str = r#"
    INSERT INTO every_type VALUES
      (1, true, -32768, 9223372036854775807, 'NaN', '-Infinity', 'NaN',
       E'quote " backslash \\ nl \n tab \t bell \x07 é ✓ 𝄞', 'abc', 'ab', 'nm', 'q',
       ' {"a" : [1, 2.50, 1e400]} ', '{"b": 123456789012345678901234567890, "c": "\u00e9"}',
       'infinity', '2024-02-29 23:59:59.123456', '2024-07-01 12:00:00+00', '24:00', '10:30+05:30',
       '1 year 2 mons -3 days 04:05:06.7', E'\\x00ff27', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
       '192.168.0.1/24', 12.34, '(1.5,-2)', '[1,10)', '{1,NULL,3}', '{{"a","b\"c"},{NULL,"d"}}',
       '{2024-01-01 00:00:00+00,-infinity}', 'so "so"', ROW(7, 'x"y'), 'a@b.c', 5, 4294967295,
       'fat rat', B'10110', -1 {first_extension_values}),
      (2, false, 0, -1, 1.5, 0.1, 123456789012345678901234567890.000100,
       '', '', '', '', '', 'null', 'null', '4713-01-01 BC', '-infinity',
       '1999-12-31 23:59:59.999999+14', '00:00', '00:00+00', '0', '', '00000000-0000-0000-0000-000000000000',
       '::1', 0, '(0,0)', 'empty', '{}', '{}', '{}', 'ok', ROW(NULL, NULL), 'x@y', NULL, 0,
       '', B'', 0 {second_extension_values});
    INSERT INTO every_type (id, f4, f8, n) VALUES (3, '-0', '1e-300', '-0.0');
"#;

/// `ROWS` for a table with or without `EXTENSION_COLUMNS`.
fn rows(extensions: bool) -> String {
    let (first, second) = if extensions {
        (r#", 'a=>1, "b c"=>NULL', 'MiXed "Case"'"#, ", '', ''")
    } else {
        ("", "")
    };
    ROWS.replace("{first_extension_values}", first)
        .replace("{second_extension_values}", second)
}

/// Whether the server has `hstore` and `citext`.
async fn has_extensions(db: &Client) -> bool {
    db.query_one(
        "SELECT count(*) = 2 FROM pg_available_extensions WHERE name IN ('hstore', 'citext')",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// Settings under which values print differently from the defaults: the
/// trigger and `row_to_json` must agree under them.
const SETTINGS: &str = "SET TimeZone = 'Asia/Kolkata'; SET DateStyle = 'SQL, DMY';
    SET IntervalStyle = 'postgres_verbose'; SET extra_float_digits = 0;
    SET bytea_output = 'escape'; SET lc_monetary = 'C'";

/// The `new` rows the notifications carried, as text, in arrival order.
fn new_rows(payloads: &[String]) -> Vec<String> {
    let mut rows = Vec::new();
    for payload in payloads {
        let mut rest = payload.as_str();
        while let Some(at) = rest.find("\"new\":") {
            rest = &rest[at + "\"new\":".len()..];
            let end = rest.find(",\"old\":").expect("old follows new");
            rows.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    rows
}

async fn expected(db: &Client) -> Vec<String> {
    texts(
        db,
        "SELECT row_to_json(every_type)::text FROM every_type ORDER BY id",
    )
    .await
}

async fn received(listener: &mut RawListener) -> Vec<String> {
    let payloads: Vec<String> = listener
        .drain(QUIET)
        .await
        .iter()
        .map(|n| n.payload().to_owned())
        .collect();
    new_rows(&payloads)
}

/// Inserts `ROWS` through a trigger made by `trigger`, in the scratch
/// database `name`, and returns the rows the notifications carried, and
/// what `row_to_json` writes.
async fn sent_and_expected(name: &str, trigger: &str) -> (Vec<String>, Vec<String>) {
    let db = scratch_database(name).await;
    let mut listener = RawListener::at(&scratch_url(name), &["socket.io#/"]).await;
    db.batch_execute(SETTINGS).await.unwrap();
    db.batch_execute(TABLE).await.unwrap();
    let extensions = has_extensions(&db).await;
    if extensions {
        db.batch_execute(EXTENSION_COLUMNS).await.unwrap();
    } else {
        eprintln!("no hstore and citext on this server: their columns are left out");
    }
    db.batch_execute(trigger).await.unwrap();
    db.batch_execute(&rows(extensions)).await.unwrap();
    let first = listener.next(WAIT).await.expect("a notification");
    let mut sent = new_rows(&[first.payload().to_owned()]);
    sent.extend(received(&mut listener).await);
    let expected = expected(&db).await;
    assert_eq!(expected.len(), 3, "the rows ROWS inserts");
    drop((db, listener));
    drop_scratch_database(name).await;
    (sent, expected)
}

#[tokio::test]
async fn each_row_is_what_row_to_json_writes() {
    let (sent, expected) = sent_and_expected(
        "pg_socketio_it_trigger_json_row",
        "CREATE TRIGGER emit AFTER INSERT ON every_type
           FOR EACH ROW EXECUTE FUNCTION sio_trigger('r:{id}', 'row')",
    )
    .await;
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn each_row_of_a_statement_is_what_row_to_json_writes() {
    let (sent, expected) = sent_and_expected(
        "pg_socketio_it_trigger_json_statement",
        "CREATE TRIGGER emit AFTER INSERT ON every_type REFERENCING NEW TABLE AS added
           FOR EACH STATEMENT EXECUTE FUNCTION sio_trigger('all', 'rows')",
    )
    .await;
    assert_eq!(sent, expected);
}

/// The columns a trigger reads are worked out once and kept: a column
/// added, dropped or renamed afterwards must show in the next row, or be
/// refused as CREATE TRIGGER would have refused it.
#[tokio::test]
async fn a_table_changed_after_its_first_row_is_read_as_it_is_now() {
    let prefix = unique_prefix("trigger_json_altered");
    let mut listener = RawListener::new(&[&format!("{prefix}#/")]).await;
    let db = emitter(&prefix).await;
    db.batch_execute(
        "CREATE TEMP TABLE altered (id int, room text, secret text);
         CREATE TRIGGER emit AFTER INSERT ON altered
           FOR EACH ROW EXECUTE FUNCTION sio_trigger('r:{room}', 'row', 'exclude=secret');
         INSERT INTO altered VALUES (1, 'a', 's');
         ALTER TABLE altered ADD COLUMN extra int DEFAULT 7;
         INSERT INTO altered VALUES (2, 'a', 's');
         ALTER TABLE altered ALTER COLUMN id TYPE numeric;
         INSERT INTO altered VALUES (3.50, 'a', 's');",
    )
    .await
    .unwrap();
    let first = listener.next(WAIT).await.expect("a notification");
    let mut sent = new_rows(&[first.payload().to_owned()]);
    sent.extend(received(&mut listener).await);
    assert_eq!(
        sent,
        [
            r#"{"id":1,"room":"a"}"#,
            r#"{"id":2,"room":"a","extra":7}"#,
            r#"{"id":3.50,"room":"a","extra":7}"#
        ]
    );

    db.batch_execute("ALTER TABLE altered DROP COLUMN secret")
        .await
        .unwrap();
    assert_eq!(
        refusal(&db, "INSERT INTO altered VALUES (4, 'a')").await,
        "42703: sio_trigger's column filter names column \"secret\", which the table does not have"
    );
    db.batch_execute(
        "ALTER TABLE altered RENAME COLUMN room TO place; ALTER TABLE altered ADD COLUMN secret text",
    )
    .await
    .unwrap();
    assert_eq!(
        refusal(&db, "INSERT INTO altered VALUES (5, 'a')").await,
        "42703: room template names column \"room\", which the row does not have"
    );
    assert!(listener.drain(QUIET).await.is_empty());
}
