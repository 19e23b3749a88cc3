// sio_trigger on a chat table, judged by a real Socket.IO server and clients:
// each change reaches exactly the conversation's room.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createAdapter } from "@socket.io/postgres-adapter";
import { startServer, startClient, sqlSession, waitUntilListening, settle } from "./lib/cluster.mjs";

const prefix = `interop_trigger_${process.pid}`;
let server, alice, bob, sql, schema;

before(async () => {
  server = await startServer({ createAdapter, channelPrefix: prefix });
  alice = await startClient(server, { rooms: ["conversation:1"] });
  bob = await startClient(server, { rooms: ["conversation:2"] });
  sql = await sqlSession(prefix);
  await sql.query(`
    CREATE TEMP TABLE messages (id int PRIMARY KEY, conversation_id int, body text);
    CREATE TRIGGER messages_emit AFTER INSERT OR UPDATE OR DELETE ON messages
      FOR EACH ROW EXECUTE FUNCTION sio_trigger('conversation:{conversation_id}', 'message')`);
  // A temp table lives in this session's pg_temp_N schema.
  schema = (await sql.query("SELECT nspname FROM pg_namespace WHERE oid = pg_my_temp_schema()")).rows[0].nspname;
  await waitUntilListening(sql, [alice, bob]);
});

after(async () => {
  alice?.socket.disconnect();
  bob?.socket.disconnect();
  await sql?.end();
  await server?.close();
});

test("insert, update across conversations, delete, NULL room", async () => {
  await sql.query(`INSERT INTO messages VALUES (1, 1, 'hi'), (2, NULL, 'nowhere')`);
  await sql.query(`UPDATE messages SET conversation_id = 2, body = 'moved' WHERE id = 1`);
  await sql.query(`DELETE FROM messages WHERE id = 1`);
  await settle(1000);
  const hi = { id: 1, conversation_id: 1, body: "hi" };
  const moved = { id: 1, conversation_id: 2, body: "moved" };
  const change = (op, n, o) => ["message", { op, schema, table: "messages", new: n, old: o }];
  assert.deepEqual(alice.received, [change("INSERT", hi, null), change("UPDATE", moved, hi)]);
  assert.deepEqual(bob.received, [change("UPDATE", moved, hi), change("DELETE", null, moved)]);
});
