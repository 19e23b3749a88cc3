//! Asks the Socket.IO servers of namespace `/` which sockets are in a room:
//! presence, from outside the servers.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1/test cargo run -p pg_socketio_client --example who_is_online -- room1
//! ```

use std::time::Duration;

use pg_socketio_client::Peer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let room = std::env::args().nth(1).unwrap_or_else(|| "room1".into());
    // Not announced: the servers answer it and never wait for it.
    let peer = Peer::builder(url).connect().await?;
    let servers: Vec<String> = peer.servers().into_iter().map(|s| s.uid).collect();
    println!("servers: {servers:?}");
    let found = peer
        .to(room.as_str())
        .timeout(Duration::from_secs(2))
        .fetch_sockets()
        .await?;
    for answer in &found.answers {
        for socket in &answer.value {
            println!(
                "{room}: {} on server {} rooms={:?} data={}",
                socket.id, answer.server, socket.rooms, socket.data
            );
        }
    }
    println!(
        "{} of {} servers answered; missing {:?}, left {:?}",
        found.answers.len(),
        servers.len(),
        found.missing,
        found.left
    );
    Ok(())
}
