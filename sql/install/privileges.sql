-- Who may do what. By default only the extension's owner (a superuser) may
-- emit or touch the attachment table; everyone else needs one of two roles,
-- created here if the cluster does not have them yet (roles belong to the
-- cluster: DROP EXTENSION leaves them, for the other databases that use them).
--
--   socketio_emitter  may call the emit functions (sio_emit, sio_emit_args,
--                     sio_sockets_join/leave, sio_disconnect_sockets,
--                     sio_server_side_emit), sio_room and sio_trigger. On the
--                     attachment table it may only add rows (their payload;
--                     created_at is the table's default) and see their ids:
--                     it cannot read, change, lock or delete any row.
--   socketio_server   what a Socket.IO server does to the attachment table
--                     (the Node.js adapter, the Rust listener and emitter):
--                     read, add and delete rows; sio_cleanup() and
--                     sio_stats() (which pg_monitor may read too).
--
-- No function is SECURITY DEFINER: an emit runs with the caller's rights, so
-- a role that writes to a table with an sio_trigger needs socketio_emitter.
-- The extension's own statements on the attachment table run as the table's
-- owner once the caller's right has been checked (pg_ext/src/as_owner.rs).
DO $$
BEGIN
    IF to_regrole('socketio_emitter') IS NULL THEN
        CREATE ROLE socketio_emitter NOLOGIN;
    END IF;
    IF to_regrole('socketio_server') IS NULL THEN
        CREATE ROLE socketio_server NOLOGIN;
    END IF;
END
$$;

-- Every function of the extension, with whatever arguments it has now or
-- later: EXECUTE is PUBLIC's by default in PostgreSQL, and is taken back.
DO $$
DECLARE
    f record;
BEGIN
    FOR f IN
        SELECT d.objid::regprocedure AS signature, p.proname
          FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
         WHERE d.classid = 'pg_proc'::regclass
           AND d.refclassid = 'pg_extension'::regclass
           AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_socketio')
           AND d.deptype = 'e'
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.signature);
        CASE f.proname
            WHEN 'sio_cleanup' THEN
                EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO socketio_server', f.signature);
            -- Operators: the servers' role and PostgreSQL's monitoring role.
            WHEN 'sio_stats' THEN
                EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO socketio_server, pg_monitor',
                               f.signature);
            -- The extension's owner (a superuser) only; sio_check_triggers
            -- is called by its event trigger, which needs no grant.
            WHEN 'sio_stats_reset', 'sio_check_triggers' THEN NULL;
            ELSE
                EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO socketio_emitter', f.signature);
        END CASE;
    END LOOP;
END
$$;

-- The attachment table, ours or one a Node.js deployment created before:
-- both roles get what they need on it. Column privileges keep an emitter
-- from reading payloads or choosing created_at (a row that never ages would
-- fill the disk): INSERT ... RETURNING id, as the Rust emitter and the
-- Node.js packages write it, needs SELECT on id only.
DO $$
DECLARE
    attachments regclass := to_regclass('@extschema@.socket_io_attachments');
    ids text := pg_get_serial_sequence(attachments::text, 'id');
BEGIN
    EXECUTE format('GRANT INSERT (payload), SELECT (id) ON %s TO socketio_emitter', attachments);
    EXECUTE format('GRANT SELECT, INSERT, DELETE ON %s TO socketio_server', attachments);
    IF ids IS NOT NULL THEN
        EXECUTE format('GRANT USAGE ON SEQUENCE %s TO socketio_emitter, socketio_server', ids);
    END IF;
END
$$;
