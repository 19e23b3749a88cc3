//! Emitting from SQL, measured with pgbench: `sio_emit` against what a user
//! would write by hand for the same messages.

use pg_socketio_client::protocol::{
    encode, Encoded, Flags, Operation, RawValue, SentEvent, Settings, Target,
};

use crate::pgbench::{Pgbench, Run};
use crate::report::{thousands, Medians, Pairs, Row};

pub const PREFIX: &str = "bench";
pub const OPTIONS: &str = "-c pg_socketio.channel_prefix=bench";
// Short runs, many alternations: this machine's speed drifts by tens of
// percent within minutes, so pairs measured close together compare best.
const REPEATS: usize = 9;
const SECONDS: u32 = 2;

/// The payload `sio_emit('room1', 'ping', '{"n":1}')` sends, from the codec.
fn emit_payload(seq: &str) -> String {
    let arg = RawValue::from_string(r#"{"n":1}"#.into()).unwrap();
    let args: &[&RawValue] = &[&arg];
    let op = Operation::Emit {
        event: SentEvent::new("ping", args),
        flags: Flags::default(),
    };
    let target = Target {
        rooms: &["room1"],
        ..Target::default()
    };
    let settings = Settings {
        channel_prefix: PREFIX.into(),
        ..Settings::default()
    };
    match encode(&settings, target, op, 0).unwrap() {
        Encoded::Inline { payload, .. } => payload.replace("\"seq\":0", &format!("\"seq\":{seq}")),
        other => panic!("{other:?}"),
    }
}

/// Runs `ours` and `theirs` in turn, `REPEATS` times each; returns the
/// median tps of each, and the median and range of the per-pair ratios.
fn compare(pgbench: &Pgbench, ours: &Run, theirs: &Run) -> Medians {
    let mut pairs = Pairs::default();
    for i in 0..REPEATS {
        let (x, y) = if Pairs::ours_first(i) {
            let x = pgbench.tps(ours);
            (x, pgbench.tps(theirs))
        } else {
            let y = pgbench.tps(theirs);
            (pgbench.tps(ours), y)
        };
        pairs.push(x, y);
    }
    pairs.medians()
}

fn run<'a>(script: &'a str, clients: u32, protocol: &'a str) -> Run<'a> {
    Run {
        script,
        clients,
        seconds: SECONDS,
        protocol,
        rate: None,
        options: OPTIONS,
    }
}

/// One emit, and the `pg_notify` of the same JSON on the same channel (run
/// with [`OPTIONS`]).
pub fn one_emit_scripts() -> (String, String) {
    let ours = "SELECT sio_emit('room1', 'ping', '{\"n\":1}');\n".to_owned();
    let theirs = format!("SELECT pg_notify('{PREFIX}#/', '{}');\n", emit_payload("1"));
    (ours, theirs)
}

pub fn one_emit_per_transaction(pgbench: &Pgbench, rows: &mut Vec<Row>) {
    let (ours, theirs) = one_emit_scripts();
    // Prepared, as drivers and PL/pgSQL run it; the simple protocol (psql)
    // re-plans every call, and so also expands sio_emit's default arguments.
    for (protocol, clients) in [
        ("prepared", 1),
        ("prepared", 2),
        ("prepared", 4),
        ("simple", 1),
    ] {
        let m = compare(
            pgbench,
            &run(&ours, clients, protocol),
            &run(&theirs, clients, protocol),
        );
        rows.push(Row {
            name: format!("1 emit per transaction, {clients} client(s), {protocol} protocol"),
            ours: format!("{} tps", thousands(m.ours)),
            baseline: format!("pg_notify, same JSON: {} tps", thousands(m.theirs)),
            ratio: m.ratio,
            spread: Some(m.spread),
            target: Some(("≥ 0.95", m.ratio >= 0.95)),
        });
    }
}

/// 1,000 emits in one transaction, and the `pg_notify`s of the same JSON.
pub fn batched_scripts() -> (String, String) {
    // Both sides build the same jsonb per emit; the baseline splices its text
    // into the envelope sio_emit sends, numbered as sio_emit numbers it, so
    // that PostgreSQL folds none of them (format() is the cheapest way).
    let ours = "SELECT count(sio_emit('room1', 'ping', jsonb_build_object('n', i))) \
                FROM generate_series(1, 1000) i;\n"
        .to_owned();
    let payload = emit_payload("%s").replace(r#"{"n":1}"#, "%s");
    let theirs = format!(
        "SELECT count(pg_notify('{PREFIX}#/', format('{payload}', jsonb_build_object('n', i), i))) \
         FROM generate_series(1, 1000) i;\n"
    );
    (ours, theirs)
}

pub fn batched(pgbench: &Pgbench, rows: &mut Vec<Row>) {
    let (ours, theirs) = batched_scripts();
    let m = compare(
        pgbench,
        &run(&ours, 1, "prepared"),
        &run(&theirs, 1, "prepared"),
    );
    rows.push(Row {
        name: "1,000 emits in one transaction, payload jsonb_build_object('n', i)".into(),
        ours: format!("{} emits/s", thousands(m.ours * 1000.0)),
        baseline: format!(
            "pg_notify of the same JSON: {} /s",
            thousands(m.theirs * 1000.0)
        ),
        ratio: m.ratio,
        spread: Some(m.spread),
        target: Some(("≥ 0.8", m.ratio >= 0.8)),
    });
}

/// The table the Node.js adapter creates (logged), as a user would make it.
pub const NODE_TABLE: &str = "CREATE TABLE IF NOT EXISTS bench_node_attachments \
    (id bigserial UNIQUE, created_at timestamptz DEFAULT now(), payload bytea)";

pub fn attachments(pgbench: &Pgbench, rows: &mut Vec<Row>) {
    let ours = "SELECT sio_emit('room1', 'big', to_jsonb(repeat('x', 10000)));\n";
    // What the Node.js adapter does: INSERT, then NOTIFY, each committed.
    let theirs = format!(
        "INSERT INTO bench_node_attachments (payload) \
         VALUES (convert_to(repeat('x', 10000), 'UTF8')) RETURNING id \\gset\n\
         SELECT pg_notify('{PREFIX}#/', '{{\"uid\":\"emitter\",\"type\":3,\"attachmentId\":\"' || :id || '\"}}');\n"
    );
    for clients in [1, 4] {
        let m = compare(
            pgbench,
            &run(ours, clients, "prepared"),
            &run(&theirs, clients, "prepared"),
        );
        rows.push(Row {
            name: format!("10 kB emit (attachment), {clients} client(s)"),
            ours: format!("{} tps", thousands(m.ours)),
            baseline: format!(
                "INSERT into a logged table + NOTIFY: {} tps",
                thousands(m.theirs)
            ),
            ratio: m.ratio,
            spread: Some(m.spread),
            target: Some(("≥ 20", m.ratio >= 20.0)),
        });
    }
}
