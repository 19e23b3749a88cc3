// Every SQL operation, judged by @socket.io/postgres-adapter 0.5.0 servers and
// socket.io-client clients: binary and large payloads, flags, join/leave,
// disconnect, serverSideEmit.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { Adapter } from "socket.io-adapter";
import { createAdapter } from "@socket.io/postgres-adapter";
import { startServer, startClient, sqlSession, waitUntilListening, settle, roomsOf } from "./lib/cluster.mjs";

const prefix = `interop_ops_${process.pid}`;
let servers, clients, sql, all;

// Records the flags of every broadcast the servers apply.
const broadcasts = [];
const originalBroadcast = Adapter.prototype.broadcast;
Adapter.prototype.broadcast = function (packet, opts) {
  broadcasts.push({ event: packet.data?.[0], flags: { ...opts.flags } });
  return originalBroadcast.call(this, packet, opts);
};

before(async () => {
  const opts = { createAdapter, channelPrefix: prefix, namespaces: ["/", "/admin"], serverSideEvents: ["hello", "blob"] };
  servers = [await startServer(opts), await startServer(opts)];
  const [s1, s2] = servers;
  clients = {
    a: await startClient(s1, { rooms: ["room1"] }),
    b: await startClient(s2, { rooms: ["room1", "vip"] }),
    c: await startClient(s1, { rooms: ["room2"] }),
    d: await startClient(s2, { nsp: "/admin", rooms: ["room1"] }),
  };
  all = Object.values(clients);
  sql = await sqlSession(prefix);
  await waitUntilListening(sql, all);
});

after(async () => {
  Adapter.prototype.broadcast = originalBroadcast;
  for (const c of all ?? []) c.socket.disconnect();
  await sql?.end();
  for (const s of servers ?? []) await s.close();
});

beforeEach(() => {
  for (const c of all) c.received.length = 0;
  for (const s of servers) s.serverSide.length = 0;
  broadcasts.length = 0;
});

function received() {
  return Object.fromEntries(Object.entries(clients).map(([name, c]) => [name, c.received]));
}

async function attachmentRows() {
  const { rows } = await sql.query("SELECT count(*)::int AS n FROM socket_io_attachments");
  return rows[0].n;
}

test("binary arguments arrive as Buffers, byte for byte, beside JSON ones", async () => {
  const bytes = Buffer.from(Array.from({ length: 70000 }, (_, i) => (i * 7) % 256));
  await sql.query(
    `SELECT sio_emit_args('room1', 'file', '[{"name":"a.png"},{"_placeholder":true,"num":0},{"thumb":{"_placeholder":true,"num":1}}]', ARRAY[$1::bytea, '\\x00ff'])`,
    [bytes],
  );
  await settle(1000);
  for (const name of ["a", "b"]) {
    const [[event, meta, file, nested], ...rest] = clients[name].received;
    assert.equal(event, "file");
    assert.deepEqual(meta, { name: "a.png" });
    assert.ok(Buffer.isBuffer(file), `${name}: a Buffer`);
    assert.ok(file.equals(bytes), `${name}: the same bytes`);
    assert.ok(Buffer.from([0, 255]).equals(nested.thumb));
    assert.deepEqual(rest, []);
  }
  assert.deepEqual(clients.c.received, []);
  assert.deepEqual(clients.d.received, []);
});

test("several JSON arguments, zero arguments", async () => {
  await sql.query(`SELECT sio_emit_args('room2', 'many', '[1, "two", {"three": [3]}, null, true]')`);
  await sql.query(`SELECT sio_emit_args('room2', 'none')`);
  await settle();
  assert.deepEqual(received(), { a: [], b: [], c: [["many", 1, "two", { three: [3] }, null, true], ["none"]], d: [] });
});

test("7999 bytes go inline, 8000 through the table (multibyte text); both arrive", async () => {
  const listener = await sql.listen(`${prefix}#/`);
  await sql.query(`SELECT sio_emit('room2', 'probe')`);
  const probeSeq = (await listener.next()).seq;
  const envelope = (seq, s) =>
    `{"type":3,"data":{"packet":{"type":2,"data":["big","${s}"],"nsp":"/"},"opts":{"rooms":["room2"],"except":[],"flags":{}}},"uid":"emitter","nsp":"/","source":"_sio_adapter","seq":${seq}}`;
  // A string of 'é' (2 bytes each), and one 'a' when the byte count is odd.
  const fill = (seq, total) => {
    const bytes = total - Buffer.byteLength(envelope(seq, ""));
    return "é".repeat(Math.floor(bytes / 2)) + "a".repeat(bytes % 2);
  };
  const inline = fill(probeSeq + 1, 7999);
  const attached = fill(probeSeq + 2, 8000);
  const rows = await attachmentRows();

  await sql.query(`SELECT sio_emit('room2', 'big', to_jsonb($1::text))`, [inline]);
  const first = await listener.next();
  assert.equal(Buffer.byteLength(first.raw), 7999, "sent inline at 7999 bytes");
  assert.equal(await attachmentRows(), rows);

  await sql.query(`SELECT sio_emit('room2', 'big', to_jsonb($1::text))`, [attached]);
  const second = await listener.next();
  assert.equal(second.attachmentId !== undefined, true, `attachment at 8000 bytes: ${second.raw.slice(0, 80)}`);
  assert.equal(await attachmentRows(), rows + 1);
  await listener.close();

  await settle(1000);
  assert.deepEqual(clients.c.received.map(([e, s]) => [e, s?.length]), [
    ["probe", undefined],
    ["big", inline.length],
    ["big", attached.length],
  ]);
  assert.equal(clients.c.received[1][1], inline);
  assert.equal(clients.c.received[2][1], attached);
});

