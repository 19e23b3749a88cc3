// sio_trigger on a chat table, judged by a real Socket.IO server and clients:
// each change reaches exactly the conversation's room.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createAdapter } from "@socket.io/postgres-adapter";
import { startServer, startClient, sqlSession, waitUntilListening, settle } from "./lib/cluster.mjs";

const prefix = `interop_trigger_${process.pid}`;
let server, alice, bob, u1, u2, both, sql, schema;

before(async () => {
  server = await startServer({ createAdapter, channelPrefix: prefix });
  alice = await startClient(server, { rooms: ["conversation:1"] });
  bob = await startClient(server, { rooms: ["conversation:2"] });
  u1 = await startClient(server, { rooms: ["user:1"] });
  u2 = await startClient(server, { rooms: ["user:2"] });
  both = await startClient(server, { rooms: ["user:1", "user:2"] });
  sql = await sqlSession(prefix);
  await sql.query(`
    CREATE TEMP TABLE messages (id int PRIMARY KEY, conversation_id int, body text);
    CREATE TRIGGER messages_emit AFTER INSERT OR UPDATE OR DELETE ON messages
      FOR EACH ROW EXECUTE FUNCTION sio_trigger('conversation:{conversation_id}', 'message')`);
  // A temp table lives in this session's pg_temp_N schema.
  schema = (await sql.query("SELECT nspname FROM pg_namespace WHERE oid = pg_my_temp_schema()")).rows[0].nspname;
  await waitUntilListening(sql, [alice, bob, u1, u2, both]);
});

