//! Encode and decode of typical messages; the baseline is parsing the same
//! JSON into a `serde_json::Value`, the least any JSON listener does.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pg_socketio_protocol::{
    decode_attachment, decode_notification, encode, member_key, ColumnValue, Encoded, Flags,
    JsonArg, Operation, RawValue, Row, SentEvent, Settings, StatementRows, Target, Version,
};
use std::hint::black_box;

/// A broadcast to room1 with an object argument, as `sio_emit` sends it.
fn broadcast<'a, A: JsonArg>(args: &'a [A]) -> Encoded<'a> {
    let op = Operation::Emit {
        event: SentEvent::new("message", args),
        flags: Flags::default(),
    };
    let target = Target {
        rooms: &["room1"],
        ..Target::default()
    };
    encode(&Settings::default(), target, op, 7).unwrap()
}

fn codec(c: &mut Criterion) {
    let arg = RawValue::from_string(r#"{"id":42,"text":"hello","tags":["a","b"]}"#.into()).unwrap();
    let args: &[&RawValue] = &[&arg];
    let Encoded::Inline { payload: json, .. } = broadcast(args) else {
        panic!("a small broadcast is sent inline")
    };
    let binary: &[&[u8]] = &[&[7u8; 1024]];
    let placeholder = RawValue::from_string(r#"{"_placeholder":true,"num":0}"#.into()).unwrap();
    let with_binary: &[&RawValue] = &[&arg, &placeholder];
    let attachment = match encode(
        &Settings::default(),
        Target::default(),
        Operation::Emit {
            event: SentEvent {
                name: "file",
                args: with_binary,
                binary,
            },
            flags: Flags::default(),
        },
        1,
    )
    .unwrap()
    {
        Encoded::Attachment { payload, .. } => payload.to_vec(),
        other => panic!("{other:?}"),
    };

    // A JSON argument of 1,000 changed rows (≈ 81 kB of MessagePack),
    // transcoded for the attachment table.
    let mut rows = Vec::new();
    for i in 0..1000 {
        let row = |body: &str| {
            format!(
                r#"{{"id":{i},"conv":{},"author":null,"body":"{body}","at":null}}"#,
                i % 100
            )
        };
        rows.push(format!(
            r#"{{"new":{},"old":{}}}"#,
            row(&format!("b{i}..")),
            row(&format!("b{i}."))
        ));
    }
    let change = RawValue::from_string(format!(
        r#"{{"op":"UPDATE","schema":"public","table":"posts","rows":[{}]}}"#,
        rows.join(",")
    ))
    .unwrap();
    let statement: &[&RawValue] = &[&change];

    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(1));
    group.bench_function("decode_inline", |b| {
        b.iter(|| decode_notification(black_box(&json)).unwrap())
    });
    group.bench_function("baseline_serde_json_value", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(&json)).unwrap())
    });
    group.bench_function("decode_attachment_1k_binary", |b| {
        b.iter(|| decode_attachment(black_box(&attachment)).unwrap())
    });
    group.bench_function("encode_inline", |b| b.iter(|| broadcast(black_box(args))));
    group.bench_function("encode_attachment_1000_rows", |b| {
        b.iter(|| match broadcast(black_box(statement)) {
            Encoded::Attachment { payload, .. } => payload.to_vec(),
            other => panic!("{other:?}"),
        })
    });
    // The same kind of rows as sio_trigger gathers them, from their
    // columns' values, into one room's message for the attachment table:
    // their JSON and MessagePack written, and the message made of both;
    // against their JSON written and the message's JSON transcoded.
    let keys = ["id", "conv", "author", "body", "at"].map(member_key);
    let values: Vec<[String; 4]> = (0..1000)
        .map(|i| {
            [
                i.to_string(),
                (i % 100).to_string(),
                format!("b{i}.."),
                format!("b{i}."),
            ]
        })
        .collect();
    fn columns<'a>(keys: &'a [String; 5], v: &'a [String; 4], old: bool) -> Row<'a> {
        Row {
            members: vec![
                (keys[0].as_str(), ColumnValue::Json(&v[0])),
                (keys[1].as_str(), ColumnValue::Json(&v[1])),
                (keys[2].as_str(), ColumnValue::Null),
                (
                    keys[3].as_str(),
                    ColumnValue::Text(&v[2 + usize::from(old)]),
                ),
                (keys[4].as_str(), ColumnValue::Null),
            ],
        }
    }
    group.bench_function("statement_rows_1000_written", |b| {
        b.iter(|| {
            let mut rows = StatementRows::default();
            for v in black_box(&values) {
                for (version, old) in [(Version::New, false), (Version::Old, true)] {
                    rows.add_row(version, &columns(&keys, v, old)).unwrap();
                    rows.add_room(version, "room1").unwrap();
                }
            }
            let by_room = rows.by_room().unwrap();
            let change = rows
                .change("UPDATE", "public", "posts", &by_room[0].1)
                .unwrap();
            match broadcast(std::slice::from_ref(&change)) {
                Encoded::Attachment { payload, .. } => payload.to_vec(),
                other => panic!("{other:?}"),
            }
        })
    });
    group.bench_function("statement_rows_1000_transcoded", |b| {
        b.iter(|| {
            let mut json = br#"{"op":"UPDATE","schema":"public","table":"posts","rows":["#.to_vec();
            for (i, v) in black_box(&values).iter().enumerate() {
                json.extend_from_slice(if i == 0 { b"{\"new\":" } else { b",{\"new\":" });
                columns(&keys, v, false).append_to(&mut json).unwrap();
                json.extend_from_slice(b",\"old\":");
                columns(&keys, v, true).append_to(&mut json).unwrap();
                json.push(b'}');
            }
            json.extend_from_slice(b"]}");
            let change = RawValue::from_string(String::from_utf8(json).unwrap()).unwrap();
            match broadcast(&[&*change][..]) {
                Encoded::Attachment { payload, .. } => payload.to_vec(),
                other => panic!("{other:?}"),
            }
        })
    });
    group.bench_function("baseline_serde_msgpack_1000_rows", |b| {
        b.iter(|| {
            let value: serde_json::Value = serde_json::from_str(black_box(change.get())).unwrap();
            rmp_serde::to_vec_named(&value).unwrap()
        })
    });
    let statement_attachment = match broadcast(statement) {
        Encoded::Attachment { payload, .. } => payload.to_vec(),
        other => panic!("{other:?}"),
    };
    group.bench_function("decode_attachment_1000_rows", |b| {
        b.iter(|| decode_attachment(black_box(&statement_attachment)).unwrap())
    });
    group.bench_function("baseline_rmpv_1000_rows", |b| {
        b.iter(|| rmpv::decode::read_value(&mut black_box(&statement_attachment[..])).unwrap())
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
