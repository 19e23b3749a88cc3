//! Messages sent live by the real Node.js packages (adapter 0.5.0 and 0.3.1,
//! the official emitter 0.1.1; `tests/interop/capture/send-all.mjs`), decoded
//! by the Rust listener and compared with what the sender did.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use pg_socketio_client::protocol::{Body, Message, ReceivedFlags, ReceivedOpts, Value};
use pg_socketio_client::{Event, Listener};
use pg_socketio_kit::{database_url, unique_prefix};
use serde_json::json;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn broadcast(event: &str, args: Vec<Value>, opts: ReceivedOpts) -> Body {
    Body::Broadcast {
        event: event.into(),
        args,
        opts,
        request_id: None,
    }
}

fn to(rooms: &[&str]) -> ReceivedOpts {
    ReceivedOpts {
        rooms: strings(rooms),
        ..ReceivedOpts::default()
    }
}

/// Runs a capture script with `prefix`; returns its stdout lines.
async fn run_node(script: &str, prefix: &str) -> Vec<String> {
    let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop");
    let run = tokio::process::Command::new("node")
        .arg(script)
        .arg(prefix)
        .current_dir(&interop)
        .env("DATABASE_URL", database_url())
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap_or_else(|_| panic!("{script} within 60 s"))
        .expect("node runs (npm ci in tests/interop)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

/// The `uid <sender> <uid>` lines.
fn uids(lines: &[String]) -> HashMap<String, String> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("uid ")?.split_once(' '))
        .map(|(sender, uid)| (sender.to_owned(), uid.to_owned()))
        .collect()
}

#[tokio::test]
async fn what_node_sends_is_decoded_exactly() {
    let prefix = unique_prefix("capture");
    let mut listener = Listener::builder(database_url())
        .channel_prefix(&prefix)
        .namespaces(["/", "/admin"])
        .connect()
        .await
        .unwrap();

    let lines = run_node("capture/send-all.mjs", &prefix).await;
    let uids = uids(&lines);
    let from = |sender: &str, nsp: Option<&str>, body: Body| Message {
        uid: uids[sender].clone(),
        nsp: nsp.map(str::to_owned),
        body,
        exact_args: None,
    };
    let value = |j: serde_json::Value| rmpv::ext::to_value(j).unwrap();
    let expected = [
        (
            "/",
            from(
                "/",
                Some("/"),
                broadcast(
                    "e1",
                    vec![Value::from(1), value(json!({"a": "b"}))],
                    ReceivedOpts {
                        rooms: strings(&["r1"]),
                        except: strings(&["r2"]),
                        flags: ReceivedFlags::default(),
                    },
                ),
            ),
        ),
        (
            "/admin",
            from(
                "/admin",
                Some("/admin"),
                broadcast(
                    "e2",
                    vec![Value::from("x")],
                    ReceivedOpts {
                        flags: ReceivedFlags {
                            volatile: true,
                            compress: Some(false),
                            timeout: None,
                        },
                        ..ReceivedOpts::default()
                    },
                ),
            ),
        ),
        (
            // Buffers go through the attachment table as MessagePack bin.
            "/",
            from(
                "/",
                Some("/"),
                broadcast(
                    "bin",
                    vec![
                        Value::Binary(vec![1, 2, 3]),
                        Value::Map(vec![(Value::from("nested"), Value::Binary(vec![4]))]),
                    ],
                    ReceivedOpts::default(),
                ),
            ),
        ),
        (
            "/",
            from(
                "/",
                Some("/"),
                broadcast(
                    "big",
                    vec![Value::from("x".repeat(9000))],
                    ReceivedOpts::default(),
                ),
            ),
        ),
        (
            "/",
            from(
                "/",
                Some("/"),
                Body::SocketsJoin {
                    opts: to(&["r1"]),
                    rooms: strings(&["j1", "j2"]),
                },
            ),
        ),
        (
            "/",
            from(
                "/",
                Some("/"),
                Body::SocketsLeave {
                    opts: to(&["r1"]),
                    rooms: strings(&["j1"]),
                },
            ),
        ),
        (
            "/",
            from(
                "/",
                Some("/"),
                Body::DisconnectSockets {
                    opts: to(&["r9"]),
                    close: true,
                },
            ),
        ),
        (
            "/",
            from(
                "/",
                Some("/"),
                Body::ServerSideEmit {
                    event: "sse".into(),
                    args: vec![Value::from(5), value(json!([6]))],
                    request_id: None,
                },
            ),
        ),
        (
            "/",
            Message {
                uid: "emitter".into(),
                nsp: None,
                body: broadcast("oe", vec![Value::from(7)], to(&["r3"])),
                exact_args: None,
            },
        ),
        (
            "/",
            from(
                "old",
                None,
                broadcast("old", vec![Value::from(8)], to(&["r4"])),
            ),
        ),
    ];
    for (namespace, message) in expected {
        let event = tokio::time::timeout(Duration::from_secs(5), listener.recv())
            .await
            .expect("a message within 5 s")
            .unwrap();
        assert_eq!(
            event,
            Event::Message {
                namespace: namespace.into(),
                message
            }
        );
    }
    // Heartbeats are not asked for; nothing else was sent.
    if let Ok(extra) = tokio::time::timeout(Duration::from_millis(300), listener.recv()).await {
        panic!("unexpected: {extra:?}");
    }
}

