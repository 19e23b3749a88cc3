// sio_emit judged by the real Node.js packages: two Socket.IO servers with
// @socket.io/postgres-adapter 0.5.0, clients in different rooms and namespaces.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { createAdapter } from "@socket.io/postgres-adapter";
import { Emitter } from "@socket.io/postgres-emitter";
import { startServer, startClient, sqlSession, waitUntilListening, settle, pool } from "./lib/cluster.mjs";

const prefix = `interop_${process.pid}`;
let servers, clients, sql, all;

before(async () => {
  const opts = { createAdapter, channelPrefix: prefix, namespaces: ["/", "/admin"] };
  servers = [await startServer(opts), await startServer(opts)];
  const [s1, s2] = servers;
  clients = {
    a: await startClient(s1, { rooms: ["room1"] }),
    b: await startClient(s2, { rooms: ["room1"] }),
    c: await startClient(s1, { rooms: ["room2"] }),
    d: await startClient(s2),
    e: await startClient(s1, { nsp: "/admin", rooms: ["room1"] }),
  };
  all = Object.values(clients);
  sql = await sqlSession(prefix);
  await waitUntilListening(sql, all);
});

after(async () => {
  for (const c of all ?? []) c.socket.disconnect();
  await sql?.end();
  for (const s of servers ?? []) await s.close();
});

beforeEach(() => {
  for (const c of all) c.received.length = 0;
});

/** What each client received, by name. */
function received() {
  return Object.fromEntries(Object.entries(clients).map(([name, c]) => [name, c.received]));
}

test("to one room reaches that room's clients on every server, and no one else", async () => {
  await sql.query(`SELECT sio_emit('room1', 'ping', '{"n":1}')`);
  await settle();
  assert.deepEqual(received(), {
    a: [["ping", { n: 1 }]],
    b: [["ping", { n: 1 }]],
    c: [],
    d: [],
    e: [],
  });
});

test("the empty array reaches every client of the namespace; zero arguments stay zero", async () => {
  await sql.query(`SELECT sio_emit(ARRAY[]::text[], 'tick')`);
  await settle();
  assert.deepEqual(received(), { a: [["tick"]], b: [["tick"]], c: [["tick"]], d: [["tick"]], e: [] });
});

test("several rooms with except_rooms", async () => {
  await sql.query(
    `SELECT sio_emit(ARRAY['room1','room2'], 'x', '[1,"two",null]', except_rooms => ARRAY['room2'])`,
  );
  await settle();
  const x = [["x", [1, "two", null]]];
  assert.deepEqual(received(), { a: x, b: x, c: [], d: [], e: [] });
});

test("another namespace reaches only its own clients", async () => {
  await sql.query(`SELECT sio_emit('room1', 'admin_only', '"hi"', nsp => '/admin')`);
  await settle();
  assert.deepEqual(received(), { a: [], b: [], c: [], d: [], e: [["admin_only", "hi"]] });
});

test("a socket id is a room: emit to one socket", async () => {
  await sql.query(`SELECT sio_emit($1, 'direct', '{}')`, [clients.d.socket.id]);
  await settle();
  assert.deepEqual(received(), { a: [], b: [], c: [], d: [["direct", {}]], e: [] });
});

test("identical emits in one transaction arrive as often as they were made, at commit", async () => {
  await sql.query("BEGIN");
  for (let i = 0; i < 3; i++) await sql.query(`SELECT sio_emit('room2', 'same', '{"k":1}')`);
  await settle(300);
  assert.deepEqual(clients.c.received, [], "nothing before COMMIT");
  await sql.query("COMMIT");
  await settle();
  const same = ["same", { k: 1 }];
  assert.deepEqual(received(), { a: [], b: [], c: [same, same, same], d: [], e: [] });
});

test("a rolled-back emit reaches no one", async () => {
  await sql.query("BEGIN");
  await sql.query(`SELECT sio_emit(ARRAY[]::text[], 'never')`);
  await sql.query("ROLLBACK");
  await settle();
  assert.deepEqual(received(), { a: [], b: [], c: [], d: [], e: [] });
});

// The fact this project exists for: the official emitter 0.1.1 omits the
// top-level "nsp", and adapter 0.5.0 drops what it sends.
test("the official @socket.io/postgres-emitter is ignored by adapter 0.5.0", async () => {
  const db = pool();
  const listener = await db.connect();
  const seen = [];
  listener.on("notification", (n) => seen.push(JSON.parse(n.payload)));
  await listener.query(`LISTEN "${prefix}#/"`);
  const emitter = new Emitter(db, "/", { channelPrefix: prefix });
  emitter.to("room1").emit("from_official_emitter", 1);
  await settle(1000);
  listener.release();
  await db.end();
  // It was sent, without a top-level nsp ...
  const sent = seen.filter((m) => m.data?.packet?.data?.[0] === "from_official_emitter");
  assert.equal(sent.length, 1);
  assert.equal(sent[0].nsp, undefined);
  // ... and no client received it.
  assert.deepEqual(received(), { a: [], b: [], c: [], d: [], e: [] });
});

test("a NULL room list is refused and reaches no one", async () => {
  await assert.rejects(sql.query(`SELECT sio_emit((SELECT 'room1' WHERE false), 'private', '1')`), {
    code: "22004",
    message: /rooms must not be NULL/,
  });
  await settle();
  assert.deepEqual(received(), { a: [], b: [], c: [], d: [], e: [] });
});

test("one rule for JSON, inline or through the attachment table: depth, huge and 64-bit-plus numbers", async () => {
  const deep = `${"[".repeat(150)}${"]".repeat(150)}`;
  const json = `[1e400, -1e400, 123456789012345678901234567890, 18446744073709551615, -9223372036854775808, 1.50, ${deep}]`;
  await sql.query(`SELECT sio_emit('room2', 'inline', $1::jsonb)`, [json]);
  await sql.query(`SET pg_socketio.payload_threshold = 0`);
  await sql.query(`SELECT sio_emit('room2', 'attached', $1::jsonb)`, [json]);
  await sql.query(`RESET pg_socketio.payload_threshold`);
  await settle();
  // The attachment carries the arguments' JSON text beside their
  // MessagePack (exactArgs, for Rust listeners): the adapter ignores it.
  const { rows } = await sql.query(
    `SELECT position(convert_to('exactArgs', 'UTF8') in payload) > 0
            AND position(convert_to('123456789012345678901234567890', 'UTF8') in payload) > 0 AS beside
       FROM socket_io_attachments ORDER BY id DESC LIMIT 1`,
  );
  assert.deepEqual(rows, [{ beside: true }]);
  const [[inlineEvent, inline], [attachedEvent, attached]] = clients.c.received;
  assert.equal(inlineEvent, "inline");
  assert.equal(attachedEvent, "attached");
  // JavaScript's numbers, whichever way the message came (Infinity goes to
  // the client as null, as JSON has no Infinity).
  assert.deepEqual(attached, inline);
  assert.deepEqual(inline.slice(0, 6), [null, null, 1.2345678901234568e29, 18446744073709552000, -9223372036854776000, 1.5]);
  let depth = 0;
  for (let v = inline[6]; Array.isArray(v); v = v[0]) depth++;
  assert.equal(depth, 150);
});
