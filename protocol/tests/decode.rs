//! Decoding what servers, emitters and pg_socketio send; refusing the rest.

use pg_socketio_protocol::{
    decode_attachment, decode_notification, encode, Body, DecodeError, Encoded, Flags, Message,
    MessageType, Notice, Operation, RawValue, ReceivedFlags, ReceivedOpts, RemoteSocket, SentEvent,
    Settings, Target, Value, MAX_DEPTH,
};

fn inline(json: &str) -> Message {
    match decode_notification(json) {
        Ok(Notice::Message(m)) => m,
        other => panic!("{json}: {other:?}"),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn messages_as_node_servers_write_them() {
    let m = inline(r#"{"type":1,"uid":"8155fcbe1c0ca299","nsp":"/"}"#);
    assert_eq!(
        m,
        Message {
            uid: "8155fcbe1c0ca299".into(),
            nsp: Some("/".into()),
            body: Body::InitialHeartbeat,
            exact_args: None,
        }
    );

    let m = inline(
        r#"{"type":3,"data":{"packet":{"type":2,"data":["hello",1]},"opts":{"rooms":[],"except":[],"flags":{}}},"uid":"8155fcbe1c0ca299","nsp":"/"}"#,
    );
    assert_eq!(
        m.body,
        Body::Broadcast {
            event: "hello".into(),
            args: vec![Value::from(1)],
            opts: ReceivedOpts::default(),
            request_id: None
        }
    );

    let m = inline(
        r#"{"type":3,"data":{"packet":{"type":2,"data":["a"]},"requestId":"r1","opts":{"rooms":["x"],"except":["y"],"flags":{"volatile":true,"compress":false,"timeout":5000}}},"uid":"u","nsp":"/"}"#,
    );
    assert_eq!(
        m.body,
        Body::Broadcast {
            event: "a".into(),
            args: vec![],
            opts: ReceivedOpts {
                rooms: strings(&["x"]),
                except: strings(&["y"]),
                flags: ReceivedFlags {
                    volatile: true,
                    compress: Some(false),
                    timeout: Some(5000)
                },
            },
            request_id: Some("r1".into()),
        }
    );

    let cases: Vec<(&str, Body)> = vec![
        (r#"{"type":2,"uid":"u","nsp":"/"}"#, Body::Heartbeat),
        (r#"{"type":13,"uid":"u","nsp":"/"}"#, Body::AdapterClose),
        (
            r#"{"type":4,"data":{"opts":{"rooms":[],"except":[]},"rooms":["r"]},"uid":"emitter","nsp":"/"}"#,
            Body::SocketsJoin {
                opts: ReceivedOpts::default(),
                rooms: strings(&["r"]),
            },
        ),
        (
            r#"{"type":5,"data":{"opts":{"rooms":["a"],"except":[]},"rooms":["r"]},"uid":"emitter","nsp":"/"}"#,
            Body::SocketsLeave {
                opts: ReceivedOpts {
                    rooms: strings(&["a"]),
                    ..ReceivedOpts::default()
                },
                rooms: strings(&["r"]),
            },
        ),
        (
            r#"{"type":6,"data":{"opts":{"rooms":["r"],"except":[]},"close":true},"uid":"emitter","nsp":"/"}"#,
            Body::DisconnectSockets {
                opts: ReceivedOpts {
                    rooms: strings(&["r"]),
                    ..ReceivedOpts::default()
                },
                close: true,
            },
        ),
        (
            r#"{"type":7,"data":{"opts":{"rooms":[],"except":[],"flags":{"timeout":2000}},"requestId":"q"},"uid":"u","nsp":"/"}"#,
            Body::FetchSockets {
                opts: ReceivedOpts {
                    flags: ReceivedFlags {
                        timeout: Some(2000),
                        ..Default::default()
                    },
                    ..ReceivedOpts::default()
                },
                request_id: "q".into(),
            },
        ),
        (
            r#"{"type":8,"data":{"requestId":"q","sockets":[{"id":"s1","rooms":["s1"],"data":{},"handshake":{}}]},"uid":"u","nsp":"/"}"#,
            Body::FetchSocketsResponse {
                request_id: "q".into(),
                sockets: vec![Value::Map(vec![
                    (Value::from("id"), Value::from("s1")),
                    (Value::from("rooms"), Value::Array(vec![Value::from("s1")])),
                    (Value::from("data"), Value::Map(vec![])),
                    (Value::from("handshake"), Value::Map(vec![])),
                ])],
            },
        ),
        (
            r#"{"type":9,"data":{"packet":["x",1]},"uid":"emitter","nsp":"/"}"#,
            Body::ServerSideEmit {
                event: "x".into(),
                args: vec![Value::from(1)],
                request_id: None,
            },
        ),
        (
            r#"{"type":10,"data":{"requestId":"q","packet":"pong"},"uid":"u","nsp":"/"}"#,
            Body::ServerSideEmitResponse {
                request_id: "q".into(),
                packet: Value::from("pong"),
            },
        ),
        (
            r#"{"type":11,"data":{"requestId":"q","clientCount":3},"uid":"u","nsp":"/"}"#,
            Body::BroadcastClientCount {
                request_id: "q".into(),
                client_count: 3,
            },
        ),
        (
            r#"{"type":12,"data":{"requestId":"q","packet":[1]},"uid":"u","nsp":"/"}"#,
            Body::BroadcastAck {
                request_id: "q".into(),
                packet: Value::Array(vec![Value::from(1)]),
            },
        ),
    ];
    for (json, body) in cases {
        assert_eq!(inline(json).body, body, "{json}");
    }
}

#[test]
fn the_official_emitter_omits_nsp() {
    let m = inline(
        r#"{"type":3,"data":{"packet":{"type":2,"data":["ping",1],"nsp":"/"},"opts":{"rooms":["room1"],"flags":{},"except":[]}},"uid":"emitter"}"#,
    );
    assert_eq!(m.nsp, None);
    assert!(matches!(m.body, Body::Broadcast { ref event, .. } if event == "ping"));
}

#[test]
fn attachment_notifications_with_string_or_number_ids() {
    for json in [
        r#"{"uid":"emitter","type":3,"attachmentId":"42"}"#,
        r#"{"uid":"emitter","type":3,"attachmentId":42}"#,
    ] {
        assert_eq!(
            decode_notification(json),
            Ok(Notice::Attachment {
                uid: "emitter".into(),
                kind: MessageType::Broadcast,
                id: 42
            })
        );
    }
}

#[test]
fn what_the_encoder_writes_decodes_back() {
    let n1 = RawValue::from_string(r#"{"n":[1,2.5,"x",null]}"#.into()).unwrap();
    let p = RawValue::from_string(r#"{"_placeholder":true,"num":0}"#.into()).unwrap();
    let args: &[&RawValue] = &[&n1, &p];
    let bytes: &[&[u8]] = &[&[0, 1, 255]];
    let rooms = ["a"];
    let except = ["b"];
    let target = Target {
        nsp: "/chat",
        rooms: &rooms,
        except: &except,
    };
    let op = Operation::Emit {
        event: SentEvent {
            name: "e",
            args,
            binary: bytes,
        },
        flags: Flags {
            volatile: true,
            compress: false,
        },
    };
    let Encoded::Attachment { payload, .. } = encode(&Settings::default(), target, op, 1).unwrap()
    else {
        panic!("binary goes to an attachment");
    };
    let m = decode_attachment(&payload.to_vec()).unwrap();
    assert_eq!(m.uid, "emitter");
    assert_eq!(m.nsp.as_deref(), Some("/chat"));
    let Body::Broadcast {
        event,
        args,
        opts,
        request_id,
    } = m.body
    else {
        panic!()
    };
    assert_eq!(event, "e");
    assert_eq!(args[1], Value::Binary(vec![0, 1, 255]));
    assert_eq!(args[0]["n"][1], Value::F64(2.5));
    assert_eq!(opts.rooms, strings(&["a"]));
    assert_eq!(opts.except, strings(&["b"]));
    assert_eq!(
        opts.flags,
        ReceivedFlags {
            volatile: true,
            compress: Some(false),
            timeout: None
        }
    );
    assert_eq!(request_id, None);

    // And inline: every operation.
    let ops: Vec<Operation<&RawValue>> = vec![
        Operation::SocketsJoin { rooms: &["j"] },
        Operation::SocketsLeave { rooms: &["l"] },
        Operation::DisconnectSockets { close: true },
        Operation::ServerSideEmit {
            event: SentEvent::new("s", &[]),
        },
    ];
    for op in ops {
        let kind = op.message_type();
        let Encoded::Inline { payload, .. } =
            encode(&Settings::default(), Target::default(), op, 9).unwrap()
        else {
            panic!()
        };
        let m = inline(&payload);
        let decoded_kind = match m.body {
            Body::SocketsJoin { .. } => MessageType::SocketsJoin,
            Body::SocketsLeave { .. } => MessageType::SocketsLeave,
            Body::DisconnectSockets { close: true, .. } => MessageType::DisconnectSockets,
            Body::ServerSideEmit { .. } => MessageType::ServerSideEmit,
            other => panic!("{other:?}"),
        };
        assert_eq!(decoded_kind, kind);
    }
}

#[test]
fn malformed_input_is_an_error() {
    let cases: Vec<(&str, DecodeError)> = vec![
        ("not json", DecodeError::Json(String::new())),
        ("[1,2]", DecodeError::Malformed(String::new())),
        (r#"{"uid":"u"}"#, DecodeError::Missing("type")),
        (
            r#"{"type":99,"uid":"u"}"#,
            DecodeError::UnknownType("99".into()),
        ),
        (
            r#"{"type":"3","uid":"u"}"#,
            DecodeError::UnknownType("\"3\"".into()),
        ),
        (r#"{"type":1}"#, DecodeError::Missing("uid")),
        (r#"{"type":3,"uid":"u"}"#, DecodeError::Missing("data")),
        (
            r#"{"type":3,"uid":"u","data":{"opts":{}}}"#,
            DecodeError::Missing("packet"),
        ),
        (
            r#"{"type":3,"uid":"u","data":{"packet":{"data":[]},"opts":{}}}"#,
            DecodeError::Missing("packet.data"),
        ),
        (
            r#"{"type":3,"uid":"u","data":{"packet":{"data":[1]},"opts":{}}}"#,
            DecodeError::WrongType {
                field: "packet.data",
                expected: "an array starting with the event name",
            },
        ),
        (
            r#"{"type":4,"uid":"u","data":{"opts":{"rooms":[1]},"rooms":[]}}"#,
            DecodeError::Malformed(String::new()),
        ),
        (
            r#"{"type":4,"uid":"u","data":{"opts":{},"rooms":[1]}}"#,
            DecodeError::WrongType {
                field: "rooms",
                expected: "an array of strings",
            },
        ),
        (
            r#"{"type":3,"uid":"u","data":{"packet":[],"opts":{}}}"#,
            DecodeError::NotAMap("packet"),
        ),
        (
            r#"{"type":3,"uid":"emitter","attachmentId":"x"}"#,
            DecodeError::WrongType {
                field: "attachmentId",
                expected: "an integer",
            },
        ),
    ];
    for (json, expected) in cases {
        let got = decode_notification(json).unwrap_err();
        match (&got, &expected) {
            // serde's wording, with the position in the input.
            (DecodeError::Json(_), DecodeError::Json(_))
            | (DecodeError::Malformed(_), DecodeError::Malformed(_)) => {}
            _ => assert_eq!(got, expected, "{json}"),
        }
    }
    assert!(decode_attachment(&[0xc1]).is_err(), "reserved marker");
    assert_eq!(
        decode_attachment(&[0x80, 0x00]),
        Err(DecodeError::MessagePack("1 bytes after the message".into()))
    );
    assert!(matches!(
        decode_attachment(&[]),
        Err(DecodeError::MessagePack(_))
    ));
}

/// Every prefix and every single-byte corruption of real messages decodes
/// to a message or an error, never a panic.
#[test]
fn corrupted_input_never_panics() {
    let json = r#"{"type":3,"data":{"packet":{"type":2,"data":["e",{"a":[1,2]}],"nsp":"/"},"opts":{"rooms":["r"],"except":[],"flags":{"volatile":true}}},"uid":"emitter","nsp":"/"}"#;
    let p = RawValue::from_string(r#"[{"_placeholder":true,"num":0}]"#.into()).unwrap();
    let args: &[&RawValue] = &[&p];
    let op = Operation::Emit {
        event: SentEvent {
            name: "e",
            args,
            binary: &[b"bin"],
        },
        flags: Flags::default(),
    };
    let Encoded::Attachment {
        payload: packed, ..
    } = encode(&Settings::default(), Target::default(), op, 1).unwrap()
    else {
        panic!()
    };
    let packed = packed.to_vec();
    for end in 0..json.len() {
        let _ = decode_notification(&json[..end]);
    }
    for end in 0..packed.len() {
        let _ = decode_attachment(&packed[..end]);
    }
    let mut bytes = json.as_bytes().to_vec();
    for i in 0..bytes.len() {
        for b in [b'{', b'[', b'"', b'0', b'n', b'}', 0xff] {
            let saved = bytes[i];
            bytes[i] = b;
            if let Ok(s) = std::str::from_utf8(&bytes) {
                let _ = decode_notification(s);
            }
            bytes[i] = saved;
        }
    }
    let mut packed = packed;
    for i in 0..packed.len() {
        for b in [0x00, 0x7f, 0x80, 0x90, 0xa0, 0xc0, 0xc4, 0xdc, 0xde, 0xff] {
            let saved = packed[i];
            packed[i] = b;
            let _ = decode_attachment(&packed);
            packed[i] = saved;
        }
    }
}

/// A FETCH_SOCKETS_RESPONSE as a Node.js server writes it, read into
/// `RemoteSocket`s; a malformed socket is an error naming the field.
#[test]
fn remote_sockets_as_node_servers_describe_them() {
    let m = inline(
        r#"{"type":8,"data":{"requestId":"q1","sockets":[{"id":"s1","handshake":{"headers":{"host":"h"},"time":"Fri Dec 04 2026","address":"::1","xdomain":false,"secure":false,"issued":1796000000000,"url":"/socket.io/?EIO=4","query":{"EIO":"4"},"auth":{"rooms":["r1"]}},"rooms":["s1","r1"],"data":{"user":7}},{"id":"s2","rooms":["s2"]}]},"uid":"srv","nsp":"/"}"#,
    );
    let Body::FetchSocketsResponse {
        request_id,
        sockets,
    } = m.body
    else {
        panic!("{:?}", m.body)
    };
    assert_eq!(request_id, "q1");
    let sockets = RemoteSocket::decode_all(&sockets).unwrap();
    assert_eq!(sockets.len(), 2);
    let s1 = &sockets[0];
    assert_eq!(s1.id, "s1");
    assert_eq!(s1.rooms, strings(&["s1", "r1"]));
    assert_eq!(s1.data["user"], Value::from(7));
    assert_eq!(s1.handshake.issued, 1_796_000_000_000);
    assert_eq!(s1.handshake.address, "::1");
    assert_eq!(s1.handshake.url, "/socket.io/?EIO=4");
    assert_eq!(s1.handshake.auth["rooms"][0].as_str(), Some("r1"));
    assert_eq!(s1.handshake.headers["host"].as_str(), Some("h"));
    assert_eq!(sockets[1].data, Value::Nil);
    assert_eq!(sockets[1].handshake.time, "");

    for (bad, error) in [
        (r#"[{"rooms":[]}]"#, DecodeError::Missing("id")),
        (
            r#"[{"id":1,"rooms":[]}]"#,
            DecodeError::WrongType {
                field: "id",
                expected: "a string",
            },
        ),
        (r#"[7]"#, DecodeError::NotAMap("sockets[]")),
        (
            r#"[{"id":"s","rooms":[],"handshake":{"issued":"x"}}]"#,
            DecodeError::WrongType {
                field: "issued",
                expected: "a number of milliseconds",
            },
        ),
    ] {
        let message = inline(&format!(
            r#"{{"type":8,"data":{{"requestId":"q","sockets":{bad}}},"uid":"s","nsp":"/"}}"#
        ));
        let Body::FetchSocketsResponse { sockets, .. } = message.body else {
            panic!()
        };
        assert_eq!(RemoteSocket::decode_all(&sockets), Err(error), "{bad}");
    }
}

/// On a thread with a 2 MB stack, as a Tokio worker has.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

fn depth_of(mut v: &Value) -> usize {
    let mut depth = 0;
    while let Value::Array(items) = v {
        depth += 1;
        match items.first() {
            Some(inner) => v = inner,
            None => break,
        }
    }
    depth
}

/// Node.js's JSON.parse reads any depth that fits a notification (under 8000
/// bytes: about 4000 levels); so does the listener, without overflowing a
/// small stack, and the decoded value drops safely there too.
#[test]
fn inline_json_as_deep_as_a_notification_allows() {
    let depth = 3_900;
    let payload = format!(
        r#"{{"type":3,"data":{{"packet":{{"type":2,"data":["d",{}{}]}},"opts":{{"rooms":[],"except":[]}}}},"uid":"emitter","nsp":"/"}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    assert!(payload.len() < 8000);
    let got = on_small_stack(move || {
        let Body::Broadcast { args, .. } = inline(&payload).body else {
            panic!()
        };
        depth_of(&args[0])
    });
    assert_eq!(got, depth);
}

/// An attachment broadcasting one argument nested `depth` arrays deep.
fn deep_attachment(depth: usize) -> Vec<u8> {
    let mut arg = vec![0x91; depth]; // [ ... one element
    arg.push(0xc0); // nil
    attachment_with_arg(&arg)
}

/// An attachment broadcasting one argument, given as MessagePack bytes.
fn attachment_with_arg(arg: &[u8]) -> Vec<u8> {
    let map = |members: Vec<(&str, Value)>| {
        Value::Map(members.into_iter().map(|(k, v)| (k.into(), v)).collect())
    };
    let empty = || Value::Array(vec![]);
    let message = map(vec![
        ("type", 3.into()),
        ("uid", "emitter".into()),
        ("nsp", "/".into()),
        (
            "data",
            map(vec![
                ("opts", map(vec![("rooms", empty()), ("except", empty())])),
                (
                    "packet",
                    map(vec![
                        ("type", 2.into()),
                        ("data", Value::Array(vec!["d".into(), "SENTINEL".into()])),
                    ]),
                ),
            ]),
        ),
    ]);
    let mut envelope = Vec::new();
    rmpv::encode::write_value(&mut envelope, &message).unwrap();
    let sentinel = b"\xa8SENTINEL";
    let at = envelope
        .windows(sentinel.len())
        .position(|w| w == sentinel)
        .unwrap();
    let mut bytes = envelope[..at].to_vec();
    bytes.extend_from_slice(arg);
    bytes.extend_from_slice(&envelope[at + sentinel.len()..]);
    bytes
}

/// Attachments are held to `MAX_DEPTH` levels: deeper is an error, never a
/// stack overflow, however deep the input.
#[test]
fn attachments_deeper_than_max_depth_are_refused_not_a_crash() {
    let ok = on_small_stack(|| {
        let m = decode_attachment(&deep_attachment(MAX_DEPTH - 10)).unwrap();
        let Body::Broadcast { args, .. } = m.body else {
            panic!()
        };
        depth_of(&args[0])
    });
    assert_eq!(ok, MAX_DEPTH - 10);
    for depth in [MAX_DEPTH + 1, 1_000_000] {
        let refused = on_small_stack(move || decode_attachment(&deep_attachment(depth)));
        assert!(
            matches!(&refused, Err(DecodeError::MessagePack(e)) if e.contains("depth limit")),
            "{depth}: {refused:?}"
        );
    }
}

fn first_arg(m: Message) -> Value {
    match m.body {
        Body::Broadcast { mut args, .. } => args.remove(0),
        other => panic!("{other:?}"),
    }
}

/// Where the Node.js adapter's MessagePack decoder reads a value otherwise
/// than its bytes say, the listener reads it as Node.js does: invalid UTF-8
/// in a string becomes U+FFFD (not binary); a timestamp (a `Date`) becomes
/// the ISO text a client receives, as from inline JSON.
#[test]
fn attachments_read_as_node_reads_them() {
    // fixstr of 3 bytes: "a", an invalid byte, "b"; and a real bin after it.
    let mut arg = vec![0x92, 0xa3, b'a', 0xff, b'b', 0xc4, 1, 0xff];
    let lossy = first_arg(decode_attachment(&attachment_with_arg(&arg)).unwrap());
    assert_eq!(
        lossy,
        Value::Array(vec![Value::from("a\u{fffd}b"), Value::Binary(vec![0xff])])
    );
    arg.truncate(4); // cut short: an error, not a panic
    assert!(decode_attachment(&attachment_with_arg(&arg)).is_err());
    // timestamp 32: 0 s; 64: 1,796,000,000 s + 123,000,000 ns; 96: the same.
    let ts64 = (123_000_000u64 << 34) | 1_796_000_000;
    let mut ts96 = vec![0xc7, 12, 0xff];
    ts96.extend_from_slice(&123_000_000u32.to_be_bytes());
    ts96.extend_from_slice(&1_796_000_000i64.to_be_bytes());
    let mut ts64_bytes = vec![0xd7, 0xff];
    ts64_bytes.extend_from_slice(&ts64.to_be_bytes());
    for (bytes, text) in [
        (vec![0xd6, 0xff, 0, 0, 0, 0], "1970-01-01T00:00:00.000Z"),
        (ts64_bytes, "2026-11-30T00:53:20.123Z"),
        (ts96, "2026-11-30T00:53:20.123Z"),
    ] {
        let arg = first_arg(decode_attachment(&attachment_with_arg(&bytes)).unwrap());
        assert_eq!(arg, Value::from(text), "{bytes:?}");
    }
    // Before 1970: left as the extension it came as.
    let mut before = vec![0xc7, 12, 0xff, 0, 0, 0, 0];
    before.extend_from_slice(&(-1i64).to_be_bytes());
    let arg = first_arg(decode_attachment(&attachment_with_arg(&before)).unwrap());
    assert!(matches!(arg, Value::Ext(-1, _)), "{arg:?}");
}

/// JavaScript has one number type, and `JSON.parse` keeps the last of
/// duplicate keys: `"type":3.0` is a broadcast, and so is a message whose
/// `type` says 4 and then 3.
#[test]
fn integral_floats_and_the_last_of_duplicate_keys() {
    for payload in [
        r#"{"type":3.0,"data":{"packet":{"type":2,"data":["e"]},"opts":{"rooms":[],"except":[]}},"uid":"s","nsp":"/"}"#,
        r#"{"type":4,"type":3,"data":{"packet":{"type":2,"data":["e"]},"opts":{"rooms":[],"except":[]}},"uid":"s","nsp":"/"}"#,
    ] {
        assert!(
            matches!(inline(payload).body, Body::Broadcast { .. }),
            "{payload}"
        );
    }
    assert_eq!(
        decode_notification(r#"{"type":3.5,"uid":"s"}"#),
        Err(DecodeError::UnknownType("3.5".into()))
    );
}

/// A number beyond float64 is what JavaScript reads from its text — a
/// Node.js server reads `1e400` as Infinity (and sends clients `null`) —
/// not an error; the rest of the message is read as usual.
#[test]
fn numbers_beyond_float64_read_as_javascript_reads_them() {
    let big = format!("1{}", "0".repeat(400));
    let payload = format!(
        r#"{{"type":3,"data":{{"packet":{{"type":2,"data":["inf",{big},-1e400,1e-400,12345678901234567890,"s",{{"_placeholder":true,"num":0}}]}},"opts":{{"rooms":["r"],"except":[]}}}},"uid":"emitter","nsp":"/"}}"#
    );
    let Body::Broadcast {
        event, args, opts, ..
    } = inline(&payload).body
    else {
        panic!()
    };
    assert_eq!(event, "inf");
    assert_eq!(
        args,
        vec![
            Value::F64(f64::INFINITY),
            Value::F64(f64::NEG_INFINITY),
            Value::F64(0.0),
            Value::from(12_345_678_901_234_567_890u64),
            Value::from("s"),
            // Data that looks like a binary placeholder stays an object.
            Value::Map(vec![
                (Value::from("_placeholder"), Value::from(true)),
                (Value::from("num"), Value::from(0)),
            ]),
        ]
    );
    assert_eq!(opts.rooms, strings(&["r"]));
}

#[test]
fn the_arguments_text_comes_along_when_a_number_loses_digits() {
    let big = format!("1{}", "0".repeat(400));
    let broadcast = |args: &str, rest: &str| {
        format!(
            r#"{{"type":3,"data":{{"packet":{{"type":2,"data":["e",{args}]}},"opts":{{"rooms":[],"except":[]}}}},"uid":"emitter","nsp":"/"{rest}}}"#
        )
    };
    // Every argument as written, its spaces too; binary placeholders (here
    // data) as objects.
    let args =
        format!(r#"{big},{{"n": 0.10000000000000000001}},"s",{{"_placeholder":true,"num":0}}"#);
    assert_eq!(
        inline(&broadcast(&args, "")).exact_args,
        Some(format!("[{args}]"))
    );
    assert_eq!(
        inline(&broadcast("123456789012345678901234567890", ""))
            .exact_args
            .as_deref(),
        Some("[123456789012345678901234567890]")
    );
    // Numbers that keep their digits, strings that look like numbers, and
    // a long number outside the arguments: nothing to add.
    for (args, rest) in [
        (
            r#"1.5, 18446744073709551615, -9223372036854775808, 0.30000000000000004, 1e300"#,
            "",
        ),
        (
            r#""123456789012345678901234567890", "550e8400-e29b-41d4-a716-446655440000""#,
            "",
        ),
        ("1", r#","seq":123456789012345678901234567890"#),
    ] {
        assert_eq!(inline(&broadcast(args, rest)).exact_args, None, "{args}");
    }
    // Deeper than serde_json's recursion limit.
    let deep = format!("{}1e400{}", "[".repeat(3000), "]".repeat(3000));
    assert_eq!(
        inline(&broadcast(&deep, "")).exact_args,
        Some(format!("[{deep}]"))
    );
    // A server-side emit's arguments follow its event; an answer is one.
    let emit =
        format!(r#"{{"type":9,"data":{{"packet":["e",{big},2]}},"uid":"emitter","nsp":"/"}}"#);
    assert_eq!(inline(&emit).exact_args, Some(format!("[{big},2]")));
    let answer = format!(
        r#"{{"type":10,"data":{{"requestId":"q","packet":[{big}]}},"uid":"emitter","nsp":"/"}}"#
    );
    assert_eq!(inline(&answer).exact_args, Some(format!("[[{big}]]")));
}
