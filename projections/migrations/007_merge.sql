-- Merge (issue #17): a merged source points at its target; a merged-in copy
-- at the message it copies; and the merges projection (projections/merges.py)
-- lists every merge and whether its second step (the copies) has landed.
-- Merges are new: nothing projected before this migration needs filling in.

-- The inbox: the conversation a merged source went to (closed for good).
ALTER TABLE conversations ADD COLUMN merged_into uuid;

-- The timeline: where a merged-in copy came from.
ALTER TABLE messages
    ADD COLUMN merged_from_conversation_id uuid,
    ADD COLUMN merged_from_seq             integer,
    ADD COLUMN merged_from_message_id      uuid,
    ADD COLUMN merged_from_sent_at         timestamptz;

-- One row per merge (set by ConversationMerged); ``imported`` once its
-- ConversationMergedIn landed (``imported_into``: the target, or the
-- conversation the target was merged on to). The merge completer
-- (commands/merge_completer.py) finishes the rows still not imported.
CREATE TABLE merges (
    source_id     uuid        PRIMARY KEY,
    target_id     uuid        NOT NULL,
    merged_by     text        NOT NULL,
    merged_at     timestamptz NOT NULL,
    position      bigint      NOT NULL,
    imported      boolean     NOT NULL DEFAULT false,
    imported_into uuid,
    imported_at   timestamptz
);
CREATE INDEX merges_pending ON merges (merged_at) WHERE NOT imported;