test("volatile and compress reach the servers' broadcast flags", async () => {
  await sql.query(`SELECT sio_emit('room1', 'v', volatile => true)`);
  await sql.query(`SELECT sio_emit('room1', 'nc', compress => false)`);
  await sql.query(`SELECT sio_emit('room1', 'plain')`);
  await settle();
  const flags = (event) => broadcasts.filter((b) => b.event === event).map((b) => b.flags);
  // Each of the two servers applied each broadcast once.
  assert.deepEqual(flags("v"), [{ volatile: true }, { volatile: true }]);
  assert.deepEqual(flags("nc"), [{ compress: false }, { compress: false }]);
  assert.deepEqual(flags("plain"), [{}, {}]);
  assert.deepEqual(received(), { a: [["v"], ["nc"], ["plain"]], b: [["v"], ["nc"], ["plain"]], c: [], d: [] });
});

test("socketsJoin and socketsLeave change rooms on every server, with except", async () => {
  await sql.query(`SELECT sio_sockets_join(ARRAY['room1'], ARRAY['joined', 'other'], except_rooms => ARRAY['vip'])`);
  await settle();
  const [s1, s2] = servers;
  assert.deepEqual(roomsOf(s1, clients.a), ["joined", "other", "room1"]);
  assert.deepEqual(roomsOf(s2, clients.b), ["room1", "vip"]);
  assert.deepEqual(roomsOf(s1, clients.c), ["room2"]);
  assert.deepEqual(roomsOf(s2, clients.d), ["room1"], "another namespace is untouched");
  await sql.query(`SELECT sio_emit('joined', 'welcome')`);
  await sql.query(`SELECT sio_sockets_leave(ARRAY[]::text[], ARRAY['joined'])`);
  await settle();
  assert.deepEqual(roomsOf(s1, clients.a), ["other", "room1"]);
  assert.deepEqual(received(), { a: [["welcome"]], b: [], c: [], d: [] });
});

test("serverSideEmit reaches every server's io.on listener, JSON and binary", async () => {
  await sql.query(`SELECT sio_server_side_emit('hello', '[1, {"x": "y"}]')`);
  await sql.query(`SELECT sio_server_side_emit('blob', '[{"_placeholder":true,"num":0}]', ARRAY['\\xdeadbeef'::bytea])`);
  await settle(1000);
  for (const server of servers) {
    assert.equal(server.serverSide.length, 2);
    assert.deepEqual(server.serverSide[0], ["/", "hello", 1, { x: "y" }]);
    const [nsp, event, blob] = server.serverSide[1];
    assert.deepEqual([nsp, event], ["/", "blob"]);
    assert.ok(Buffer.from("deadbeef", "hex").equals(Buffer.from(blob)));
  }
  assert.deepEqual(received(), { a: [], b: [], c: [], d: [] }, "clients get nothing");
});

test("a rolled-back binary emit leaves no row and reaches no one", async () => {
  const rows = await attachmentRows();
  await sql.query("BEGIN");
  await sql.query(`SELECT sio_emit_args(ARRAY[]::text[], 'gone', '[{"_placeholder":true,"num":0}]', ARRAY['\\x01'::bytea])`);
  await sql.query("ROLLBACK");
  await settle();
  assert.equal(await attachmentRows(), rows);
  assert.deepEqual(received(), { a: [], b: [], c: [], d: [] });
});

// Last: it disconnects clients.
test("disconnectSockets disconnects exactly the targeted sockets", async () => {
  const reasons = {};
  for (const [name, c] of Object.entries(clients)) c.socket.on("disconnect", (r) => (reasons[name] = r));
  await sql.query(`SELECT sio_disconnect_sockets(ARRAY['room1'], except_rooms => ARRAY['vip'])`);
  await sql.query(`SELECT sio_disconnect_sockets(ARRAY['room1'], close => true, nsp => '/admin')`);
  await settle(1000);
  assert.deepEqual({ ...reasons }, { a: "io server disconnect", d: "io server disconnect" });
  assert.equal(clients.b.socket.connected, true);
  assert.equal(clients.c.socket.connected, true);
});
