-- A group commit in one call: parley_append() appends a whole batch of appends
-- in one statement. Called outside an explicit transaction, the call *is* the
-- transaction, so a group commit costs one round trip, and the append lock is
-- held only while the server works, never across a round trip to the client.
-- (Before, events/postgres.py held it across three: read the state, COPY,
-- COMMIT.)
--
-- The batch comes as parallel arrays:
--   per append: stream_ids, expected_versions (NULL: any version),
--               event_counts;
--   per event:  event_ids, event_types, event_schema_versions, event_data,
--               event_metadata: the appends' events, concatenated in order.
-- The caller never puts one event id in two appends of one call.
--
-- One row comes back per append, in order:
--   'appended':  written; first_stream_position, first_global_position, and
--                recorded_at (one value for the whole batch)
--   'replayed':  every id is stored already, as this very append (same stream
--                and types, consecutive positions): a retry; nothing written,
--                the original first positions come back
--   'conflict':  the stream is at actual_version, not the expected version
--   'duplicate': ids are stored, but not as this append
-- Each append is decided against the log and the appends before it in the
-- batch, as events/postgres.py did before this migration.
--
-- Which ids are looked up: the first id of each append (that is how a retry is
-- recognised); every id of an append with a stale expected version (so an
-- overlap is a duplicate, not a conflict); and every id of every append when
-- check_every_id is set. An append let through whose *later* ids are stored
-- (a partial overlap) makes the INSERT fail on the event_id unique index:
-- the call fails as a whole and writes nothing, and the caller retries each
-- append alone with check_every_id, which reports that one as a duplicate.
-- That path is rare, so the common one probes the index once per append, not
-- once per event.
--
-- Ordering is as described in docs/ARCHITECTURE.md: the advisory lock first,
-- then every read of the log in a later statement, whose snapshot (READ
-- COMMITTED, a VOLATILE function) sees the previous holder's commit. Work
-- that does not read the log is done before the lock.
CREATE FUNCTION parley_append(
    stream_ids            text[],
    expected_versions     integer[],
    event_counts          integer[],
    event_ids             uuid[],
    event_types           text[],
    event_schema_versions smallint[],
    event_data            jsonb[],
    event_metadata        jsonb[],
    check_every_id        boolean
) RETURNS TABLE (
    outcome               text,
    first_stream_position integer,
    first_global_position bigint,
    actual_version        integer,
    recorded_at           timestamptz
)
LANGUAGE plpgsql
-- The planner's row estimates for the batch's arrays and the events table can
-- pass jit_above_cost, and JIT-compiling these statements on every call costs
-- more (milliseconds) than the whole group commit otherwise does.
SET jit = off
AS $$
DECLARE
    appends       integer := cardinality(stream_ids);
    starts        integer[];  -- per append: index of its first event
    event_appends integer[];  -- per event: the append it belongs to
    stream_slot   integer[];  -- per append: the first append to the same stream
    head          bigint;     -- the log's highest position, as the batch grows
    log_head      bigint;     -- ... and before it
    versions      integer[];  -- per stream (at its slot): version, as the batch grows
    known         integer[];  -- appends with an id found in the log
    given_global  bigint[];   -- per append: first global position given, 0 if none
    given_stream  integer[];  -- per append: first stream position given
    version       integer;
    stored_stream integer;
    stored_global bigint;
    matching      integer;
    recorded      timestamptz;  -- the batch's events' recorded_at
