// Emits judged by every adapter generation in use — @socket.io/postgres-adapter
// 0.5.0, 0.4.0 and 0.3.1 — and by workers of a Node-cluster deployment
// (setupPrimary + @socket.io/cluster-adapter). Messages carry "source" by
// default; that it is harmless to the standalone adapters is proven here too.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import cluster from "node:cluster";
import { fileURLToPath } from "node:url";
import * as v05 from "@socket.io/postgres-adapter";
import * as v04 from "postgres-adapter-0.4";
import * as v03 from "postgres-adapter-0.3";
import { startServer, startClient, sqlSession, waitUntilListening, settle, pool } from "./lib/cluster.mjs";

const png = Buffer.from("89504e470d0a1a0a", "hex");

/** The same emits, and what two clients (in room1 / room2) must receive. */
async function emitAndCheck(sql, inRoom1, inRoom2) {
  await sql.query(`SELECT sio_emit('room1', 'small', '{"n":1}')`);
  await sql.query(`SELECT sio_emit(ARRAY['room1','room2'], 'large', to_jsonb(repeat('é', 5000)), except_rooms => ARRAY['room2'])`);
  await sql.query(
    `SELECT sio_emit_args('room2', 'file', '[{"name":"a.png"},{"_placeholder":true,"num":0}]', ARRAY[$1::bytea])`,
    [png],
  );
  await settle(1000);
  assert.deepEqual(inRoom1.received, [["small", { n: 1 }], ["large", "é".repeat(5000)]]);
  assert.equal(inRoom2.received.length, 1);
  const [event, meta, file] = inRoom2.received[0];
  assert.deepEqual([event, meta], ["file", { name: "a.png" }]);
  assert.ok(png.equals(Buffer.from(file)), "the file's bytes");
}

for (const [version, adapter] of [["0.5.0", v05], ["0.4.0", v04], ["0.3.1", v03]]) {
  describe(`@socket.io/postgres-adapter ${version}`, () => {
    const prefix = `interop_v${version.replaceAll(".", "")}_${process.pid}`;
    let server, a, b, sql;
    before(async () => {
      server = await startServer({ createAdapter: adapter.createAdapter, channelPrefix: prefix });
      a = await startClient(server, { rooms: ["room1"] });
      b = await startClient(server, { rooms: ["room2"] });
      sql = await sqlSession(prefix);
      await waitUntilListening(sql, [a, b]);
    });
    after(async () => {
      a?.socket.disconnect();
      b?.socket.disconnect();
      await sql?.end();
      await server?.close();
    });
    test("inline, attachment (large) and binary emits arrive exactly", async () => {
      await emitAndCheck(sql, a, b);
    });
  });
}

describe("Node-cluster workers (setupPrimary + @socket.io/cluster-adapter)", () => {
  const prefix = `interop_cluster_${process.pid}`;
  let primary, db, workers, a, b, sql;
  before(async () => {
    // Published 0.5.0 bug: dist/node-cluster.js reads require("cluster").default,
    // compiled without esModuleInterop, so it is undefined. Supply it.
    cluster.default ??= cluster;
    cluster.setupPrimary({
      exec: fileURLToPath(new URL("./lib/cluster-worker.mjs", import.meta.url)),
      serialization: "advanced", // Buffers survive the IPC hop
    });
    db = pool();
    primary = v05.setupPrimary(db, { channelPrefix: prefix });
    workers = await Promise.all(
      [0, 1].map(
        () =>
          new Promise((resolve) => {
            const worker = cluster.fork();
            worker.on("message", (m) => m.ready && resolve({ worker, port: m.ready }));
          }),
      ),
    );
    a = await startClient(workers[0], { rooms: ["room1"] });
    b = await startClient(workers[1], { rooms: ["room2"] });
    sql = await sqlSession(prefix);
    await waitUntilListening(sql, [a, b]);
  });
  after(async () => {
    a?.socket.disconnect();
    b?.socket.disconnect();
    await sql?.end();
    for (const w of workers ?? []) w.worker.kill();
    primary?.close();
    await db?.end();
  });
  test("emits reach clients of every worker", async () => {
    await emitAndCheck(sql, a, b);
  });
  test("without the source marker workers drop everything", async () => {
    a.received.length = b.received.length = 0;
    await sql.query("SET pg_socketio.cluster_source = off");
    await sql.query(`SELECT sio_emit(ARRAY[]::text[], 'unmarked')`);
    await settle(1000);
    await sql.query("RESET pg_socketio.cluster_source");
    assert.deepEqual([a.received, b.received], [[], []]);
  });
});
