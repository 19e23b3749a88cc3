// The Rust Emitter (client crate), judged by @socket.io/postgres-adapter 0.5.0
// servers and socket.io-client clients.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { createAdapter } from "@socket.io/postgres-adapter";
import { startServer, startClient, sqlSession, waitUntilListening, settle, roomsOf } from "./lib/cluster.mjs";
import { startProgram, EMIT_LINES } from "./lib/rust.mjs";

const prefix = `interop_rust_${process.pid}`;
let server, clients, all, sql, rust;

before(async () => {
  server = await startServer({ createAdapter, channelPrefix: prefix, namespaces: ["/", "/admin"], serverSideEvents: ["hello"] });
  clients = {
    a: await startClient(server, { rooms: ["r1"] }),
    b: await startClient(server, { rooms: ["r1", "r2"] }),
    c: await startClient(server),
    d: await startClient(server, { nsp: "/admin" }),
  };
  all = Object.values(clients);
  sql = await sqlSession(prefix);
  await waitUntilListening(sql, all);
  rust = startProgram(EMIT_LINES);
});

after(async () => {
  await rust?.stop();
  for (const c of all ?? []) c.socket.disconnect();
  await sql?.end();
  await server?.close();
});

beforeEach(() => {
  for (const c of all) c.received.length = 0;
  server.serverSide.length = 0;
});

const send = (message) => rust.send({ prefix, ...message });
const received = () => Object.fromEntries(Object.entries(clients).map(([k, c]) => [k, c.received]));

test("rooms, except and namespaces select the clients", async () => {
  assert.equal(await send({ op: "emit", to: ["r1"], except: ["r2"], event: "e1", args: [1, { a: "b" }] }), "ok");
  assert.equal(await send({ op: "emit", nsp: "/admin", event: "e2", args: ["x"], volatile: true, compress: false }), "ok");
  assert.equal(await send({ op: "emit", event: "all", args: [] }), "ok");
  await settle();
  assert.deepEqual(received(), {
    a: [["e1", 1, { a: "b" }], ["all"]],
    b: [["all"]],
    c: [["all"]],
    d: [["e2", "x"]],
  });
});

test("binary arguments arrive as Buffers, large messages whole", async () => {
  const big = "é".repeat(10000);
  assert.equal(
    await send({ op: "emit", to: ["r2"], event: "bin", args: [{ file: { _placeholder: true, num: 0 } }, 3], binary: [[0, 1, 255]] }),
    "ok",
  );
  // Both go through the attachment table, and the Node.js adapter fetches
  // each row asynchronously: two in a row may be delivered in either order
  // (docs/protocol.md, "Listening"). One at a time keeps the order exact.
  await settle();
  assert.equal(await send({ op: "emit", to: ["r2"], event: "big", args: [big] }), "ok");
  await settle();
  assert.deepEqual(clients.b.received, [["bin", { file: Buffer.from([0, 1, 255]) }, 3], ["big", big]]);
  assert.deepEqual(clients.a.received, []);
});

test("join, leave and disconnect", async () => {
  assert.equal(await send({ op: "join", to: ["r1"], rooms: ["j1", "j2"] }), "ok");
  await settle();
  assert.deepEqual([roomsOf(server, clients.a), roomsOf(server, clients.c)], [["j1", "j2", "r1"], []]);
  assert.equal(await send({ op: "leave", except: ["r2"], rooms: ["j1"] }), "ok");
  await settle();
  assert.deepEqual([roomsOf(server, clients.a), roomsOf(server, clients.b)], [["j2", "r1"], ["j1", "j2", "r1", "r2"]]);
});

test("serverSideEmit reaches the servers' listeners", async () => {
  assert.equal(await send({ op: "serverSideEmit", event: "hello", args: ["w", 2] }), "ok");
  await settle();
  assert.deepEqual(server.serverSide, [["/", "hello", "w", 2]]);
});

test("in a transaction: nothing before COMMIT, nothing after ROLLBACK, identical emits all kept", async () => {
  assert.equal(await send({ op: "begin" }), "ok");
  for (let i = 0; i < 3; i++) assert.equal(await send({ op: "emit", to: ["r2"], event: "same", args: [1] }), "ok");
  await settle(300);
  assert.deepEqual(clients.b.received, []);
  assert.equal(await send({ op: "commit" }), "ok");
  assert.equal(await send({ op: "begin" }), "ok");
  assert.equal(await send({ op: "emit", to: ["r2"], event: "lost", args: [] }), "ok");
  assert.equal(await send({ op: "rollback" }), "ok");
  await settle();
  assert.deepEqual(clients.b.received, [["same", 1], ["same", 1], ["same", 1]]);
});

test("bad input is refused before anything is sent", async () => {
  assert.match(await send({ op: "emit", event: "connect", args: [] }), /^error: .*reserved/);
  assert.match(await send({ op: "emit", nsp: "admin", event: "e", args: [] }), /^error: .*namespace/);
  assert.match(await send({ op: "emit", event: "e", args: { not: "an array" } }), /^error: .*array/);
  assert.match(await send({ op: "emit", event: "e", args: [{ _placeholder: true, num: 0 }] }), /^error: .*placeholder/);
  await settle();
  assert.deepEqual(received(), { a: [], b: [], c: [], d: [] });
});

test("disconnectSockets(true) closes the clients' connections", async () => {
  const gone = new Promise((resolve) => clients.c.socket.once("disconnect", resolve));
  assert.equal(await send({ op: "disconnect", except: ["r1"], close: true }), "ok");
  assert.equal(await gone, "io server disconnect");
  assert.equal(clients.a.socket.connected, true);
});
