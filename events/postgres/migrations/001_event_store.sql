-- The event log: one row per event, append-only.
--
-- global_position: place in the whole log. Assigned by the appender while it
--   holds the log's advisory lock, so positions are gapless and committed in
--   increasing order (see docs/ARCHITECTURE.md, "Ordering").
-- stream_position: place in its stream (one stream per conversation), 1..n.
CREATE TABLE events (
    global_position bigint      PRIMARY KEY CHECK (global_position > 0),
    stream_id       text        NOT NULL,
    stream_position integer     NOT NULL CHECK (stream_position > 0),
    event_id        uuid        NOT NULL UNIQUE,
    type            text        NOT NULL,
    schema_version  smallint    NOT NULL DEFAULT 1,
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}',
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (stream_id, stream_position)
);

-- Append-only, enforced by the database itself.
CREATE FUNCTION parley_events_are_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % on events is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION parley_events_are_append_only();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION parley_events_are_append_only();

-- Wake tailers: one NOTIFY per appending statement, carrying the highest new
-- position. PostgreSQL delivers it only when the transaction commits.
CREATE FUNCTION parley_events_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('parley_events', (SELECT max(global_position) FROM new_rows)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify
    AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION parley_events_notify();
