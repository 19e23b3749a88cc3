// For tests/tests/durable.rs (a mixed cluster): a Node.js Socket.IO server
// with @socket.io/postgres-adapter 0.5.0 and a client in room "r", against
// DATABASE_URL. Prints "ready" once the client is reachable, then each event
// the client receives as a JSON line, and exits after as many events as its
// argument says (attachments are fetched asynchronously by the adapter, so
// they may arrive after a later small message).
import { createAdapter } from "@socket.io/postgres-adapter";
import { startServer, startClient, sqlSession, waitUntilListening } from "../lib/cluster.mjs";

const server = await startServer({ createAdapter, channelPrefix: "socket.io" });
const client = await startClient(server, { rooms: ["r"] });
const sql = await sqlSession("socket.io");
await waitUntilListening(sql, [client]);
await sql.end();
const expected = Number(process.argv[2]);
let received = 0;
client.socket.onAny(async (event, ...args) => {
  console.log(JSON.stringify([event, ...args]));
  if (++received === expected) {
    client.socket.disconnect();
    await server.close();
    process.exit(0);
  }
});
console.log("ready");
