//! Messages sent live by the real Node.js packages (adapter 0.5.0 and 0.3.1,
//! the official emitter 0.1.1; `tests/interop/capture/send-all.mjs`), decoded
//! by the Rust listener and compared with what the sender did.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use pg_socketio_client::protocol::{Body, Message, Opts, ReceivedFlags, Value};
use pg_socketio_client::{Event, Listener};
use pg_socketio_tests::{database_url, unique_prefix};
use serde_json::json;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn broadcast(event: &str, args: Vec<Value>, opts: Opts) -> Body {
    Body::Broadcast {
        event: event.into(),
        args,
        opts,
        request_id: None,
    }
}

fn to(rooms: &[&str]) -> Opts {
    Opts {
        rooms: strings(rooms),
        ..Opts::default()
    }
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

    let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop");
    let run = tokio::process::Command::new("node")
        .arg("capture/send-all.mjs")
        .arg(&prefix)
        .current_dir(&interop)
        .env("DATABASE_URL", database_url())
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("send-all.mjs within 60 s")
        .expect("node runs (npm ci in tests/interop)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "send-all.mjs failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "uid <sender> <uid>" lines.
    let uids: HashMap<&str, &str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("uid ")?.split_once(' '))
        .collect();
    let from = |sender: &str, nsp: Option<&str>, body: Body| Message {
        uid: uids[sender].to_owned(),
        nsp: nsp.map(str::to_owned),
        body,
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
                    Opts {
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
                    Opts {
                        flags: ReceivedFlags {
                            volatile: true,
                            compress: Some(false),
                            timeout: None,
                        },
                        ..Opts::default()
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
                    Opts::default(),
                ),
            ),
        ),
        (
            "/",
            from(
                "/",
                Some("/"),
                broadcast("big", vec![Value::from("x".repeat(9000))], Opts::default()),
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
