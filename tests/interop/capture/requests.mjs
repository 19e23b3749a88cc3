// Two adapter-0.5.0 servers that know each other, one client on the second:
// requests and their responses (types 7–12) and heartbeats (1, 2, 13), sent by
// the real packages for `tests/tests/node_capture.rs`.
// Usage: node requests.mjs <channelPrefix>. Prints the servers' uids and the
// answers the first server got.
//
// Nothing here calls `adapter.init()`: socket.io (from 4.8.2) calls it when it
// sets a namespace's adapter, and so each server announces itself
// (INITIAL_HEARTBEAT) as it starts; a, already listening, answers b's with a
// HEARTBEAT, and from then on each knows the other.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { io as connectClient } from "socket.io-client";
import { createAdapter } from "@socket.io/postgres-adapter";
import { pool } from "../lib/cluster.mjs";

const prefix = process.argv[2];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const opts = { channelPrefix: prefix, heartbeatInterval: 60000 };

const dbA = pool();
const a = new Server();
a.adapter(createAdapter(dbA, opts));
console.log(`uid a ${a.of("/").adapter.uid}`);
await sleep(450);

const dbB = pool();
const http = createServer();
const b = new Server(http);
b.adapter(createAdapter(dbB, opts));
b.on("q", (n, ack) => ack(n + 1));
console.log(`uid b ${b.of("/").adapter.uid}`);
await sleep(300);
await new Promise((r) => http.listen(0, "127.0.0.1", r));
const client = connectClient(`http://127.0.0.1:${http.address().port}`, { transports: ["websocket"] });
client.on("ask", (n, ack) => ack(n * 10));
await new Promise((r) => client.once("connect", r));
console.log(`socket ${client.id}`);
await sleep(300);

const sockets = await a.fetchSockets();
console.log(`fetched ${sockets.map((s) => s.id).join(",")}`);
await sleep(150);
console.log(`serverSideEmitWithAck ${JSON.stringify(await a.serverSideEmitWithAck("q", 1))}`);
await sleep(150);
console.log(`emitWithAck ${JSON.stringify(await a.timeout(2000).emitWithAck("ask", 4))}`);
await sleep(150);

client.disconnect();
a.of("/").adapter.close();
await sleep(150);
b.of("/").adapter.close();
await sleep(300);
process.exit(0);
