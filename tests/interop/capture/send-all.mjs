// Sends one of each message a Node.js deployment sends, with the real
// packages, for the Rust listener test `tests/tests/node_capture.rs` to
// decode. Usage: node send-all.mjs <channelPrefix>. Prints the senders' uids.
import { Server } from "socket.io";
import * as v05 from "@socket.io/postgres-adapter";
import * as v03 from "postgres-adapter-0.3";
import { Emitter } from "@socket.io/postgres-emitter";
import { pool } from "../lib/cluster.mjs";

const prefix = process.argv[2];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// The adapters publish without waiting; a pause keeps the wire order.
const step = () => sleep(150);

const db = pool();
const io = new Server();
io.adapter(v05.createAdapter(db, { channelPrefix: prefix }));
const admin = io.of("/admin");
console.log(`uid / ${io.of("/").adapter.uid}`);
console.log(`uid /admin ${admin.adapter.uid}`);
await sleep(500); // LISTEN in place, initial heartbeat out

io.to("r1").except("r2").emit("e1", 1, { a: "b" });
await step();
admin.volatile.compress(false).emit("e2", "x");
await step();
io.emit("bin", Buffer.from([1, 2, 3]), { nested: Buffer.from([4]) });
await step();
io.emit("big", "x".repeat(9000));
await step();
io.in("r1").socketsJoin(["j1", "j2"]);
await step();
io.in("r1").socketsLeave("j1");
await step();
io.in("r9").disconnectSockets(true);
await step();
io.serverSideEmit("sse", 5, [6]);
await step();

// The official emitter writes no nsp (adapter 0.5.0 ignores it; the Rust
// listener takes the namespace from the channel).
new Emitter(db, "/", { channelPrefix: prefix }).to("r3").emit("oe", 7);
await step();

// Adapter 0.3.1 writes no nsp either.
const oldDb = pool();
const old = new Server();
old.adapter(v03.createAdapter(oldDb, { channelPrefix: prefix }));
console.log(`uid old ${old.of("/").adapter.uid}`);
await sleep(300);
old.to("r4").emit("old", 8);
await step();

// Servers are not attached to HTTP here: closing the adapters is enough.
for (const nsp of [io.of("/"), admin, old.of("/")]) nsp.adapter.close();
await sleep(300);
process.exit(0);
