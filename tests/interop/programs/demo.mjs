// Shows an emit from SQL reaching a Socket.IO client: starts a Socket.IO
// server with @socket.io/postgres-adapter, connects a client in room "room1",
// runs the SQL given on the command line, and prints what the client receives.
import { createAdapter } from "@socket.io/postgres-adapter";
import { startServer, startClient, sqlSession, waitUntilListening, settle, DATABASE_URL } from "../lib/cluster.mjs";

const statement = process.argv[2] ?? `SELECT sio_emit('room1', 'ping', '{"n":1}')`;
const channelPrefix = "socket.io";

const server = await startServer({ createAdapter, channelPrefix });
const client = await startClient(server, { rooms: ["room1"] });
const sql = await sqlSession(channelPrefix);
await waitUntilListening(sql, [client]);
console.log(`Socket.IO server on port ${server.port}, client ${client.socket.id} in room "room1"`);
console.log(`${DATABASE_URL}=# ${statement}`);
await sql.query(statement);
await settle(1000);
for (const [event, ...args] of client.received) {
  console.log(`client received: ${event} ${args.map((a) => JSON.stringify(a)).join(" ")}`);
}
client.socket.disconnect();
await sql.end();
await server.close();
process.exit(client.received.length > 0 ? 0 : 1);