BEGIN
    IF cardinality(expected_versions) <> appends OR cardinality(event_counts) <> appends
       OR (SELECT sum(c) FROM unnest(event_counts) AS c) <> ALL (ARRAY[
              cardinality(event_ids), cardinality(event_types),
              cardinality(event_schema_versions), cardinality(event_data),
              cardinality(event_metadata)])
       OR 1 > ANY (event_counts)
    THEN
        RAISE EXCEPTION 'parley_append: the arrays of the batch do not match'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    starts := ARRAY(
        SELECT (sum(a.size) OVER (ORDER BY a.n) - a.size + 1)::integer
        FROM unnest(event_counts) WITH ORDINALITY AS a(size, n)
        ORDER BY a.n);
    event_appends := ARRAY(
        SELECT a.n
        FROM generate_subscripts(event_counts, 1) AS a(n), generate_series(1, event_counts[a.n])
        ORDER BY a.n);
    stream_slot := ARRAY(
        SELECT (min(a.n) OVER (PARTITION BY a.stream_id))::integer
        FROM unnest(stream_ids) WITH ORDINALITY AS a(stream_id, n)
        ORDER BY a.n);
    given_global := array_fill(0::bigint, ARRAY[appends]);
    given_stream := array_fill(0, ARRAY[appends]);

    -- events.postgres.APPEND_LOCK_KEY ("PARLLOG!"), the one lock every appender takes.
    PERFORM pg_advisory_xact_lock(5782993884171683617);

    SELECT coalesce(max(e.global_position), 0) INTO log_head FROM events AS e;
    head := log_head;
    -- One recorded_at for the whole batch (one transaction), taken under the
    -- lock, so it never decreases along the log; it is returned, so that the
    -- caller knows its events as stored without reading them back.
    recorded := clock_timestamp();
    versions := ARRAY(
        SELECT coalesce((SELECT e.stream_position FROM events AS e
                         WHERE e.stream_id = a.stream_id
                         ORDER BY e.stream_position DESC LIMIT 1), 0)
        FROM unnest(stream_ids) WITH ORDINALITY AS a(stream_id, n)
        ORDER BY a.n);
    known := ARRAY(
        SELECT DISTINCT x.append
        FROM unnest(event_appends, event_ids) WITH ORDINALITY AS x(append, id, n)
        JOIN events AS e ON e.event_id = x.id
        WHERE check_every_id OR x.n = starts[x.append]);

    FOR i IN 1 .. appends LOOP
        version := versions[stream_slot[i]];
        outcome := NULL;
        first_stream_position := NULL;
        first_global_position := NULL;
        actual_version := NULL;
        recorded_at := NULL;

        IF i = ANY (known) THEN
            -- A retry of this very append if every one of its events sits where
            -- the append put them: its stream, its types, consecutive positions.
            SELECT e.stream_position, e.global_position INTO stored_stream, stored_global
            FROM events AS e WHERE e.event_id = event_ids[starts[i]];
            SELECT count(*) INTO matching
            FROM unnest(event_ids[starts[i] : starts[i] + event_counts[i] - 1],
                        event_types[starts[i] : starts[i] + event_counts[i] - 1])
                 WITH ORDINALITY AS x(id, type, k)
            JOIN events AS e ON e.event_id = x.id
            WHERE e.stream_id = stream_ids[i] AND e.type = x.type
              AND e.stream_position = stored_stream + x.k - 1
              AND e.global_position = stored_global + x.k - 1;
            IF matching = event_counts[i] THEN
                outcome := 'replayed';
                first_stream_position := stored_stream;
                first_global_position := stored_global;
            ELSE
                outcome := 'duplicate';
            END IF;

        ELSIF expected_versions[i] IS NOT NULL AND expected_versions[i] <> version THEN
            IF EXISTS (
                SELECT FROM events AS e
                WHERE e.event_id = ANY (event_ids[starts[i] : starts[i] + event_counts[i] - 1]))
            THEN
                outcome := 'duplicate';
            ELSE
                outcome := 'conflict';
                actual_version := version;
            END IF;

        ELSE
            outcome := 'appended';
            first_stream_position := version + 1;
            first_global_position := head + 1;
            given_stream[i] := version + 1;
            given_global[i] := head + 1;
            head := head + event_counts[i];
            versions[stream_slot[i]] := version + event_counts[i];
            recorded_at := recorded;
        END IF;
        RETURN NEXT;
    END LOOP;

    -- One statement for the whole batch, so one NOTIFY (see 001_event_store.sql).
    IF head > log_head THEN
        INSERT INTO events (global_position, stream_id, stream_position, event_id, type,
                            schema_version, data, metadata, recorded_at)
        SELECT given_global[x.append] + (x.n - starts[x.append]),
               stream_ids[x.append],
               given_stream[x.append] + (x.n - starts[x.append])::integer,
               x.id, x.type, x.schema_version, x.data, x.metadata, recorded
        FROM unnest(event_appends, event_ids, event_types, event_schema_versions,
                    event_data, event_metadata)
             WITH ORDINALITY AS x(append, id, type, schema_version, data, metadata, n)
        WHERE given_global[x.append] > 0;
    END IF;
END
$$;
