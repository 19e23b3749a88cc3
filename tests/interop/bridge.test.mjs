// The socketioxide bridge (client crate, feature `socketioxide`, its example
// server): socket.io-client clients of a Rust server receive what SQL and a
// Node.js server with @socket.io/postgres-adapter 0.5.0 emit.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { createAdapter } from "@socket.io/postgres-adapter";
import { startServer, startClient, sqlSession, settle } from "./lib/cluster.mjs";
import { startProgram, BRIDGE } from "./lib/rust.mjs";

const prefix = `interop_bridge_${process.pid}`;
let bridge, clients, all, sql, node;

before(async () => {
  bridge = startProgram(BRIDGE, ["0", prefix]);
  const port = Number((await bridge.waitFor(/^listening on /)).split(":").pop());
  const rust = { port }; // what startClient needs of a server
  clients = {
    a: await startClient(rust, { rooms: ["r1"] }),
    b: await startClient(rust, { rooms: ["r1", "r2"] }),
    c: await startClient(rust),
    d: await startClient(rust, { nsp: "/admin" }),
  };
  all = Object.values(clients);
  sql = await sqlSession(prefix);
  node = await startServer({ createAdapter, channelPrefix: prefix, namespaces: ["/", "/admin"] });
});

after(async () => {
  for (const c of all ?? []) c.socket.disconnect();
  await sql?.end();
  await node?.close();
  await bridge?.stop();
});

beforeEach(() => {
  for (const c of all) c.received.length = 0;
});

const received = () => Object.fromEntries(Object.entries(clients).map(([k, c]) => [k, c.received]));

test("what SQL emits: rooms, except, namespaces, binary, attachments", async () => {
  const big = "x".repeat(20000);
  await sql.query(`SELECT sio_emit('r1', 'e1', '{"n":1}')`);
  await sql.query(`SELECT sio_emit(ARRAY['r1'], 'e2', '[1,"x"]', except_rooms => ARRAY['r2'], volatile => true)`);
  await sql.query(`SELECT sio_emit(ARRAY[]::text[], 'e3', '2', nsp => '/admin')`);
  await sql.query(
    `SELECT sio_emit_args(ARRAY['r2'], 'bin', '[{"_placeholder":true,"num":0}, 7]', binary_args => ARRAY['\\x00ff'::bytea])`,
  );
  await sql.query(`SELECT sio_emit(ARRAY[]::text[], 'big', to_jsonb($1::text))`, [big]);
  await settle();
  assert.deepEqual(received(), {
    a: [["e1", { n: 1 }], ["e2", [1, "x"]], ["big", big]],
    b: [["e1", { n: 1 }], ["bin", Buffer.from([0, 255]), 7], ["big", big]],
    c: [["big", big]],
    d: [["e3", 2]],
  });
});

test("what a Node.js server emits through the adapter", async () => {
  await settle(300); // the Node server's LISTEN
  node.io.to("r2").emit("fromNode", Buffer.from([9, 8]), { k: "v" });
  node.io.of("/admin").emit("nodeAdmin");
  await settle();
  assert.deepEqual(received(), {
    a: [],
    b: [["fromNode", Buffer.from([9, 8]), { k: "v" }]],
    c: [],
    d: [["nodeAdmin"]],
  });
});

test("join, leave and disconnect apply to the Rust server's sockets", async () => {
  await sql.query(`SELECT sio_sockets_join(ARRAY['r1'], ARRAY['j'])`);
  await settle();
  await sql.query(`SELECT sio_emit('j', 'inJ', '1')`);
  await sql.query(`SELECT sio_sockets_leave(ARRAY['r2'], ARRAY['j'])`);
  await settle();
  await sql.query(`SELECT sio_emit('j', 'stillInJ', '2')`);
  await settle();
  assert.deepEqual(received(), { a: [["inJ", 1], ["stillInJ", 2]], b: [["inJ", 1]], c: [], d: [] });

  const gone = new Promise((resolve) => clients.b.socket.once("disconnect", resolve));
  await sql.query(`SELECT sio_disconnect_sockets(ARRAY['r2'])`);
  assert.equal(await gone, "io server disconnect");
  assert.equal(clients.a.socket.connected, true);
});

test("server-side emits are left to the application", async () => {
  const from = bridge.lines.length;
  await sql.query(`SELECT sio_server_side_emit('hello', '["w", 2]')`);
  const line = await bridge.waitFor(/^server-side /, from);
  assert.match(line, /^server-side \/ hello \[String\(.*"w".*\), Integer\(PosInt\(2\)\)\]$/);
});
