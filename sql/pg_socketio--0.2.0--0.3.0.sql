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
