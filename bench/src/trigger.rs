//! Row changes emitted by a trigger: `sio_trigger` against the PL/pgSQL
//! trigger a user would write with `pg_notify` for the same message, and
//! statement mode against row mode. Each INSERT/UPDATE is one statement in
//! its own transaction, timed from the client (COMMIT included: that is
//! when PostgreSQL copies the notifications into its queue); nobody listens.

use std::time::Instant;

use pg_socketio_client::{Event, Listener};
use tokio_postgres::Client;

use crate::report::{thousands, Medians, Pairs, Row};

const ROWS: u32 = 50_000;
const REPEATS: usize = 5;

/// The channel prefix of the trigger rows' messages; the hand-written
/// trigger names its channel, `bench_trigger#/`, itself.
pub const PREFIX: &str = "bench_trigger";

/// The five lines a user would write instead of sio_trigger (issue 12).
const HAND_WRITTEN: &str = r#"
CREATE OR REPLACE FUNCTION bench_hand_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('bench_trigger#/', json_build_object('type', 3, 'data', json_build_object(
    'packet', json_build_object('type', 2, 'data', json_build_array('message', json_build_object(
        'op', TG_OP, 'schema', TG_TABLE_SCHEMA, 'table', TG_TABLE_NAME, 'new', row_to_json(NEW), 'old', NULL)), 'nsp', '/'),
    'opts', json_build_object('rooms', json_build_array('conversation:' || NEW.conv), 'except', '[]'::json, 'flags', '{}'::json)),
    'uid', 'emitter', 'nsp', '/')::text);
  RETURN NULL;
END $$;
"#;

/// The tables of the trigger rows: `bench_plain` without a trigger,
/// `bench_sio` with `sio_trigger`, `bench_hand` with the hand-written one,
/// `bench_stmt` in statement mode.
pub async fn setup(db: &Client) {
    db.batch_execute(&format!(
        "SET pg_socketio.channel_prefix = '{PREFIX}';
         {HAND_WRITTEN}
         DROP TABLE IF EXISTS bench_plain, bench_sio, bench_hand, bench_stmt;
         CREATE TABLE bench_plain (id bigserial, conv int, author text, body text, at timestamptz);
         CREATE TABLE bench_sio (LIKE bench_plain INCLUDING ALL);
         CREATE TABLE bench_hand (LIKE bench_plain INCLUDING ALL);
         CREATE TABLE bench_stmt (LIKE bench_plain INCLUDING ALL);
         CREATE TRIGGER t AFTER INSERT OR UPDATE OR DELETE ON bench_sio
           FOR EACH ROW EXECUTE FUNCTION sio_trigger('conversation:{{conv}}', 'message');
         CREATE TRIGGER t AFTER INSERT ON bench_hand
           FOR EACH ROW EXECUTE FUNCTION bench_hand_notify();
         CREATE TRIGGER t AFTER UPDATE ON bench_stmt
           REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
           FOR EACH STATEMENT EXECUTE FUNCTION sio_trigger('conversation:{{conv}}', 'message');"
    ))
    .await
    .unwrap();
}

/// Seconds from the statement's start until `listener` has `messages`
/// messages, each with every row it should carry.
async fn delivered(db: &Client, listener: &mut Listener, (sql, messages): (&str, usize)) -> f64 {
    let start = Instant::now();
    db.batch_execute(sql).await.unwrap();
    let committed = start.elapsed().as_secs_f64();
    let mut received = 0;
    while received < messages {
        match listener.recv().await.expect("the listener runs") {
            Event::Message { .. } => received += 1,
            other => panic!("{other:?}"),
        }
    }
    let total = start.elapsed().as_secs_f64();
    // Where the time went: the statement (trigger included), or the listener.
    eprintln!(
        "  {messages} messages: committed after {committed:.2} s, all received after {total:.2} s"
    );
    total
}

/// Seconds one statement takes, committed.
async fn timed(db: &Client, sql: &str) -> f64 {
    let start = Instant::now();
    db.batch_execute(sql).await.unwrap();
    start.elapsed().as_secs_f64()
}

fn insert(table: &str) -> String {
    insert_rows(table, ROWS)
}

/// An INSERT of `rows` rows into one of [`setup`]'s tables.
pub fn insert_rows(table: &str, rows: u32) -> String {
    format!(
        "INSERT INTO {table} (conv, author, body, at)
         SELECT i % 100, 'author ' || i, 'the body of message ' || i, '2026-12-04 12:00+00'
           FROM generate_series(1, {rows}) i"
    )
}

