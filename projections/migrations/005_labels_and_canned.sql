-- Labels and canned responses (issue #17): the catalogues projection's
-- tables (projections/catalogues.py) and the inbox's labels per conversation.

-- The live labels; a deleted one's row is deleted (ids are never reused).
CREATE TABLE labels (
    label_id   text        PRIMARY KEY,
    name       text        NOT NULL,
    colour     text        NOT NULL,
    created_at timestamptz NOT NULL,
    position   bigint      NOT NULL
);

-- The live canned responses; owner_id NULL: shared.
CREATE TABLE canned_responses (
    response_id uuid        PRIMARY KEY,
    code        text        NOT NULL,
    content     text        NOT NULL,
    owner_id    text,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    position    bigint      NOT NULL
);
-- The composer's lookup: a viewer's (shared and own) codes by prefix, in order.
CREATE INDEX canned_responses_by_code
    ON canned_responses ((lower(code) COLLATE "C"), response_id);

-- The labels on each conversation, in the order they were put on (the ids
-- as the conversation's stream has them; the read API shows those still in
-- the catalogue). The GIN index serves the inbox filter `labels @> $1`.
ALTER TABLE conversations ADD COLUMN labels text[] NOT NULL DEFAULT '{}';
CREATE INDEX conversations_by_labels ON conversations USING gin (labels);

-- Rows projected before this migration: their labels from the part of the
-- log the inbox has read (each label's last Labelled/Unlabelled decides).
WITH done AS (SELECT coalesce(max(position), 0) AS position FROM checkpoints WHERE name = 'inbox'),
last AS (
    SELECT DISTINCT ON (e.data ->> 'conversation_id', e.data ->> 'label_id')
           (e.data ->> 'conversation_id')::uuid AS conversation_id, e.data ->> 'label_id' AS label_id,
           e.type, e.global_position
    FROM events e, done
    WHERE e.type IN ('ConversationLabelled', 'ConversationUnlabelled')
      AND e.global_position <= done.position
    ORDER BY e.data ->> 'conversation_id', e.data ->> 'label_id', e.global_position DESC
),
labelled AS (
    SELECT conversation_id, array_agg(label_id ORDER BY global_position) AS labels
    FROM last WHERE type = 'ConversationLabelled'
    GROUP BY conversation_id
)
UPDATE conversations c SET labels = labelled.labels
FROM labelled WHERE labelled.conversation_id = c.conversation_id;
