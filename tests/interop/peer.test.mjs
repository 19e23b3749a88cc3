// The Rust Peer (client crate) asks real Socket.IO servers — two with
// @socket.io/postgres-adapter 0.5.0, one with 0.4.0 — for answers, and the
// servers' own requests run beside it. Answers are compared with what the
// servers themselves report (their own fetchSockets, their uids).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as v05 from "@socket.io/postgres-adapter";
import * as v04 from "postgres-adapter-0.4";
import { startServer, startClient, sqlSession, waitUntilListening, settle } from "./lib/cluster.mjs";
import { startProgram, PEER_LINES } from "./lib/rust.mjs";


const prefix = `interop_peer_${process.pid}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let servers, clients, sql, peer;

const uidOf = (server) => server.io.of("/").adapter.uid;
const serverCounts = () => Promise.all(servers.map((s) => s.io.of("/").adapter.serverCount()));

/** Starts peer_lines; resolves once it printed its uid (discovery done). */
async function startPeer(...args) {
  const program = startProgram(PEER_LINES, [prefix, ...args]);
  const first = JSON.parse(await program.waitFor(/uid/));
  program.uid = first.uid;
  program.ask = async (message) => JSON.parse(await program.send(message));
  return program;
}

/** What Node.js's own fetchSockets says, in the shape peer_lines prints. */
const nodeView = (sockets) =>
  sockets
    .map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data, auth: s.handshake.auth }))
    .sort((a, b) => a.id.localeCompare(b.id));
const rustView = (answers) =>
  answers
    .flatMap((a) => a.value)
    .map(({ id, rooms, data, auth }) => ({ id, rooms: [...rooms].sort(), data, auth }))
    .sort((a, b) => a.id.localeCompare(b.id));

before(async () => {
  servers = [
    await startServer({ createAdapter: v05.createAdapter, channelPrefix: prefix }),
    await startServer({ createAdapter: v05.createAdapter, channelPrefix: prefix }),
    await startServer({ createAdapter: v04.createAdapter, channelPrefix: prefix }),
  ];
  servers.forEach((s, i) => {
    // Answers with its index; server 2 has no listener for "slow".
    s.io.of("/").on("ask", (...args) => args.pop()({ server: i, args }));
    if (i < 2) s.io.of("/").on("slow", (cb) => cb(i));
    s.io.of("/").on("wait", (cb) => cb(i));
  });
  clients = [
    await startClient(servers[0], { rooms: ["r1"] }),
    await startClient(servers[0], { rooms: ["r2"] }),
    await startClient(servers[1], { rooms: ["r1", "r2"] }),
    await startClient(servers[2], { rooms: ["r1"] }),
    await startClient(servers[2]),
  ];
  clients.forEach((c, i) => {
    c.socket.on("question", (arg, cb) => cb({ client: i, arg }));
    const socket = servers.find((s) => s.io.of("/").sockets.has(c.socket.id)).io.of("/").sockets.get(c.socket.id);
    socket.data = { user: i };
  });
  sql = await sqlSession(prefix);
  await waitUntilListening(sql, clients);
  // Each server announced itself as it started (socket.io calls
  // adapter.init(), docs/protocol.md); the ones before it answered.
  while ((await serverCounts()).some((n) => n !== 3)) await sleep(50);
  peer = await startPeer();
});

after(async () => {
  await peer?.stop();
  for (const c of clients ?? []) c.socket.disconnect();
  await sql?.end();
  for (const s of servers ?? []) await s.close();
});

test("the servers are known at once, and do not count a peer that does not announce itself", async () => {
  assert.equal(peer.uid, "emitter");
  const { servers: known } = await peer.ask({ op: "servers" });
  assert.deepEqual(known, servers.map(uidOf).sort());
  assert.deepEqual(await serverCounts(), [3, 3, 3]);
});

test("fetchSockets: every matching socket of every server, as Node.js's own fetchSockets has them", async () => {
  const r1 = await peer.ask({ op: "fetchSockets", to: ["r1"] });
  assert.equal(r1.complete, true);
  assert.deepEqual(r1.answers.map((a) => a.server).sort(), servers.map(uidOf).sort());
  assert.deepEqual(rustView(r1.answers), nodeView(await servers[0].io.in("r1").fetchSockets()));
  assert.deepEqual(
    rustView(r1.answers).map((s) => s.data.user),
    [0, 2, 3].sort((a, b) => clients[a].socket.id.localeCompare(clients[b].socket.id)),
  );
  const except = await peer.ask({ op: "fetchSockets", except: ["r1"] });
  assert.deepEqual(rustView(except.answers), nodeView(await servers[1].io.except("r1").fetchSockets()));
  assert.equal(rustView(except.answers).length, 2);
  // The handshake is there as the servers keep it.
  const one = r1.answers.flatMap((a) => a.value)[0];
  assert.equal(one.address, "127.0.0.1");
  assert.ok(Math.abs(Date.now() - one.issued) < 120000, `issued ${one.issued}`);
});

test("serverSideEmit with acknowledgement: each server's answer", async () => {
  const got = await peer.ask({ op: "serverSideEmitWithAck", event: "ask", args: ["q", 7] });
  assert.equal(got.complete, true);
  assert.deepEqual(
    got.answers.map((a) => [a.server, a.value]).sort(),
    servers.map((s, i) => [uidOf(s), { server: i, args: ["q", 7] }]).sort(),
  );
  assert.ok(got.ms < 2000, `${got.ms} ms`);
});

test("a server that does not answer is named missing when the timeout ends the request", async () => {
  const got = await peer.ask({ op: "serverSideEmitWithAck", event: "slow", args: [], timeout: 1000 });
  assert.deepEqual(got.missing, [uidOf(servers[2])]);
  assert.deepEqual(got.left, []);
  assert.deepEqual(got.answers.map((a) => a.value).sort(), [0, 1]);
  assert.ok(got.ms >= 1000 && got.ms < 3000, `${got.ms} ms`);
  assert.deepEqual(await peer.ask({ op: "pending" }), { pending: 0 });
});

test("broadcast with acknowledgements: every client's answer and the servers' counts", async () => {
  const got = await peer.ask({ op: "emitWithAck", to: ["r1"], event: "question", args: ["why"], timeout: 3000 });
  assert.equal(got.complete, true, JSON.stringify(got));
  assert.deepEqual(
    got.counts.map((c) => [c.server, c.value]).sort(),
    [[uidOf(servers[0]), 1], [uidOf(servers[1]), 1], [uidOf(servers[2]), 1]].sort(),
  );
  assert.deepEqual(
    got.acks.map((a) => a.value).sort((a, b) => a.client - b.client),
    [0, 2, 3].map((i) => ({ client: i, arg: "why" })),
  );
  assert.equal(got.missingAcks, 0);
  assert.ok(got.ms < 2000, `${got.ms} ms`);
  // A client that does not acknowledge is counted, and missing.
  clients[4].socket.off("question");
  const partial = await peer.ask({ op: "emitWithAck", except: ["r1", "r2"], event: "question", args: [1], timeout: 800 });
  clients[4].socket.on("question", (arg, cb) => cb({ client: 4, arg }));
  assert.deepEqual(partial.counts.map((c) => c.value).sort(), [0, 0, 1]);
  assert.equal(partial.missingAcks, 1);
  assert.equal(partial.complete, false);
  assert.ok(partial.ms >= 800, `${partial.ms} ms`);
});

test("a server that leaves mid-request is named, and the request ends without waiting for the timeout", async () => {
  const extra = await startServer({ createAdapter: v05.createAdapter, channelPrefix: prefix });
  try {
    extra.io.of("/").on("wait", () => {}); // never answers
    // Its LISTEN starts asynchronously: ask until it answers the heartbeat.
    const deadline = Date.now() + 10000;
    while (!(await peer.ask({ op: "discover", wait: 100 })).servers.includes(uidOf(extra))) {
      assert.ok(Date.now() < deadline, "the new server never answered INITIAL_HEARTBEAT");
    }
    const pending = peer.ask({ op: "serverSideEmitWithAck", event: "wait", args: [], timeout: 10000 });
    await sleep(500);
    extra.io.close(); // ADAPTER_CLOSE, sent before the pool ends
    const got = await pending;
    assert.deepEqual([got.left, got.missing], [[uidOf(extra)], []], JSON.stringify(got));
    assert.deepEqual(got.answers.map((a) => a.value).sort(), [0, 1, 2]);
    assert.ok(got.ms < 5000, `${got.ms} ms`);
  } finally {
    await sleep(300);
    await extra.close();
  }
  const { servers: after } = await peer.ask({ op: "servers" });
  assert.deepEqual(after, servers.map(uidOf).sort());
});

test("a server that dies mid-request (no goodbye) is named as left once its heartbeats stop", async () => {
  const dying = startProgram(process.execPath, [new URL("./lib/server-process.mjs", import.meta.url).pathname, prefix]);
  const uid = await dying.waitFor(/^[0-9a-f]{16}$/);
  const deadline = Date.now() + 10000;
  while (!(await peer.ask({ op: "discover", wait: 100 })).servers.includes(uid)) {
    assert.ok(Date.now() < deadline, "the server process never answered INITIAL_HEARTBEAT");
  }
  const pending = peer.ask({ op: "serverSideEmitWithAck", event: "wait", args: [], timeout: 30000 });
  await sleep(300);
  await dying.kill("SIGKILL");
  const got = await pending;
  // Forgotten after the heartbeat timeout (10 s without a message), well
  // before the request's own 30 s.
  assert.deepEqual([got.left, got.missing], [[uid], []], JSON.stringify(got));
  assert.deepEqual(got.answers.map((a) => a.value).sort(), [0, 1, 2]);
  assert.ok(got.ms < 20000, `${got.ms} ms`);
  // The servers forget it too, by their own heartbeat timeout.
  while ((await serverCounts()).some((n) => n !== 3)) await sleep(200);
});

test("an announcing peer is counted and answers the servers' own requests; it says goodbye when closed", async () => {
  const member = await startPeer("announce");
  assert.match(member.uid, /^[0-9a-f]{16}$/);
  assert.deepEqual(await serverCounts(), [4, 4, 4]);
  // Node.js's fetchSockets waits for the member's (empty) answer, not for its timeout.
  let started = Date.now();
  const sockets = await servers[0].io.fetchSockets();
  assert.ok(Date.now() - started < 1000, `fetchSockets took ${Date.now() - started} ms`);
  assert.equal(sockets.length, clients.length);
  // serverSideEmit with ack: the member's handler answers.
  started = Date.now();
  const answers = await servers[1].io.serverSideEmitWithAck("ask", 5);
  assert.ok(Date.now() - started < 1000, `serverSideEmitWithAck took ${Date.now() - started} ms`);
  const who = (a) => `${a.peer ?? `server ${a.server}`}: ${JSON.stringify(a.args)}`;
  assert.deepEqual(answers.map(who).sort(), ["rust: [5]", "server 0: [5]", "server 2: [5]"]);
  // A broadcast with acks: the member reports no clients.
  started = Date.now();
  const acks = await servers[2].io.timeout(3000).emitWithAck("question", "all");
  assert.ok(Date.now() - started < 1000, `emitWithAck took ${Date.now() - started} ms`);
  assert.equal(acks.length, clients.length);
  // The other peer learns the member, and its answers count.
  await peer.ask({ op: "discover", wait: 300 });
  const seen = await peer.ask({ op: "fetchSockets" });
  assert.equal(seen.complete, true);
  assert.deepEqual(seen.answers.find((a) => a.server === member.uid).value, []);
  // Goodbye: servers stop counting it at once.
  assert.deepEqual(await member.ask({ op: "close" }), { closed: true });
  await settle(300);
  assert.deepEqual(await serverCounts(), [3, 3, 3]);
  started = Date.now();
  await servers[0].io.fetchSockets();
  assert.ok(Date.now() - started < 1000);
  await member.stop();
});

test("the servers' requests never wait for a peer that does not announce itself", async () => {
  const results = await Promise.all([
    peer.ask({ op: "fetchSockets", to: ["r2"] }),
    servers[0].io.fetchSockets().then((s) => s.length),
    servers[1].io.serverSideEmitWithAck("slow").catch((e) => e.message),
  ]);
  assert.equal(results[0].complete, true);
  assert.equal(results[1], clients.length);
  // Server 2 has no "slow" listener: Node.js's own timeout, naming one server, not two.
  assert.match(results[2], /missing 1 responses/);
  assert.deepEqual(await serverCounts(), [3, 3, 3]);
});