#[tokio::test]
async fn requests_responses_and_heartbeats_between_servers_are_decoded() {
    let prefix = unique_prefix("capture_req");
    let mut listener = Listener::builder(database_url())
        .channel_prefix(&prefix)
        .heartbeats(true)
        .responses(true)
        .connect()
        .await
        .unwrap();
    let lines = run_node("capture/requests.mjs", &prefix).await;
    let uids = uids(&lines);
    let socket_id = lines
        .iter()
        .find_map(|l| l.strip_prefix("socket "))
        .expect("the client's socket id");
    // The answers server a got prove that b knew a and answered.
    assert!(
        lines.contains(&"serverSideEmitWithAck [2]".to_owned()),
        "{lines:?}"
    );
    assert!(lines.contains(&"emitWithAck [40]".to_owned()), "{lines:?}");

    let mut received = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(1), listener.recv()).await
    {
        match event {
            Event::Message { message, .. } => received.push(message),
            other => panic!("unexpected: {other:?}"),
        }
    }
    // Request ids are random: taken from the requests, checked in the answers.
    let request_id = |i: usize| match &received.get(i).map(|m| &m.body) {
        Some(
            Body::FetchSockets { request_id, .. }
            | Body::ServerSideEmit {
                request_id: Some(request_id),
                ..
            }
            | Body::Broadcast {
                request_id: Some(request_id),
                ..
            },
        ) => request_id.clone(),
        other => panic!("no request at {i}: {other:?} in {received:#?}"),
    };
    let (fetch, side, ack) = (request_id(3), request_id(5), request_id(7));
    // The fetched socket: its id is checked, the rest (handshake headers,
    // time) varies from run to run.
    if let Body::FetchSocketsResponse { sockets, .. } = &mut received[4].body {
        assert_eq!(sockets.len(), 1);
        assert_eq!(sockets[0]["id"].as_str(), Some(socket_id));
        sockets.clear();
    }
    let from = |sender: &str, body: Body| Message {
        uid: uids[sender].clone(),
        nsp: Some("/".into()),
        body,
        exact_args: None,
    };
    let expected = vec![
        from("a", Body::InitialHeartbeat),
        from("b", Body::InitialHeartbeat),
        from("a", Body::Heartbeat),
        from(
            "a",
            Body::FetchSockets {
                opts: ReceivedOpts::default(),
                request_id: fetch.clone(),
            },
        ),
        from(
            "b",
            Body::FetchSocketsResponse {
                request_id: fetch,
                sockets: vec![],
            },
        ),
        from(
            "a",
            Body::ServerSideEmit {
                event: "q".into(),
                args: vec![Value::from(1)],
                request_id: Some(side.clone()),
            },
        ),
        from(
            "b",
            Body::ServerSideEmitResponse {
                request_id: side,
                packet: Value::from(2),
            },
        ),
        from(
            "a",
            Body::Broadcast {
                event: "ask".into(),
                args: vec![Value::from(4)],
                opts: ReceivedOpts {
                    flags: ReceivedFlags {
                        timeout: Some(2000),
                        ..ReceivedFlags::default()
                    },
                    ..ReceivedOpts::default()
                },
                request_id: Some(ack.clone()),
            },
        ),
        from(
            "b",
            Body::BroadcastClientCount {
                request_id: ack.clone(),
                client_count: 1,
            },
        ),
        from(
            "b",
            Body::BroadcastAck {
                request_id: ack,
                packet: Value::from(40),
            },
        ),
        from("a", Body::AdapterClose),
        from("b", Body::AdapterClose),
    ];
    assert_eq!(received, expected);
}
