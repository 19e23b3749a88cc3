//! The Rust side of the listener benchmarks, run as a child process
//! (`pg_socketio_bench receive <prefix>`) so that its memory can be measured
//! alone. Its twin for Node.js is `tests/interop/programs/bench-receiver.mjs`; both
//! count broadcasts the same way and print the same summary lines.
//!
//! Events: `probe` → prints `ready` once; `b` → counted, first and last
//! arrival kept; `l` with `[sent_ms]` → latency kept; `end` → prints
//! `{"count","samples","span_ms","p50_ms","p99_ms"}` and starts over.

use std::time::{SystemTime, UNIX_EPOCH};

use pg_socketio_client::protocol::Body;
use pg_socketio_client::{Event, Listener};

use crate::report::percentile;

#[derive(Default)]
struct Round {
    count: u64,
    first_ms: Option<f64>,
    last_ms: f64,
    latencies: Vec<f64>,
}

impl Round {
    fn summary(mut self) -> String {
        serde_json::json!({
            "count": self.count,
            "samples": self.latencies.len(),
            "span_ms": self.last_ms - self.first_ms.unwrap_or(self.last_ms),
            "p50_ms": percentile(&mut self.latencies, 0.50),
            "p99_ms": percentile(&mut self.latencies, 0.99),
        })
        .to_string()
    }
}

pub fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
        * 1000.0
}

pub async fn run(url: &str, prefix: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut listener = Listener::builder(url)
        .channel_prefix(prefix)
        .connect()
        .await?;
    let mut ready = false;
    let mut round = Round::default();
    while let Some(event) = listener.recv().await {
        let Event::Message { message, .. } = event else {
            eprintln!("receiver: {event:?}");
            continue;
        };
        let Body::Broadcast { event, args, .. } = message.body else {
            continue;
        };
        let now = now_ms();
        match event.as_str() {
            "probe" if !ready => {
                ready = true;
                println!("ready");
            }
            "b" => {
                round.count += 1;
                round.first_ms.get_or_insert(now);
                round.last_ms = now;
            }
            "l" => {
                if let Some(sent) = args.first().and_then(|a| a.as_f64()) {
                    round.latencies.push(now - sent);
                }
            }
            "end" => println!("{}", std::mem::take(&mut round).summary()),
            _ => {}
        }
    }
    Ok(())
}
