-- The event log keeps each event's data and metadata as the JSON text its
-- appender wrote (json, not jsonb), and the chain digests that text.
--
-- Why: with jsonb, PostgreSQL parsed every appended document into its binary
-- form, then printed it back as text for the chain's content digest (jsonb's
-- canonical text, 006_hash_chain.sql): most of the digest's cost, itself
-- two thirds of the chain's. Every read printed it once more. A json column
-- stores the text as sent (checked to be JSON, not rebuilt), sends it back
-- as stored, and its data::text is those very bytes, so the digest costs a
-- sha256 and nothing else (docs/BENCHMARKS.md, "Verbatim JSON").
--
-- The chain's canonical bytes do not change: the content digest is still
-- over data::text and metadata::text, what any client reads for the columns
-- (now the appender's own text rather than jsonb's rendering of it). Rows
-- stored before this migration are converted here from jsonb to json, whose
-- text is jsonb's canonical text, the very bytes their hashes were made
-- over: every existing hash still verifies, with no back-fill and no
-- version mark (tests/integration/test_event_chain.py checks it).
--
-- The conversion rewrites the table under an ACCESS EXCLUSIVE lock (appends
-- wait; docs/OPERATIONS.md, "Deploying"). ALTER TABLE fires no row trigger,
-- so the append-only trigger stays enabled throughout, and the whole
-- migration is one transaction (events/postgres/migrate.py).
ALTER TABLE events
    ALTER COLUMN data TYPE json USING data::json,
    ALTER COLUMN metadata TYPE json USING metadata::json,
    ALTER COLUMN metadata SET DEFAULT '{}';

DROP FUNCTION parley_append(text[], integer[], integer[], uuid[], text[], smallint[],
                            jsonb[], jsonb[], boolean);
DROP FUNCTION parley_event_content(text, uuid, text, smallint, jsonb, jsonb);

-- As in 006_hash_chain.sql, over json: data::text is the stored text itself.
CREATE FUNCTION parley_event_content(
    stream_id      text,
    event_id       uuid,
    type           text,
    schema_version smallint,
    data           json,
    metadata       json
) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT sha256(
    convert_to(stream_id, 'UTF8') || decode('00', 'hex')
    || uuid_send(event_id)
    || convert_to(type, 'UTF8') || decode('00', 'hex')
    || int2send(schema_version)
    || convert_to(data::text, 'UTF8') || decode('00', 'hex')
    || convert_to(metadata::text, 'UTF8') || decode('00', 'hex'))
$$;

-- parley_append, as in 006_hash_chain.sql, taking the batch's documents as
-- json: each is checked to be JSON and stored as sent.
CREATE FUNCTION parley_append(
    stream_ids            text[],
    expected_versions     integer[],
    event_counts          integer[],
    event_ids             uuid[],
    event_types           text[],
    event_schema_versions smallint[],
    event_data            json[],
    event_metadata        json[],
    check_every_id        boolean
) RETURNS TABLE (
    outcome               text,
    first_stream_position integer,
    first_global_position bigint,
    actual_version        integer,
    recorded_at           timestamptz
)
LANGUAGE plpgsql
-- See 003_append_function.sql (jit) and 004_append_by_index.sql (re-applied below).
SET jit = off
AS $$
DECLARE
    appends       integer := cardinality(stream_ids);
    starts        integer[];  -- per append: index of its first event
    event_appends integer[];  -- per event: the append it belongs to
    stream_slot   integer[];  -- per append: the first append to the same stream
    head          bigint;     -- the log's highest position, as the batch grows
    log_head      bigint;     -- ... and before it
    chain         bytea;      -- the hash of the log's last event, as the batch grows
    contents      bytea[];    -- per event: parley_event_content(...)
    hashes        bytea[];    -- per event: its hash (NULL: not appended)
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
    -- Each event's content digest needs nothing from the log: done here,
    -- before the lock, for every event (the few that turn out to be retries
    -- or conflicts were digested for nothing).
    contents := ARRAY(
        SELECT parley_event_content(stream_ids[x.append], x.id, x.type, x.schema_version,
                                    x.data, x.metadata)
        FROM unnest(event_appends, event_ids, event_types, event_schema_versions,
                    event_data, event_metadata)
             WITH ORDINALITY AS x(append, id, type, schema_version, data, metadata, n)
        ORDER BY x.n);

    -- events.postgres.APPEND_LOCK_KEY ("PARLLOG!"), the one lock every appender takes.
    PERFORM pg_advisory_xact_lock(5782993884171683617);

    -- The head row: its position and hash (none yet: 0 and 32 zero bytes).
    SELECT e.global_position, e.hash INTO log_head, chain
    FROM events AS e ORDER BY e.global_position DESC LIMIT 1;
    log_head := coalesce(log_head, 0);
    chain := coalesce(chain, decode(repeat('00', 32), 'hex'));
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

    IF head > log_head THEN
        -- The chain, link by link: the events of appended appends, in the
        -- batch's order, which is the order of their global positions.
        hashes := array_fill(NULL::bytea, ARRAY[cardinality(event_ids)]);
        FOR i IN 1 .. appends LOOP
            CONTINUE WHEN given_global[i] = 0;
            FOR k IN 0 .. event_counts[i] - 1 LOOP
                chain := parley_event_hash(chain, given_global[i] + k, given_stream[i] + k,
                                           recorded, contents[starts[i] + k]);
                hashes[starts[i] + k] := chain;
            END LOOP;
        END LOOP;

        -- One statement for the whole batch, so one NOTIFY (see 001_event_store.sql).
        INSERT INTO events (global_position, stream_id, stream_position, event_id, type,
                            schema_version, data, metadata, recorded_at, hash)
        SELECT given_global[x.append] + (x.n - starts[x.append]),
               stream_ids[x.append],
               given_stream[x.append] + (x.n - starts[x.append])::integer,
               x.id, x.type, x.schema_version, x.data, x.metadata, recorded, hashes[x.n]
        FROM unnest(event_appends, event_ids, event_types, event_schema_versions,
                    event_data, event_metadata)
             WITH ORDINALITY AS x(append, id, type, schema_version, data, metadata, n)
        WHERE given_global[x.append] > 0;
    END IF;
END
$$;

-- 004_append_by_index.sql's settings, as 006 re-applied them (why: see 004).
ALTER FUNCTION parley_append(text[], integer[], integer[], uuid[], text[], smallint[],
                             json[], json[], boolean)
    SET enable_seqscan = off
    SET enable_hashjoin = off
    SET enable_mergejoin = off;
