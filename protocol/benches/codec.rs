//! Encode and decode of typical messages; the baseline is parsing the same
//! JSON into a `serde_json::Value`, the least any JSON listener does.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pg_socketio_protocol::{
    decode_attachment, decode_notification, encode, Encoded, Flags, Operation, RawValue, SentEvent,
    Settings, Target,
};
use std::hint::black_box;

/// A broadcast to room1 with an object argument, as `sio_emit` sends it.
fn broadcast<'a>(args: &'a [&'a RawValue]) -> Encoded<'a> {
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

    // A statement-mode message of 1,000 changed rows (≈ 81 kB of
    // MessagePack), transcoded from JSON for the attachment table.
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
