//! Prints every event as it arrives.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1/test cargo run -p pg_socketio_client --example listen -- / /admin
//! # elsewhere: psql -c "SELECT sio_emit('room1', 'ping', '{\"n\":1}')"
//! ```

use pg_socketio_client::protocol::{Body, Value};
use pg_socketio_client::{Event, Listener};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut namespaces: Vec<String> = std::env::args().skip(1).collect();
    if namespaces.is_empty() {
        namespaces.push("/".into());
    }
    let mut listener = Listener::builder(url)
        .namespaces(&namespaces)
        .connect()
        .await?;
    println!("listening on {namespaces:?}");
    while let Some(event) = listener.recv().await {
        match event {
            Event::Message { namespace, message } => match &message.body {
                Body::Broadcast {
                    event, args, opts, ..
                } => {
                    let args: Vec<String> = args.iter().map(show).collect();
                    println!(
                        "{namespace} emit {event} [{}] rooms={:?} except={:?} from {}",
                        args.join(", "),
                        opts.rooms,
                        opts.except,
                        message.uid
                    );
                    if let Some(exact) = &message.exact_args {
                        println!("  every digit: {exact}");
                    }
                }
                other => println!("{namespace} {other:?} from {}", message.uid),
            },
            Event::Gap { reason } => println!("gap (messages may be lost): {reason}"),
            Event::Invalid { channel, error, .. } => println!("invalid on {channel}: {error}"),
            other => println!("{other:?}"),
        }
    }
    Ok(())
}

/// JSON-like text, as rmpv displays values, but binary as
/// `<N bytes: hex>` rather than an array of numbers.
fn show(value: &Value) -> String {
    match value {
        Value::Binary(bytes) => {
            let hex: String = bytes.iter().take(16).map(|b| format!("{b:02x}")).collect();
            let more = if bytes.len() > 16 { "…" } else { "" };
            format!("<{} bytes: {hex}{more}>", bytes.len())
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{k}: {}", show(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}
