-- pg_socketio 0.2.0 → 0.3.0: emitters may only add messages to the attachment
-- table. 0.2.0 let them choose created_at and update it on every row (so a
-- row could be kept forever, or made to look old and deleted unread); the
-- extension now refreshes created_at itself, as the table's owner.
DO $$
DECLARE
    attachments regclass := to_regclass('@extschema@.socket_io_attachments');
BEGIN
    IF attachments IS NOT NULL THEN
        EXECUTE format('REVOKE INSERT (created_at), UPDATE (created_at) ON %s FROM socketio_emitter',
                       attachments);
    END IF;
END
$$;

-- sio_trigger is a C function now (it was PL/pgSQL): same signature, so
-- triggers created under 0.2.0 keep it, and fire the new code.
CREATE OR REPLACE FUNCTION @extschema@.sio_trigger() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'sio_trigger_wrapper';
ALTER FUNCTION @extschema@.sio_trigger() RESET ALL;

-- sio_stats() and sio_stats_reset(), new in 0.3.0, as CREATE EXTENSION
-- makes them, with the grants of sql/install/privileges.sql.
CREATE FUNCTION @extschema@.sio_stats() RETURNS TABLE (
    scope text,
    emits_inline bigint,
    emits_attachment bigint,
    bytes_sent bigint,
    attachments_stored bigint,
    attachments_cleaned bigint,
    refused bigint,
    sio_emit bigint,
    sio_emit_args bigint,
    sio_sockets_join bigint,
    sio_sockets_leave bigint,
    sio_disconnect_sockets bigint,
    sio_server_side_emit bigint,
    sio_trigger bigint,
    cleanup_last_run timestamp with time zone,
    cleanup_last_deleted bigint,
    notify_queue_usage double precision,
    stats_reset timestamp with time zone
)
STRICT VOLATILE LANGUAGE c AS 'MODULE_PATHNAME', 'sio_stats_wrapper';
CREATE FUNCTION @extschema@.sio_stats_reset() RETURNS void
STRICT VOLATILE LANGUAGE c AS 'MODULE_PATHNAME', 'sio_stats_reset_wrapper';
REVOKE ALL ON FUNCTION @extschema@.sio_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.sio_stats() TO socketio_server, pg_monitor;
REVOKE ALL ON FUNCTION @extschema@.sio_stats_reset() FROM PUBLIC;

-- CREATE TRIGGER ... sio_trigger(...) is checked when it runs (an event
-- trigger), as CREATE EXTENSION sets it up.
CREATE FUNCTION @extschema@.sio_check_triggers() RETURNS event_trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'sio_check_triggers';
REVOKE ALL ON FUNCTION @extschema@.sio_check_triggers() FROM PUBLIC;
CREATE EVENT TRIGGER pg_socketio_check_triggers ON ddl_command_end
    WHEN TAG IN ('CREATE TRIGGER')
    EXECUTE FUNCTION @extschema@.sio_check_triggers();
