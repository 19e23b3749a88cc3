// Real Socket.IO servers with @socket.io/postgres-adapter, real socket.io-client
// clients, and a SQL session that emits: the parts every interop test needs.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { io as connectClient } from "socket.io-client";
import pg from "pg";

export const DATABASE_URL =
  process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A pg pool that fails fast, with a clear message, when no server answers. */
export function pool() {
  const p = new pg.Pool({ connectionString: DATABASE_URL, connectionTimeoutMillis: 10000 });
  p.on("error", () => {}); // idle clients terminated by tests
  return p;
}

/**
 * Starts one Socket.IO server on an ephemeral port, with the given adapter
 * factory, serving `namespaces`. A client joins the rooms it names in its
 * handshake `auth.rooms`.
 */
export async function startServer({ createAdapter, channelPrefix, namespaces = ["/"], serverSideEvents = [] }) {
  const db = pool();
  const http = createServer();
  const io = new Server(http);
  io.adapter(createAdapter(db, { channelPrefix }));
  // What reaches the servers' own io.on(event) listeners (serverSideEmit).
  const serverSide = [];
  for (const name of namespaces) {
    const nsp = io.of(name);
    nsp.on("connection", (socket) => socket.join(socket.handshake.auth.rooms ?? []));
    for (const event of serverSideEvents) nsp.on(event, (...args) => serverSide.push([name, event, ...args]));
  }
  await new Promise((r) => http.listen(0, "127.0.0.1", r));
  return {
    io,
    port: http.address().port,
    serverSide,
    async close() {
      io.close();
      await new Promise((r) => http.close(r));
      await db.end();
    },
  };
}

/** Rooms of the server-side socket of `client`. */
export function roomsOf(server, client) {
  const socket = server.io.of(client.nsp).sockets.get(client.socket.id);
  return socket ? [...socket.rooms].filter((r) => r !== socket.id).sort() : null;
}

/** A socket.io-client that records every event it receives, in order. */
export async function startClient(server, { nsp = "/", rooms = [] } = {}) {
  const socket = connectClient(`http://127.0.0.1:${server.port}${nsp}`, {
    auth: { rooms },
    transports: ["websocket"],
    reconnection: false,
    forceNew: true, // one connection per client: close => true closes a whole connection
  });
  const received = [];
  socket.onAny((event, ...args) => received.push([event, ...args]));
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  return { socket, received, nsp };
}

/** A SQL session that emits with `channelPrefix`. */
export async function sqlSession(channelPrefix) {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 10000 });
  await client.connect();
  await client.query("CREATE EXTENSION IF NOT EXISTS pg_socketio");
  await client.query(`SET pg_socketio.channel_prefix = '${channelPrefix}'`);
  client.listen = (channel) => listen(channel);
  return client;
}

/**
 * Waits until every client can be reached through the adapters (their LISTEN
 * is in place), by emitting a probe to each namespace until each client has
 * seen it; then forgets the probes.
 */
export async function waitUntilListening(sql, clients, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  const nsps = [...new Set(clients.map((c) => c.nsp))];
  while (clients.some((c) => !c.received.some(([e]) => e === "__probe"))) {
    if (Date.now() > deadline) throw new Error("adapters did not start listening");
    for (const nsp of nsps) await sql.query("SELECT sio_emit(ARRAY[]::text[], '__probe', nsp => $1)", [nsp]);
    await sleep(100);
  }
  await sleep(300); // late probes
  for (const c of clients) c.received.length = 0;
}

/** Lets in-flight notifications arrive. */
export const settle = (ms = 500) => sleep(ms);

/** A separate connection that LISTENs on `channel`; next() gives each payload. */
export async function listen(channel) {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  const queue = [];
  const waiters = [];
  client.on("notification", (n) => {
    const message = { raw: n.payload, ...JSON.parse(n.payload) };
    const waiter = waiters.shift();
    waiter ? waiter(message) : queue.push(message);
  });
  await client.query(`LISTEN "${channel.replaceAll('"', '""')}"`);
  return {
    next: (ms = 5000) =>
      queue.length
        ? Promise.resolve(queue.shift())
        : new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no notification on ${channel}`)), ms);
            waiters.push((m) => (clearTimeout(timer), resolve(m)));
          }),
    close: () => client.end(),
  };
}
