-- The inbox row says how far its conversation's stream has got: ``version`` is
-- the stream_position of the last event folded into the row. A client opens
-- the conversation socket with after=version and is sent only what is newer.
ALTER TABLE conversations ADD COLUMN version integer NOT NULL DEFAULT 0;

-- Rows projected before this migration: ``position`` is the global position
-- of the last event folded into the row, so that event's stream_position is
-- the row's version (exact, whatever part of the log the inbox has reached).
UPDATE conversations c
SET version = e.stream_position
FROM events e
WHERE e.global_position = c.position;