pub async fn rows(url: &str, db: &Client, rows: &mut Vec<Row>) {
    setup(db).await;
    // Per-row overhead over the same INSERT without a trigger, in turn.
    let mut pairs = Pairs::default();
    let (mut ours_us, mut theirs_us) = (Vec::new(), Vec::new());
    for i in 0..REPEATS {
        db.batch_execute("TRUNCATE bench_plain, bench_sio, bench_hand")
            .await
            .unwrap();
        let plain = timed(db, &insert("bench_plain")).await;
        let (sio, hand) = if Pairs::ours_first(i) {
            let sio = timed(db, &insert("bench_sio")).await;
            (sio, timed(db, &insert("bench_hand")).await)
        } else {
            let hand = timed(db, &insert("bench_hand")).await;
            (timed(db, &insert("bench_sio")).await, hand)
        };
        let per_row = |t: f64| (t - plain).max(0.0) * 1e6 / f64::from(ROWS);
        ours_us.push(per_row(sio));
        theirs_us.push(per_row(hand));
        // Lower is better here: the ratio is ours / theirs.
        pairs.push(per_row(sio), per_row(hand));
    }
    let Medians {
        ours,
        theirs,
        ratio,
        spread,
    } = pairs.medians();
    rows.push(Row {
        name: format!(
            "trigger per-row overhead, INSERT of {} rows",
            thousands(f64::from(ROWS))
        ),
        ours: format!("sio_trigger: {ours:.1} µs"),
        baseline: format!("hand-written pg_notify trigger: {theirs:.1} µs"),
        ratio,
        spread: Some(spread),
        target: Some(("≤ 0.5", ratio <= 0.5)),
    });
    eprintln!("  per-row µs, sio_trigger {ours_us:.1?}, hand-written {theirs_us:.1?}");

    // A 100,000-row UPDATE, until a Rust listener has every change: row
    // mode sends 100,000 messages, statement mode one per room (100 here,
    // through the attachment table).
    let big = 2 * ROWS;
    db.batch_execute(&format!(
        "TRUNCATE bench_plain, bench_sio, bench_stmt;
         ALTER TABLE bench_sio DISABLE TRIGGER t;
         INSERT INTO bench_plain (conv, body) SELECT i % 100, 'b' || i FROM generate_series(1, {big}) i;
         INSERT INTO bench_sio (conv, body) SELECT i % 100, 'b' || i FROM generate_series(1, {big}) i;
         INSERT INTO bench_stmt (conv, body) SELECT i % 100, 'b' || i FROM generate_series(1, {big}) i;
         ALTER TABLE bench_sio ENABLE TRIGGER t;"
    ))
    .await
    .unwrap();
    let mut listener = Listener::builder(url)
        .channel_prefix(PREFIX)
        .connect()
        .await
        .unwrap();
    // The same UPDATE with no trigger bounds what any trigger can reach.
    let (mut pairs, mut ceiling) = (Pairs::default(), Pairs::default());
    for i in 0..3 {
        let plain = timed(db, "UPDATE bench_plain SET body = body || '.'").await;
        let row_mode = ("UPDATE bench_sio SET body = body || '.'", big as usize);
        let statement_mode = ("UPDATE bench_stmt SET body = body || '.'", 100);
        let (r, s) = if Pairs::ours_first(i) {
            let s = delivered(db, &mut listener, statement_mode).await;
            (delivered(db, &mut listener, row_mode).await, s)
        } else {
            let r = delivered(db, &mut listener, row_mode).await;
            (r, delivered(db, &mut listener, statement_mode).await)
        };
        db.batch_execute("DELETE FROM socket_io_attachments")
            .await
            .unwrap();
        // Higher is better: row mode's time over statement mode's.
        pairs.push(r, s);
        ceiling.push(r, plain);
    }
    let Medians {
        ours: row_s,
        theirs: statement_s,
        ratio: speedup,
        spread,
    } = pairs.medians();
    rows.push(Row {
        name: format!(
            "UPDATE of {} rows until a Rust listener has every change, statement mode vs row mode",
            thousands(f64::from(big))
        ),
        ours: format!("statement mode: {statement_s:.2} s"),
        baseline: format!("row mode: {row_s:.2} s"),
        ratio: speedup,
        spread: Some(spread),
        target: Some(("≥ 10 × faster", speedup >= 10.0)),
    });
    let Medians {
        theirs: plain_s,
        ratio: most,
        spread,
        ..
    } = ceiling.medians();
    rows.push(Row {
        name: format!(
            "the same UPDATE of {} rows with no trigger: how much faster than row mode any trigger could be",
            thousands(f64::from(big))
        ),
        ours: format!("no trigger: {plain_s:.2} s"),
        baseline: format!("row mode: {row_s:.2} s"),
        ratio: most,
        spread: Some(spread),
        target: None,
    });
    db.batch_execute(
        "DROP TABLE bench_plain, bench_sio, bench_hand, bench_stmt;
         DROP FUNCTION bench_hand_notify();",
    )
    .await
    .unwrap();
}