after(async () => {
  for (const c of [alice, bob, u1, u2, both]) c?.socket.disconnect();
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

function clear() {
  for (const c of [alice, bob, u1, u2, both]) c.received.length = 0;
}

test("several rooms per row, each client once; a column filter keeps secrets out; a large row", async () => {
  clear();
  await sql.query(`
    CREATE TEMP TABLE dms (id int, sender int, recipient int, body text, secret text);
    CREATE TRIGGER dms_emit AFTER INSERT ON dms FOR EACH ROW
      EXECUTE FUNCTION sio_trigger('user:{sender}', 'dm', 'room=user:{recipient}', 'exclude=secret')`);
  await sql.query(`INSERT INTO dms VALUES (1, 1, 2, 'hello', 's3cret'), (2, 2, NULL, repeat('x', 9000), 's')`);
  await settle(1000);
  const first = ["dm", { op: "INSERT", schema, table: "dms", new: { id: 1, sender: 1, recipient: 2, body: "hello" }, old: null }];
  const big = ["dm", { op: "INSERT", schema, table: "dms", new: { id: 2, sender: 2, recipient: null, body: "x".repeat(9000) }, old: null }];
  assert.deepEqual(u1.received, [first]);
  assert.deepEqual(u2.received, [first, big]);
  assert.deepEqual(both.received, [first, big]);
  assert.deepEqual(alice.received, []);
});

test("statement mode: one message per room per statement, UPDATE pairs new and old rows", async () => {
  clear();
  await sql.query(`
    CREATE TEMP TABLE posts (id int, conversation_id int, body text);
    INSERT INTO posts VALUES (1, 1, 'a'), (2, 1, 'b'), (3, 2, 'c');
    CREATE TRIGGER posts_emit AFTER UPDATE ON posts
      REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
      FOR EACH STATEMENT EXECUTE FUNCTION sio_trigger('conversation:{conversation_id}', 'posts', 'columns=id,body')`);
  await sql.query(`UPDATE posts SET body = body || '!', conversation_id = 2 WHERE id IN (1, 3)`);
  await settle(1000);
  const change = (rows) => ["posts", { op: "UPDATE", schema, table: "posts", rows }];
  const one = { new: { id: 1, body: "a!" }, old: { id: 1, body: "a" } };
  const three = { new: { id: 3, body: "c!" }, old: { id: 3, body: "c" } };
  // Row 1 moved from conversation 1 to 2: both rooms get it, once.
  assert.deepEqual(alice.received, [change([one])]);
  assert.deepEqual(bob.received.length, 1);
  assert.deepEqual(bob.received[0][0], "posts");
  assert.deepEqual(
    bob.received[0][1].rows.sort((a, b) => a.new.id - b.new.id),
    [one, three],
  );
});

test("statement mode in parts: beyond pg_socketio.statement_memory, each room gets each of its rows once over several events", async () => {
  clear();
  await sql.query(`
    CREATE TEMP TABLE bulk (id int, conversation_id int, body text);
    INSERT INTO bulk SELECT i, 1 + i % 2, repeat('b', 50) || i FROM generate_series(1, 2000) i;
    CREATE TRIGGER bulk_emit AFTER UPDATE ON bulk
      REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
      FOR EACH STATEMENT EXECUTE FUNCTION sio_trigger('conversation:{conversation_id}', 'bulk')`);
  // About 400 kB of rows against a 64 kB limit.
  await sql.query(`SET pg_socketio.statement_memory = '64kB'`);
  await sql.query(`UPDATE bulk SET body = body || '!'`);
  await sql.query(`RESET pg_socketio.statement_memory`);
  await settle(2000);
  const rowsOf = (conversation) => {
    const rows = [];
    for (let id = 1; id <= 2000; id++) {
      if (1 + (id % 2) !== conversation) continue;
      const old = { id, conversation_id: conversation, body: "b".repeat(50) + id };
      rows.push({ new: { ...old, body: old.body + "!" }, old });
    }
    return rows;
  };
  const ids = (rows) => rows.map((row) => row.new.id);
  const ascending = (rows) => ids(rows).every((id, i, all) => i === 0 || all[i - 1] < id);
  for (const [client, conversation] of [[alice, 1], [bob, 2]]) {
    assert.ok(client.received.length >= 2, `${client.received.length} event(s)`);
    for (const [event, arg] of client.received) {
      assert.equal(event, "bulk");
      assert.equal(arg.op, "UPDATE");
      assert.ok(arg.rows.length > 0);
      assert.ok(ascending(arg.rows), "a part's rows in the statement's order");
    }
    // The adapter reads attachment rows concurrently, so the parts may
    // reach clients in any order; together they carry each row once.
    const all = client.received.flatMap(([, arg]) => arg.rows);
    assert.deepEqual(all.sort((a, b) => a.new.id - b.new.id), rowsOf(conversation));
  }
});

test("a row whose data looks like a binary placeholder is written, and clients get the object as it is", async () => {
  clear();
  await sql.query(`
    CREATE TEMP TABLE notes (id int, conversation_id int, doc jsonb, body text);
    CREATE TRIGGER notes_emit AFTER INSERT ON notes FOR EACH ROW
      EXECUTE FUNCTION sio_trigger('conversation:{conversation_id}', 'note');
    CREATE TRIGGER notes_batch AFTER INSERT ON notes REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION sio_trigger('conversation:{conversation_id}', 'notes')`);
  // Inline (small) and through the attachment table (large); "num" naming
  // no binary argument, and one that is no number at all.
  await sql.query(`INSERT INTO notes VALUES
    (1, 1, '{"_placeholder": true, "num": 0}', 'small'),
    (2, 1, '[{"_placeholder": true, "num": "x"}]', repeat('y', 9000))`);
  await settle(1000);
  const one = { id: 1, conversation_id: 1, doc: { _placeholder: true, num: 0 }, body: "small" };
  const two = { id: 2, conversation_id: 1, doc: [{ _placeholder: true, num: "x" }], body: "y".repeat(9000) };
  const note = (row) => ["note", { op: "INSERT", schema, table: "notes", new: row, old: null }];
  const notes = ["notes", { op: "INSERT", schema, table: "notes", rows: [{ new: one, old: null }, { new: two, old: null }] }];
  // Row 2's message and the statement's both go through the attachment
  // table, which the adapter reads concurrently: either may come first.
  assert.deepEqual(alice.received[0], note(one));
  const large = alice.received.slice(1).sort(([a], [b]) => a.localeCompare(b));
  assert.deepEqual(large, [note(two), notes]);
  assert.deepEqual(bob.received, []);
});

test("MERGE and INSERT ... ON CONFLICT: each action fires its triggers, in row and in statement mode", async () => {
  clear();
  await sql.query(`
    CREATE TEMP TABLE tasks (id int PRIMARY KEY, conversation_id int, body text);
    INSERT INTO tasks VALUES (1, 1, 'a'), (2, 1, 'b');
    CREATE TRIGGER tasks_row AFTER INSERT OR UPDATE OR DELETE ON tasks
      FOR EACH ROW EXECUTE FUNCTION sio_trigger('conversation:{conversation_id}', 'task');
    CREATE TRIGGER tasks_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION sio_trigger('conversation:{conversation_id}', 'tasks');
    CREATE TRIGGER tasks_update AFTER UPDATE ON tasks
      REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
      FOR EACH STATEMENT EXECUTE FUNCTION sio_trigger('conversation:{conversation_id}', 'tasks');
    CREATE TRIGGER tasks_delete AFTER DELETE ON tasks REFERENCING OLD TABLE AS old_rows
      FOR EACH STATEMENT EXECUTE FUNCTION sio_trigger('conversation:{conversation_id}', 'tasks')`);
  const row = (op, n, o) => ["task", { op, schema, table: "tasks", new: n, old: o }];
  const rows = (op, n, o) => ["tasks", { op, schema, table: "tasks", rows: [{ new: n, old: o }] }];
  // The order of a statement's actions is PostgreSQL's to choose: compared
  // as sets, each event exactly.
  const sorted = (events) => events.map((e) => JSON.stringify(e)).sort();
  const assertEvents = (client, expected) => assert.deepEqual(sorted(client.received), sorted(expected));

  // Row 1 updated, row 2 deleted, row 3 inserted, all in conversation 1.
  await sql.query(`
    MERGE INTO tasks t USING (VALUES (1, 'a!'), (2, NULL), (3, 'c')) s(id, body) ON t.id = s.id
      WHEN MATCHED AND s.body IS NULL THEN DELETE
      WHEN MATCHED THEN UPDATE SET body = s.body
      WHEN NOT MATCHED THEN INSERT VALUES (s.id, 1, s.body)`);
  await settle(1000);
  const a = { id: 1, conversation_id: 1, body: "a" };
  const aDone = { ...a, body: "a!" };
  const b = { id: 2, conversation_id: 1, body: "b" };
  const c = { id: 3, conversation_id: 1, body: "c" };
  assertEvents(alice, [
    row("UPDATE", aDone, a), row("DELETE", null, b), row("INSERT", c, null),
    rows("UPDATE", aDone, a), rows("DELETE", null, b), rows("INSERT", c, null),
  ]);
  assert.deepEqual(bob.received, []);

  // Row 3 conflicts and moves to conversation 2; row 4 is inserted there.
  clear();
  await sql.query(`
    INSERT INTO tasks VALUES (3, 2, 'c!'), (4, 2, 'd')
      ON CONFLICT (id) DO UPDATE SET conversation_id = excluded.conversation_id, body = excluded.body`);
  await settle(1000);
  const cMoved = { id: 3, conversation_id: 2, body: "c!" };
  const d = { id: 4, conversation_id: 2, body: "d" };
  assertEvents(alice, [row("UPDATE", cMoved, c), rows("UPDATE", cMoved, c)]);
  assertEvents(bob, [
    row("UPDATE", cMoved, c), row("INSERT", d, null),
    rows("UPDATE", cMoved, c), rows("INSERT", d, null),
  ]);
});
