-- Snapshots: a cache of folded stream states beside the log (events/snapshots.py).
--
-- One row per stream: its state folded up to stream position `version`
-- (global position `global_position`), encoded by the folder with
-- `schema_version` of its encoding. Rows are written off the request path and
-- only for a version the log holds (the write checks the event is there), so a
-- snapshot is never ahead of the log. Unlike `events`, this table is not
-- append-only: a newer snapshot replaces the older one, and any row (or all:
-- `DELETE FROM snapshots`) may be deleted at any time; readers then fold more
-- of the stream, with the same result.
CREATE TABLE snapshots (
    stream_id       text        PRIMARY KEY,
    version         integer     NOT NULL CHECK (version > 0),
    global_position bigint      NOT NULL CHECK (global_position > 0),
    schema_version  integer     NOT NULL,
    state           bytea       NOT NULL,
    taken_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
