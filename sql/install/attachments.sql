-- The attachment table of @socket.io/postgres-adapter: messages with binary
-- arguments or of 8000 bytes or more travel here, and the NOTIFY carries the
-- row id. A Node.js deployment may have created it already (in the schema the
-- extension goes to): then it is used as it is, and it is not a member of
-- this extension (DROP EXTENSION leaves it).
--
-- Created UNLOGGED: a row lives for seconds, NOTIFY itself does not survive a
-- crash, and WAL for every attachment made this path many times slower. After
-- a crash the table comes back empty, which loses nothing that NOTIFY kept.
-- The created_at index serves the cleanup's range delete. PostgreSQL does not
-- compress payloads itself (STORAGE EXTERNAL): pglz took an eighth of a 10 kB
-- emit's time, for a row read once and deleted within seconds. The extension
-- compresses them with lz4 where the server has it (pg_ext/src/compression.rs
-- says why there).
DO $$
BEGIN
    IF to_regclass('@extschema@.socket_io_attachments') IS NULL THEN
        CREATE UNLOGGED TABLE @extschema@.socket_io_attachments (
            id         bigserial UNIQUE,
            created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            payload    bytea
        );
        ALTER TABLE @extschema@.socket_io_attachments
            ALTER COLUMN payload SET STORAGE EXTERNAL;
        CREATE INDEX socket_io_attachments_created_at
            ON @extschema@.socket_io_attachments (created_at);
        REVOKE ALL ON @extschema@.socket_io_attachments FROM PUBLIC;
    END IF;
END
$$;
