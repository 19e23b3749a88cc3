//! The exact bytes the codec produces, without a database.

use pg_socketio_protocol::{
    attachment_notification, decode_attachment, encode, encode_as, split_args, Body, Encoded,
    Error, Flags, MessageType, Operation, RawValue, Sender, SentEvent, Settings, Target, Value,
    DEFAULT_PAYLOAD_THRESHOLD, EMITTER_UID, MAX_ATTACHMENT,
};

fn raw(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.to_owned()).unwrap()
}

fn inline(settings: &Settings, target: Target, op: Operation<&RawValue>, seq: u64) -> String {
    match encode(settings, target, op, seq).unwrap() {
        Encoded::Inline { payload, .. } => payload,
        other => panic!("expected an inline message, got {other:?}"),
    }
}

#[test]
fn exact_json_for_each_operation() {
    let n1 = raw(r#"{"n":1}"#);
    let s = raw(r#""x""#);
    let args_one: &[&RawValue] = &[&n1];
    let args_two: &[&RawValue] = &[&n1, &s];
    let room1 = ["room1"];
    let ab = ["a", "b"];
    let r = ["r"];
    let admin = Target {
        nsp: "/admin",
        ..Target::default()
    };
    let in_room1 = Target {
        rooms: &room1,
        ..Target::default()
    };
    let cases: Vec<(&str, Target, Operation<&RawValue>, &str)> = vec![
        (
            "emit to room1",
            in_room1,
            Operation::Emit {
                event: SentEvent::new("ping", args_one),
                flags: Flags::default(),
            },
            r#"{"type":3,"data":{"packet":{"type":2,"data":["ping",{"n":1}],"nsp":"/"},"opts":{"rooms":["room1"],"except":[],"flags":{}}},"uid":"emitter","nsp":"/","source":"_sio_adapter","seq":7}"#,
        ),
        (
            "emit to all, zero arguments, another namespace",
            admin,
            Operation::Emit {
                event: SentEvent::new("tick", &[]),
                flags: Flags::default(),
            },
            r#"{"type":3,"data":{"packet":{"type":2,"data":["tick"],"nsp":"/admin"},"opts":{"rooms":[],"except":[],"flags":{}}},"uid":"emitter","nsp":"/admin","source":"_sio_adapter","seq":7}"#,
        ),
        (
            "emit with except, two arguments, volatile and uncompressed",
            Target {
                rooms: &ab,
                except: &r,
                ..Target::default()
            },
            Operation::Emit {
                event: SentEvent::new("e", args_two),
                flags: Flags {
                    volatile: true,
                    compress: false,
                },
            },
            r#"{"type":3,"data":{"packet":{"type":2,"data":["e",{"n":1},"x"],"nsp":"/"},"opts":{"rooms":["a","b"],"except":["r"],"flags":{"volatile":true,"compress":false}}},"uid":"emitter","nsp":"/","source":"_sio_adapter","seq":7}"#,
        ),
        (
            "socketsJoin",
            Target::default(),
            Operation::SocketsJoin { rooms: &r },
            r#"{"type":4,"data":{"opts":{"rooms":[],"except":[]},"rooms":["r"]},"uid":"emitter","nsp":"/","source":"_sio_adapter","seq":7}"#,
        ),
        (
            "socketsLeave",
            in_room1,
            Operation::SocketsLeave { rooms: &ab },
            r#"{"type":5,"data":{"opts":{"rooms":["room1"],"except":[]},"rooms":["a","b"]},"uid":"emitter","nsp":"/","source":"_sio_adapter","seq":7}"#,
        ),
        (
            "disconnectSockets",
            Target {
                rooms: &r,
                ..Target::default()
            },
            Operation::DisconnectSockets { close: true },
            r#"{"type":6,"data":{"opts":{"rooms":["r"],"except":[]},"close":true},"uid":"emitter","nsp":"/","source":"_sio_adapter","seq":7}"#,
        ),
        (
            "serverSideEmit",
            Target::default(),
            Operation::ServerSideEmit {
                event: SentEvent::new("x", args_one),
            },
            r#"{"type":9,"data":{"packet":["x",{"n":1}]},"uid":"emitter","nsp":"/","source":"_sio_adapter","seq":7}"#,
        ),
    ];
    for (what, target, op, expected) in cases {
        assert_eq!(
            inline(&Settings::default(), target, op, 7),
            expected,
            "{what}"
        );
    }
}

#[test]
fn channel_follows_prefix_and_namespace() {
    let settings = Settings {
        channel_prefix: "app".into(),
        ..Settings::default()
    };
    let target = Target {
        nsp: "/chat",
        ..Target::default()
    };
    let op: Operation<&RawValue> = Operation::DisconnectSockets { close: false };
    match encode(&settings, target, op, 1).unwrap() {
        Encoded::Inline { channel, .. } => assert_eq!(channel, "app#/chat"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cluster_source_can_be_left_out() {
    let settings = Settings {
        cluster_source: false,
        ..Settings::default()
    };
    let payload = inline(
        &settings,
        Target::default(),
        Operation::SocketsJoin { rooms: &["r"] },
        1,
    );
    assert_eq!(
        payload,
        r#"{"type":4,"data":{"opts":{"rooms":[],"except":[]},"rooms":["r"]},"uid":"emitter","nsp":"/","seq":1}"#
    );
}

#[test]
fn seq_keeps_identical_calls_distinct() {
    let op: Operation<&RawValue> = Operation::DisconnectSockets { close: false };
    let a = inline(&Settings::default(), Target::default(), op, 1);
    let b = inline(&Settings::default(), Target::default(), op, 2);
    assert_ne!(a, b);
}

#[test]
fn reserved_event_names_are_refused() {
    for name in [
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    ] {
        let op: Operation<&RawValue> = Operation::Emit {
            event: SentEvent::new(name, &[]),
            flags: Flags::default(),
        };
        let err = encode(&Settings::default(), Target::default(), op, 1).unwrap_err();
        assert!(matches!(err, Error::ReservedEvent { .. }), "{name}: {err}");
    }
    for name in ["connection", "new_namespace", "disconnect"] {
        let op: Operation<&RawValue> = Operation::ServerSideEmit {
            event: SentEvent::new(name, &[]),
        };
        assert!(
            encode(&Settings::default(), Target::default(), op, 1).is_err(),
            "{name}"
        );
    }
    // Allowed to clients, although reserved between servers.
    let op: Operation<&RawValue> = Operation::Emit {
        event: SentEvent::new("connection", &[]),
        flags: Flags::default(),
    };
    assert!(encode(&Settings::default(), Target::default(), op, 1).is_ok());
}

/// Encodes an emit of one string argument made of `unit` repeated `count`
/// times; returns the result and the length its JSON has.
fn emit_string(unit: &str, count: usize, settings: &Settings) -> (Encoded<'static>, usize) {
    // Leaked: the result borrows its arguments, and a test may keep it.
    let arg: &'static RawValue = Box::leak(raw(&format!("\"{}\"", unit.repeat(count))));
    let args: &'static [&RawValue] = Box::leak(Box::new([arg]));
    let op: Operation<&RawValue> = Operation::Emit {
        event: SentEvent::new("big", args),
        flags: Flags::default(),
    };
    let json_len = ENVELOPE_LEN + unit.len() * count;
    (
        encode(settings, Target::default(), op, 1).unwrap(),
        json_len,
    )
}

/// Bytes of the envelope of `emit_string` around the string's content.
const ENVELOPE_LEN: usize = r#"{"type":3,"data":{"packet":{"type":2,"data":["big",""],"nsp":"/"},"opts":{"rooms":[],"except":[],"flags":{}}},"uid":"emitter","nsp":"/","source":"_sio_adapter","seq":1}"#.len();

#[test]
fn threshold_boundary_in_utf8_bytes() {
    let s = Settings::default();
    let fill = 7999 - ENVELOPE_LEN;
    match emit_string("a", fill, &s) {
        (Encoded::Inline { payload, .. }, 7999) => assert_eq!(payload.len(), 7999),
        other => panic!("7999 bytes must go inline: {other:?}"),
    }
    assert!(matches!(
        emit_string("a", fill + 1, &s),
        (
            Encoded::Attachment {
                kind: MessageType::Broadcast,
                ..
            },
            8000
        )
    ));
    // Counted in bytes, not characters: 'é' is 2 bytes, '€' 3.
    let (under, len) = emit_string("é", (7999 - ENVELOPE_LEN) / 2, &s);
    assert!(
        len <= 7999 && matches!(under, Encoded::Inline { .. }),
        "{len}"
    );
    let (over, len) = emit_string("é", (8000 - ENVELOPE_LEN).div_ceil(2), &s);
    assert!(
        len >= 8000 && matches!(over, Encoded::Attachment { .. }),
        "{len}"
    );
    let count = (8000 - ENVELOPE_LEN).div_ceil(3);
    let (over, len) = emit_string("€", count, &s);
    assert!(ENVELOPE_LEN + count < 8000, "fewer than 8000 characters");
    assert!(
        len >= 8000 && matches!(over, Encoded::Attachment { .. }),
        "{len}"
    );
}

#[test]
fn threshold_setting_is_capped() {
    let settings = Settings {
        payload_threshold: 1_000_000,
        ..Settings::default()
    };
    assert_eq!(DEFAULT_PAYLOAD_THRESHOLD, 8000);
    let (encoded, len) = emit_string("a", 8000 - ENVELOPE_LEN, &settings);
    assert_eq!(len, 8000);
    assert!(matches!(encoded, Encoded::Attachment { .. }));
    let zero = Settings {
        payload_threshold: 0,
        ..Settings::default()
    };
    let op: Operation<&RawValue> = Operation::DisconnectSockets { close: true };
    assert!(matches!(
        encode(&zero, Target::default(), op, 1).unwrap(),
        Encoded::Attachment {
            kind: MessageType::DisconnectSockets,
            ..
        }
    ));
}

#[test]
fn attachment_is_msgpack_of_the_whole_message_with_string_keys() {
    let arg = raw(r#"{"k":[1,-2,3.5,null,true,"s"]}"#);
    let args: &[&RawValue] = &[&arg];
    let room = ["r1"];
    let settings = Settings {
        payload_threshold: 0,
        ..Settings::default()
    };
    let target = Target {
        nsp: "/n",
        rooms: &room,
        ..Target::default()
    };
    let op: Operation<&RawValue> = Operation::Emit {
        event: SentEvent::new("ev", args),
        flags: Flags::default(),
    };
    let Encoded::Attachment {
        channel,
        kind,
        payload,
    } = encode(&settings, target, op, 1).unwrap()
    else {
        panic!("expected an attachment");
    };
    assert_eq!(channel, "socket.io#/n");
    assert_eq!(kind, MessageType::Broadcast);
    let value = rmpv::decode::read_value(&mut &payload.to_vec()[..]).unwrap();
    // Compare through JSON: every map key must be a string for this to work.
    let json: serde_json::Value = serde_json::from_str(&value_to_json(&value)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "type": 3,
            "data": {
                "packet": {"type": 2, "data": ["ev", {"k": [1, -2, 3.5, null, true, "s"]}], "nsp": "/n"},
                "opts": {"rooms": ["r1"], "except": [], "flags": {}}
            },
            "uid": "emitter",
            "nsp": "/n",
            "source": "_sio_adapter"
        })
    );
}

fn value_to_json(v: &rmpv::Value) -> String {
    use rmpv::Value::*;
    match v {
        Nil => "null".into(),
        Boolean(b) => b.to_string(),
        Integer(i) => i.to_string(),
        F32(f) => f.to_string(),
        F64(f) => f.to_string(),
        String(s) => serde_json::to_string(s.as_str().unwrap()).unwrap(),
        Array(a) => format!(
            "[{}]",
            a.iter().map(value_to_json).collect::<Vec<_>>().join(",")
        ),
        Map(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| {
                    let String(k) = k else {
                        panic!("non-string key {k:?}")
                    };
                    format!(
                        "{}:{}",
                        serde_json::to_string(k.as_str().unwrap()).unwrap(),
                        value_to_json(v)
                    )
                })
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn attachment_notification_points_at_the_row() {
    assert_eq!(
        attachment_notification(EMITTER_UID, MessageType::Broadcast, 42),
        r#"{"uid":"emitter","type":3,"attachmentId":"42"}"#
    );
    assert_eq!(
        attachment_notification("a\"b", MessageType::FetchSocketsResponse, 7),
        r#"{"uid":"a\"b","type":8,"attachmentId":"7"}"#
    );
}

/// A cluster member's requests, answers and presence, as Node.js's
/// ClusterAdapterWithHeartbeat writes them (socket.io-adapter 2.5.9).
#[test]
fn exact_json_for_requests_answers_and_presence() {
    let settings = Settings {
        cluster_source: false,
        ..Settings::default()
    };
    let n1 = raw(r#"{"n":1}"#);
    let args: &[&RawValue] = &[&n1];
    let rooms = ["r"];
    let except = ["x"];
    let target = Target {
        nsp: "/",
        rooms: &rooms,
        except: &except,
    };
    let request = Sender {
        uid: "peer1",
        request_id: Some("q1"),
    };
    let cases: Vec<(Sender, Operation<&RawValue>, &str)> = vec![
        (
            request,
            Operation::FetchSockets,
            r#"{"type":7,"data":{"opts":{"rooms":["r"],"except":["x"]},"requestId":"q1"},"uid":"peer1","nsp":"/","seq":5}"#,
        ),
        (
            Sender::EMITTER,
            Operation::Heartbeat { initial: true },
            r#"{"type":1,"uid":"emitter","nsp":"/","seq":5}"#,
        ),
        (
            Sender {
                uid: "peer1",
                request_id: None,
            },
            Operation::Heartbeat { initial: false },
            r#"{"type":2,"uid":"peer1","nsp":"/","seq":5}"#,
        ),
        (
            Sender {
                uid: "peer1",
                request_id: None,
            },
            Operation::AdapterClose,
            r#"{"type":13,"uid":"peer1","nsp":"/","seq":5}"#,
        ),
        (
            request,
            Operation::NoSockets,
            r#"{"type":8,"data":{"requestId":"q1","sockets":[]},"uid":"peer1","nsp":"/","seq":5}"#,
        ),
        (
            request,
            Operation::BroadcastClientCount { count: 0 },
            r#"{"type":11,"data":{"requestId":"q1","clientCount":0},"uid":"peer1","nsp":"/","seq":5}"#,
        ),
        (
            request,
            Operation::ServerSideEmitResponse { answer: &args[0] },
            r#"{"type":10,"data":{"requestId":"q1","packet":{"n":1}},"uid":"peer1","nsp":"/","seq":5}"#,
        ),
        (
            request,
            Operation::ServerSideEmit {
                event: SentEvent::new("ask", args),
            },
            r#"{"type":9,"data":{"requestId":"q1","packet":["ask",{"n":1}]},"uid":"peer1","nsp":"/","seq":5}"#,
        ),
        (
            request,
            Operation::Emit {
                event: SentEvent::new("ask", args),
                flags: Flags::default(),
            },
            r#"{"type":3,"data":{"packet":{"type":2,"data":["ask",{"n":1}],"nsp":"/"},"requestId":"q1","opts":{"rooms":["r"],"except":["x"],"flags":{}}},"uid":"peer1","nsp":"/","seq":5}"#,
        ),
    ];
    for (sender, op, expected) in cases {
        match encode_as(&settings, sender, target, op, 5).unwrap() {
            Encoded::Inline { payload, .. } => assert_eq!(payload, expected),
            other => panic!("expected inline, got {other:?}"),
        }
    }
}

/// An answer too large for a notification goes to the attachment table like
/// any message, and its notification names the member that sent it.
#[test]
fn a_large_answer_goes_to_the_attachment() {
    let big = raw(&format!("\"{}\"", "a".repeat(DEFAULT_PAYLOAD_THRESHOLD)));
    let sender = Sender {
        uid: "peer1",
        request_id: Some("q1"),
    };
    let op = Operation::ServerSideEmitResponse { answer: &&*big };
    let Encoded::Attachment { kind, payload, .. } =
        encode_as(&Settings::default(), sender, Target::default(), op, 1).unwrap()
    else {
        panic!("expected an attachment");
    };
    assert_eq!(kind, MessageType::ServerSideEmitResponse);
    let message = rmpv::decode::read_value(&mut &payload.to_vec()[..]).unwrap();
    assert_eq!(message["uid"].as_str(), Some("peer1"));
    assert_eq!(message["data"]["requestId"].as_str(), Some("q1"));
    assert_eq!(
        message["data"]["packet"].as_str().map(str::len),
        Some(DEFAULT_PAYLOAD_THRESHOLD)
    );
}

fn attachment(op: Operation<&RawValue>) -> rmpv::Value {
    match encode(&Settings::default(), Target::default(), op, 1).unwrap() {
        Encoded::Attachment { payload, .. } => {
            rmpv::decode::read_value(&mut &payload.to_vec()[..]).unwrap()
        }
        other => panic!("expected an attachment: {other:?}"),
    }
}

fn packet_data(message: &rmpv::Value) -> &rmpv::Value {
    &message["data"]["packet"]["data"]
}

#[test]
fn binary_arguments_become_msgpack_bin_and_force_the_attachment() {
    let meta = raw(r#"{"name":"a.png"}"#);
    let first = raw(r#"{"_placeholder":true,"num":0}"#);
    let nested =
        raw(r#"{"thumb":{"_placeholder":true,"num":1},"list":[{"_placeholder":true,"num":0}]}"#);
    let args: &[&RawValue] = &[&meta, &first, &nested];
    let png: &[u8] = &[0x89, b'P', b'N', b'G', 0, 255];
    let thumb: &[u8] = &[];
    let binary: &[&[u8]] = &[png, thumb];
    let message = attachment(Operation::Emit {
        event: SentEvent {
            name: "file",
            args,
            binary,
        },
        flags: Flags::default(),
    });
    use rmpv::Value;
    let data = packet_data(&message).as_array().unwrap();
    assert_eq!(data[0], Value::from("file"));
    assert_eq!(data[1]["name"], Value::from("a.png"));
    assert_eq!(data[2], Value::Binary(png.to_vec()));
    assert_eq!(data[3]["thumb"], Value::Binary(vec![]));
    assert_eq!(data[3]["list"][0], Value::Binary(png.to_vec()));
    assert_eq!(message["nsp"], Value::from("/"));
    assert_eq!(message["uid"], Value::from("emitter"));
}

#[test]
fn binary_server_side_emit_goes_to_the_attachment() {
    let p = raw(r#"{"_placeholder":true,"num":0}"#);
    let args: &[&RawValue] = &[&p];
    let bytes: &[&[u8]] = &[b"xyz"];
    let message = attachment(Operation::ServerSideEmit {
        event: SentEvent {
            name: "blob",
            args,
            binary: bytes,
        },
    });
    assert_eq!(message["type"], rmpv::Value::from(9));
    assert_eq!(
        message["data"]["packet"][1],
        rmpv::Value::Binary(b"xyz".to_vec())
    );
}

#[test]
fn placeholder_mistakes_are_refused() {
    let bytes: &[&[u8]] = &[b"a"];
    let check = |json: &str, binary: &[&[u8]]| {
        let arg = raw(json);
        let args: &[&RawValue] = &[&arg];
        let op: Operation<&RawValue> = Operation::Emit {
            event: SentEvent {
                name: "e",
                args,
                binary,
            },
            flags: Flags::default(),
        };
        encode(&Settings::default(), Target::default(), op, 1).unwrap_err()
    };
    assert!(matches!(
        check(r#"{"_placeholder":true,"num":1}"#, bytes),
        Error::BadPlaceholder { count: 1, .. }
    ));
    assert!(matches!(
        check(r#"{"_placeholder":true,"num":-1}"#, bytes),
        Error::BadPlaceholder { .. }
    ));
    assert!(matches!(
        check(r#"{"_placeholder":true,"num":"0"}"#, bytes),
        Error::BadPlaceholder { .. }
    ));
    assert_eq!(check(r#"{"x":1}"#, bytes), Error::UnusedBinary { index: 0 });
    assert!(matches!(
        check(r#"[{"_placeholder":true,"num":0}]"#, &[]),
        Error::BadPlaceholder { count: 0, .. }
    ));
    // Not a placeholder: other keys, or not exactly true.
    let arg = raw(r#"{"_placeholder":true,"num":0,"x":1}"#);
    let args: &[&RawValue] = &[&arg];
    let op: Operation<&RawValue> = Operation::Emit {
        event: SentEvent::new("e", args),
        flags: Flags::default(),
    };
    assert!(matches!(
        encode(&Settings::default(), Target::default(), op, 1),
        Ok(Encoded::Inline { .. })
    ));
}

#[test]
fn args_must_be_a_json_array() {
    let parts: Vec<&str> = split_args(r#"[1, {"a":[2]}, "s"]"#)
        .unwrap()
        .iter()
        .map(|r| r.get())
        .collect();
    assert_eq!(parts, vec!["1", r#"{"a":[2]}"#, r#""s""#]);
    assert!(split_args("[]").unwrap().is_empty());
    for (json, found) in [
        ("{}", "an object"),
        ("1", "a number"),
        (r#""a""#, "a string"),
        ("null", "null"),
    ] {
        assert_eq!(
            split_args(json).unwrap_err(),
            Error::ArgsNotArray { found },
            "{json}"
        );
    }
}

/// An emit shaped as the one before it copies that one's envelope, with its
/// own rooms written in: what it sends is exactly what serde_json writes
/// afresh (on a new thread, which has kept no envelope), whatever changed
/// in between.
#[test]
fn emits_of_one_shape_send_what_serde_writes() {
    #[derive(Clone)]
    struct Emit {
        rooms: &'static [&'static str],
        except: &'static [&'static str],
        nsp: &'static str,
        event: &'static str,
        volatile: bool,
        cluster_source: bool,
        args: &'static [&'static str],
        seq: u64,
    }
    const A: &str = r#"{"n":1}"#;
    const B: &str = "[1,2]";
    const S: &str = r#""x""#;
    let first = Emit {
        rooms: &["room1"],
        except: &[],
        nsp: "/",
        event: "ping",
        volatile: false,
        cluster_source: true,
        args: &[A],
        seq: 1,
    };
    // Each step changes the emit before it (and takes the next seq).
    type Step = (&'static str, fn(&mut Emit));
    let steps: &[Step] = &[
        ("same shape", |e| e.args = &[B]),
        ("again, seq longer", |e| {
            e.args = &[S];
            e.seq = 123_456_789_011;
        }),
        ("another room", |e| e.rooms = &["room2"]),
        ("two rooms", |e| e.rooms = &["room1", "room2"]),
        ("rooms JSON escapes", |e| {
            e.rooms = &["a\"b\\c", "é ☃\n", "</script>"]
        }),
        ("a room spelled as the key", |e| {
            e.rooms = &["\"rooms\":[\"x\"]"]
        }),
        ("every socket", |e| e.rooms = &[]),
        ("a room per row", |e| e.rooms = &["conversation:7"]),
        ("the next row's", |e| e.rooms = &["conversation:8"]),
        ("except", |e| {
            e.rooms = &["room1"];
            e.except = &["room2"];
        }),
        ("namespace", |e| e.nsp = "/admin"),
        ("event", |e| e.event = "pong"),
        ("flags", |e| e.volatile = true),
        ("cluster source", |e| e.cluster_source = false),
        ("two arguments", |e| e.args = &[A, S]),
        ("two, again", |e| e.args = &[S, B]),
        ("none", |e| e.args = &[]),
    ];
    let send = |e: &Emit| {
        let args: Vec<Box<RawValue>> = e.args.iter().map(|a| raw(a)).collect();
        let args: Vec<&RawValue> = args.iter().map(|a| &**a).collect();
        let op = Operation::Emit {
            event: SentEvent::new(e.event, &args),
            flags: Flags {
                volatile: e.volatile,
                ..Flags::default()
            },
        };
        let settings = Settings {
            cluster_source: e.cluster_source,
            ..Settings::default()
        };
        let target = Target {
            nsp: e.nsp,
            rooms: e.rooms,
            except: e.except,
        };
        inline(&settings, target, op, e.seq)
    };
    let check = |name: &str, e: &Emit| {
        let kept = send(e);
        let afresh = std::thread::scope(|t| t.spawn(|| send(e)).join().unwrap());
        assert_eq!(kept, afresh, "{name}");
    };
    let mut emit = first.clone();
    check("first", &emit);
    for (name, change) in steps {
        change(&mut emit);
        emit.seq += 1;
        check(name, &emit);
    }
    check("back to the first", &first);
}

#[test]
fn a_statements_message_written_with_its_msgpack_is_the_transcoded_one() {
    use pg_socketio_protocol::{member_key, ColumnValue, JsonArg, Row, StatementRows, Version};
    let (id, body, meta) = (member_key("id"), member_key("body"), member_key("meta"));
    let mut rows = StatementRows::default();
    for (version, n, text) in [
        (Version::New, "1", "é \"q\"\n"),
        (Version::New, "18446744073709551616", ""),
        (Version::Old, "1", "before"),
    ] {
        let row = Row {
            members: vec![
                (id.as_str(), ColumnValue::Json(n)),
                (body.as_str(), ColumnValue::Text(text)),
                (meta.as_str(), ColumnValue::Json(r#"{"a": [1.5, null]}"#)),
            ],
        };
        rows.add_row(version, &row).unwrap();
        rows.add_room(version, "r").unwrap();
    }
    let by_room = rows.by_room().unwrap();
    let change = rows.change("UPDATE", "public", "t", &by_room[0].1).unwrap();
    assert!(change.msgpack().is_some());
    let as_json = raw(change.json());
    let settings = Settings {
        payload_threshold: 0,
        ..Settings::default()
    };
    let bytes = |encoded: Encoded| match encoded {
        Encoded::Attachment { payload, .. } => payload.to_vec(),
        other => panic!("expected an attachment: {other:?}"),
    };
    let written = bytes(
        encode(
            &settings,
            Target::default(),
            Operation::Emit {
                event: SentEvent::new("rows", std::slice::from_ref(&change)),
                flags: Flags::default(),
            },
            1,
        )
        .unwrap(),
    );
    let transcoded = bytes(
        encode(
            &settings,
            Target::default(),
            Operation::Emit {
                event: SentEvent::new("rows", &[&*as_json][..]),
                flags: Flags::default(),
            },
            1,
        )
        .unwrap(),
    );
    assert_eq!(written, transcoded);
    // 2^64 is not an integer of 64 bits: its float64 writes back as
    // 18446744073709552000, so the rows' text comes along.
    assert_eq!(
        decode_attachment(&written).unwrap().exact_args,
        Some(format!("[{}]", change.json()))
    );

    // And the attachment path takes an argument's MessagePack as it is:
    // here `true`, written beside the JSON `null`.
    struct Prewritten;
    impl JsonArg for Prewritten {
        fn json(&self) -> &str {
            "null"
        }
        fn msgpack(&self) -> Option<&[u8]> {
            Some(&[0xc3])
        }
    }
    let message = rmpv::decode::read_value(
        &mut &bytes(
            encode(
                &settings,
                Target::default(),
                Operation::Emit {
                    event: SentEvent::new("rows", &[Prewritten][..]),
                    flags: Flags::default(),
                },
                1,
            )
            .unwrap(),
        )[..],
    )
    .unwrap();
    assert_eq!(
        packet_data(&message),
        &rmpv::Value::Array(vec!["rows".into(), true.into()])
    );
}

/// An attachment whose MessagePack lost a number's digits carries, beside
/// it, the arguments' JSON text (`exactArgs`, which Node.js servers
/// ignore); one whose numbers all keep them carries nothing more.
#[test]
fn attachments_carry_the_arguments_text_when_a_number_loses_digits() {
    let settings = Settings {
        payload_threshold: 0,
        ..Settings::default()
    };
    let big = format!("1{}", "0".repeat(400));
    let encoded = |args: &[&str], binary: &[&[u8]]| {
        let args: Vec<Box<RawValue>> = args.iter().map(|a| raw(a)).collect();
        let args: Vec<&RawValue> = args.iter().map(|a| &**a).collect();
        let op = Operation::Emit {
            event: SentEvent {
                binary,
                ..SentEvent::new("e", &args)
            },
            flags: Flags::default(),
        };
        match encode(&settings, Target::default(), op, 1).unwrap() {
            Encoded::Attachment { payload, .. } => {
                let bytes = payload.to_vec();
                assert_eq!(bytes.len(), payload.len());
                bytes
            }
            other => panic!("expected an attachment: {other:?}"),
        }
    };
    let args = [
        format!("[{big}, 0.10000000000000000001]"),
        r#"{"n": 123456789012345678901234567890}"#.to_owned(),
        r#"{"_placeholder":true,"num":0}"#.to_owned(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let bytes = encoded(&args, &[b"\x01"]);
    let message = decode_attachment(&bytes).unwrap();
    assert_eq!(message.exact_args, Some(format!("[{}]", args.join(","))));
    let Body::Broadcast { args, .. } = message.body else {
        panic!("expected a broadcast");
    };
    assert_eq!(
        args,
        vec![
            Value::Array(vec![Value::F64(f64::INFINITY), Value::F64(0.1)]),
            Value::Map(vec![("n".into(), Value::F64(1.2345678901234568e29))]),
            Value::Binary(vec![1]),
        ]
    );

    let bytes = encoded(&["[1.5, 18446744073709551615, 0.30000000000000004]"], &[]);
    assert_eq!(decode_attachment(&bytes).unwrap().exact_args, None);
    assert!(!bytes.windows(9).any(|w| w == b"exactArgs"));
}

/// Beside a message near the attachment's limit, the text would pass it:
/// the message goes without the text (as Node.js servers read it), not
/// refused.
#[test]
fn the_arguments_text_is_left_out_where_it_would_pass_the_limit() {
    use pg_socketio_protocol::JsonArg;
    /// An argument written beforehand: half the limit each of JSON text
    /// and MessagePack (zeros, which the allocator hands over untouched;
    /// only measured here, never written).
    struct Half {
        json: String,
        msgpack: Vec<u8>,
        keeps_digits: bool,
    }
    impl JsonArg for Half {
        fn json(&self) -> &str {
            &self.json
        }
        fn msgpack(&self) -> Option<&[u8]> {
            Some(&self.msgpack)
        }
        fn msgpack_keeps_digits(&self) -> bool {
            self.keeps_digits
        }
        fn has_placeholders(&self) -> bool {
            false
        }
    }
    let half = MAX_ATTACHMENT / 2 + 1;
    let mut arg = Half {
        json: String::from_utf8(vec![0; half]).unwrap(),
        msgpack: vec![0; half],
        keeps_digits: true,
    };
    let len = |arg: &Half| {
        let op = Operation::Emit {
            event: SentEvent::new("e", std::slice::from_ref(arg)),
            flags: Flags::default(),
        };
        match encode(&Settings::default(), Target::default(), op, 1).unwrap() {
            Encoded::Attachment { payload, .. } => payload.len(),
            other => panic!("expected an attachment: {other:?}"),
        }
    };
    let without_text = len(&arg);
    assert!(without_text > half);
    arg.keeps_digits = false;
    assert_eq!(len(&arg), without_text);
}
