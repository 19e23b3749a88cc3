//! A socketioxide server whose clients receive what SQL (`sio_emit` …) and
//! Node.js servers with `@socket.io/postgres-adapter` emit.
//!
//! ```sh
//! cargo run -p pg_socketio_client --features socketioxide --example socketioxide_bridge -- 3000
//! ```
//! Arguments: port (default 3000, 0 for any), channel prefix (default
//! `socket.io`). Serves namespaces `/` and `/admin`; a client joins the rooms
//! it names in its handshake `auth.rooms`. Server-side emits are printed.
//!
//! With `DURABLE_SLOT=<slot>` it reads the WAL instead (the durable listener;
//! `pg_socketio.delivery = 'wal'` or `'both'`, `wal_level = logical`): after a
//! restart it resumes where it stopped, so its clients miss nothing that was
//! committed while it was down.

use pg_socketio_client::bridge::{self, Applied};
use pg_socketio_client::protocol::Body;
use pg_socketio_client::protocol::Message;
use pg_socketio_client::{DurableEvent, DurableListener, Event, Listener};
use serde::Deserialize;
use socketioxide::extract::{Data, SocketRef};
use socketioxide::SocketIo;

#[derive(Deserialize, Default)]
struct Auth {
    #[serde(default)]
    rooms: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().map_or(Ok(3000), |p| p.parse())?;
    let prefix = args.next().unwrap_or_else(|| "socket.io".into());
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());

    let (layer, io) = SocketIo::new_layer();
    for nsp in ["/", "/admin"] {
        io.ns(nsp, async |socket: SocketRef, Data(auth): Data<Auth>| {
            socket.join(auth.rooms);
        });
    }
    let app = axum::Router::new().layer(layer);
    let tcp = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", tcp.local_addr()?);
    tokio::spawn(async move { axum::serve(tcp, app).await });

    if let Ok(slot) = std::env::var("DURABLE_SLOT") {
        let mut listener = DurableListener::builder(url, slot)
            .create_slot(true)
            .channel_prefix(prefix)
            .namespaces(["/", "/admin"])
            .connect()
            .await?;
        println!("reading the WAL");
        loop {
            let event = listener.recv().await?;
            match &event {
                DurableEvent::Message {
                    namespace, message, ..
                } => apply(&io, namespace, message).await,
                DurableEvent::Invalid { error, .. } => eprintln!("invalid: {error}"),
                other => eprintln!("not handled: {other:?}"),
            }
            // Applied to the sockets: handled.
            listener.confirm(event.offset());
        }
    }
    let mut listener = Listener::builder(url)
        .channel_prefix(prefix)
        .namespaces(["/", "/admin"])
        .connect()
        .await?;
    while let Some(event) = listener.recv().await {
        match &event {
            Event::Message { namespace, message } => apply(&io, namespace, message).await,
            Event::Gap { reason } => eprintln!("gap: {reason}"),
            Event::Invalid { channel, error, .. } => eprintln!("invalid on {channel}: {error}"),
            other => eprintln!("not handled: {other:?}"),
        }
    }
    Ok(())
}

async fn apply(io: &SocketIo, namespace: &str, message: &Message) {
    match bridge::apply(io, namespace, message).await {
        Ok(Applied::NotForSockets) => {
            if let Body::ServerSideEmit { event, args, .. } = &message.body {
                println!("server-side {namespace} {event} {args:?}");
            }
        }
        Ok(_) => {}
        Err(e) => eprintln!("not applied: {e}"),
    }
}
