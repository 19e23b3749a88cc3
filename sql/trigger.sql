-- sio_trigger(room_template [, event [, namespace]]): an AFTER ... FOR EACH ROW
-- trigger that emits each INSERT, UPDATE and DELETE to the room named by the
-- row. The event's one argument:
--   {"op": "INSERT"|"UPDATE"|"DELETE", "schema": .., "table": .., "new": row|null, "old": row|null}
-- An UPDATE that moves a row to another room reaches both rooms once. A row
-- whose template column is NULL has no room and emits nothing.
CREATE FUNCTION @extschema@.sio_trigger() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_row jsonb;
    old_row jsonb;
    rooms text[];
BEGIN
    IF TG_WHEN <> 'AFTER' OR TG_LEVEL <> 'ROW' THEN
        RAISE EXCEPTION 'sio_trigger must be an AFTER ... FOR EACH ROW trigger (trigger "%" on %)',
            TG_NAME, TG_TABLE_NAME USING ERRCODE = '22023';
    END IF;
    IF TG_NARGS NOT BETWEEN 1 AND 3 THEN
        RAISE EXCEPTION 'sio_trigger takes a room template, then optionally an event and a namespace (trigger "%" on %)',
            TG_NAME, TG_TABLE_NAME
            USING ERRCODE = '22023',
                  HINT = 'EXECUTE FUNCTION sio_trigger(''conversation:{conversation_id}'', ''message'', ''/'')';
    END IF;
    IF TG_OP <> 'DELETE' THEN new_row := to_jsonb(NEW); END IF;
    IF TG_OP <> 'INSERT' THEN old_row := to_jsonb(OLD); END IF;
    SELECT array_agg(DISTINCT room) INTO rooms
      FROM unnest(ARRAY[@extschema@.sio_room(TG_ARGV[0], new_row),
                        @extschema@.sio_room(TG_ARGV[0], old_row)]) AS room
     WHERE room IS NOT NULL;
    IF rooms IS NOT NULL THEN
        PERFORM @extschema@.sio_emit(
            rooms,
            coalesce(TG_ARGV[1], TG_TABLE_NAME),
            jsonb_build_object('op', TG_OP, 'schema', TG_TABLE_SCHEMA, 'table', TG_TABLE_NAME,
                               'new', new_row, 'old', old_row),
            nsp => coalesce(TG_ARGV[2], '/'));
    END IF;
    RETURN NULL;
END
$$;
