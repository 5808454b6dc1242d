-- The hash chain: each event row carries
--
--     hash = sha256(previous event's hash || canonical bytes of this event)
--
-- (the first event's previous hash is 32 zero bytes), so rewriting, removing
-- or reordering any stored event breaks the chain from there on, which
-- `parley events verify` finds (docs/AUDIT.md: what it proves, what it does not).
--
-- Canonical bytes (version 1), defined here once and once in Python
-- (events/chain.py; a test checks both agree on stored rows), in two parts:
-- where and when the log put the event, then a digest of what its appender
-- wrote (its content), so that the content, most of the work, is digested
-- before the append lock is taken, and only the link is made under it:
--
--     int8 global_position | int4 stream_position |
--     int8 recorded_at, in microseconds since 2000-01-01 00:00:00 UTC |
--     content: sha256(stream_id, 0 | 16 bytes event_id | type, 0 |
--                     int2 schema_version | data::text, 0 | metadata::text, 0)
--
-- Integers are big-endian, of their column's width; a text is its UTF-8
-- bytes then a zero byte, which no PostgreSQL text can contain, so no field
-- can run into the next. data::text and metadata::text are jsonb's own
-- canonical text (keys sorted, duplicates dropped, fixed spacing): what any
-- client reads for the column, so a verifier hashes what it reads.
-- recorded_at is an integer, never a time-zone-dependent text: the one
-- PostgreSQL itself stores and sends for a timestamptz (timestamptz_send),
-- counted from its epoch, 2000-01-01 UTC. (Counting from 1970 would take
-- numeric arithmetic, extract(epoch ...): measured, that was half the cost
-- of a link, under the append lock.)
--
-- Each function is one plain SELECT using each argument once (and no more
-- volatile than what it calls: convert_to is STABLE), so PostgreSQL inlines
-- it into the caller's statement: no function call per event.
CREATE FUNCTION parley_event_content(
    stream_id      text,
    event_id       uuid,
    type           text,
    schema_version smallint,
    data           jsonb,
    metadata       jsonb
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

CREATE FUNCTION parley_event_hash(
    prev            bytea,
    global_position bigint,
    stream_position integer,
    recorded_at     timestamptz,
    content         bytea  -- parley_event_content(...)
) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT sha256(
    prev
    || int8send(global_position)
    || int4send(stream_position)
    || timestamptz_send(recorded_at)
    || content)
$$;

ALTER TABLE events ADD COLUMN hash bytea;

-- Back-fill: the rows written before this migration are chained here, once,
-- in global_position order, in one statement (a recursive CTE stepping from
-- each row to the next by the primary key, so even a hole does not stop it).
-- The chain then vouches for those rows as they were at migration time, not
-- before: the column's comment records which positions were back-filled and
-- when (`\d+ events`; docs/AUDIT.md).
--
-- The append-only trigger refuses this UPDATE, so it is disabled around it.
-- The whole migration is one transaction (events/postgres/migrate.py) and
-- ALTER TABLE holds an ACCESS EXCLUSIVE lock on events until it commits: no
-- other session ever sees the trigger disabled, or can write meanwhile, and
-- a failure rolls the trigger's state back with everything else. Appends
-- wait for the lock meanwhile: about 70 s per million rows, measured
-- (docs/BENCHMARKS.md, "Hash chain"; docs/OPERATIONS.md, "Deploying").
ALTER TABLE events DISABLE TRIGGER events_append_only;

WITH RECURSIVE chain (global_position, hash) AS (
    SELECT 0::bigint, decode(repeat('00', 32), 'hex')
    UNION ALL
    SELECT e.global_position,
           parley_event_hash(c.hash, e.global_position, e.stream_position, e.recorded_at,
                             parley_event_content(e.stream_id, e.event_id, e.type,
                                                  e.schema_version, e.data, e.metadata))
    FROM chain AS c
    CROSS JOIN LATERAL (
        SELECT * FROM events AS e
        WHERE e.global_position > c.global_position
        ORDER BY e.global_position
        LIMIT 1
    ) AS e
)
UPDATE events AS e SET hash = c.hash
FROM chain AS c
WHERE e.global_position = c.global_position;

ALTER TABLE events ENABLE TRIGGER events_append_only;

ALTER TABLE events
    ALTER COLUMN hash SET NOT NULL,
    ADD CONSTRAINT events_hash_is_sha256 CHECK (octet_length(hash) = 32);

DO $$
DECLARE
    filled bigint := (SELECT coalesce(max(global_position), 0) FROM events);
BEGIN
    EXECUTE format(
        'COMMENT ON COLUMN events.hash IS %L',
        'sha256(previous hash || canonical bytes), see migration events/006_hash_chain. '
        || CASE WHEN filled = 0 THEN 'No row was back-filled: every hash was computed on append.'
           ELSE format('Positions 1..%s were back-filled by the migration at %s; '
                       'every later hash was computed on append.',
                       filled, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
           END);
END
$$;

-- parley_append, as in 003_append_function.sql (same arguments and results),
-- now chaining what it inserts. Before the lock it digests each event's
-- content; under the lock it reads the head row by primary key (its position
-- and hash, in the one probe that found the head before), links the batch's
-- new events one after another in the order of their positions, and inserts
-- each row with its hash: still one call and one INSERT per group commit, no
-- extra round trip.
CREATE OR REPLACE FUNCTION parley_append(
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
    -- Each event's content digest, the costly part of its hash (jsonb to
    -- text, the bytes digested), needs nothing from the log: done here, before
    -- the lock, for every event (the few that turn out to be retries or
    -- conflicts were digested for nothing).
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

-- CREATE OR REPLACE replaced the function's settings with its own SET clause:
-- 004_append_by_index.sql's, re-applied (why: see there).
ALTER FUNCTION parley_append(text[], integer[], integer[], uuid[], text[], smallint[],
                             jsonb[], jsonb[], boolean)
    SET enable_seqscan = off
    SET enable_hashjoin = off
    SET enable_mergejoin = off;
