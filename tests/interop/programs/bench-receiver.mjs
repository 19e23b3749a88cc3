// The Node.js side of the listener benchmarks (`bench/`): a Socket.IO server
// with @socket.io/postgres-adapter 0.5.0 that counts the broadcasts it
// receives, exactly as bench/src/receiver.rs does for the Rust listener.
// Usage: node receiver.mjs <channelPrefix>
import { Server } from "socket.io";
import { Adapter } from "socket.io-adapter";
import { createAdapter } from "@socket.io/postgres-adapter";
import { pool } from "../lib/cluster.mjs";

const prefix = process.argv[2];
const now = () => performance.timeOrigin + performance.now();
let ready = false;
let round = { count: 0, first: undefined, last: 0, latencies: [] };

function summary() {
  const l = round.latencies.sort((a, b) => a - b);
  const pct = (p) => (l.length ? l[Math.min(l.length, Math.max(1, Math.ceil(l.length * p))) - 1] : 0);
  return JSON.stringify({ count: round.count, samples: l.length, span_ms: round.last - (round.first ?? round.last), p50_ms: pct(0.5), p99_ms: pct(0.99) });
}

// Where the adapter hands a received broadcast to the local sockets.
Adapter.prototype.broadcast = function (packet) {
  const t = now();
  const [event, ...args] = packet.data;
  if (event === "probe" && !ready) {
    ready = true;
    console.log("ready");
  } else if (event === "b") {
    round.count++;
    round.first ??= t;
    round.last = t;
  } else if (event === "l") {
    round.latencies.push(t - args[0]);
  } else if (event === "end") {
    console.log(summary());
    round = { count: 0, first: undefined, last: 0, latencies: [] };
  }
};

const io = new Server();
io.adapter(createAdapter(pool(), { channelPrefix: prefix }));
