-- Support workflow (issue #16): the staff directory, assignment and per-staff
-- read state in the inbox, and the inbox's sort keys.

-- The staff projection (projections/staff.py).
CREATE TABLE agents (
    agent_id           text        PRIMARY KEY,
    display_name       text        NOT NULL,
    capacity           integer     NOT NULL,
    availability       text        NOT NULL DEFAULT 'offline',
    availability_since timestamptz NOT NULL,
    position           bigint      NOT NULL
);
CREATE TABLE teams (
    team_id  text    PRIMARY KEY,
    name     text    NOT NULL,
    routing  boolean NOT NULL,
    position bigint  NOT NULL
);
CREATE TABLE team_members (
    team_id  text NOT NULL,
    agent_id text NOT NULL,
    PRIMARY KEY (team_id, agent_id)
);
CREATE INDEX team_members_by_agent ON team_members (agent_id);

-- The inbox: who handles a conversation, since when it waits for an agent
-- (open and without one), and who sent its last message.
ALTER TABLE conversations
    ADD COLUMN assignee_id            text,
    ADD COLUMN team_id                text,
    ADD COLUMN waiting_since          timestamptz,
    ADD COLUMN last_message_sender    text,
    ADD COLUMN last_message_sender_id text,
    -- Sort keys (read_api/inbox_queries.py): generated, so the projection
    -- never has to keep them in step.
    ADD COLUMN activity_at   timestamptz GENERATED ALWAYS AS (coalesce(last_message_at, created_at)) STORED,
    ADD COLUMN priority_rank smallint GENERATED ALWAYS AS (
        CASE priority WHEN 'High' THEN 2 WHEN 'Medium' THEN 1 ELSE 0 END) STORED,
    ADD COLUMN not_waiting   boolean GENERATED ALWAYS AS (waiting_since IS NULL) STORED,
    ADD COLUMN queue_at      timestamptz GENERATED ALWAYS AS (coalesce(waiting_since, created_at)) STORED;

-- Per-staff read state: the seq of every client message (never deleted) and
-- each staff member's cursor; an unread count is one index range scan.
CREATE TABLE inbox_client_messages (
    conversation_id uuid    NOT NULL,
    seq             integer NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
CREATE TABLE inbox_staff_cursors (
    conversation_id uuid    NOT NULL,
    reader_id       text    NOT NULL,
    up_to_seq       integer NOT NULL,
    PRIMARY KEY (conversation_id, reader_id)
);

-- One index per sort (keyset pages walk them), and the assignee/team filters
-- as equality prefixes or partial indexes of the default sort.
DROP INDEX IF EXISTS conversations_by_last_update;
CREATE INDEX conversations_by_activity ON conversations (activity_at DESC, conversation_id DESC);
CREATE INDEX conversations_by_created ON conversations (created_at DESC, conversation_id DESC);
CREATE INDEX conversations_by_priority
    ON conversations (priority_rank DESC, activity_at DESC, conversation_id DESC);
CREATE INDEX conversations_by_waiting ON conversations (not_waiting, queue_at, conversation_id);
CREATE INDEX conversations_by_assignee
    ON conversations (assignee_id, activity_at DESC, conversation_id DESC)
    WHERE assignee_id IS NOT NULL;
CREATE INDEX conversations_unassigned
    ON conversations (activity_at DESC, conversation_id DESC) WHERE assignee_id IS NULL;
CREATE INDEX conversations_by_team
    ON conversations (team_id, activity_at DESC, conversation_id DESC) WHERE team_id IS NOT NULL;

-- Rows projected before this migration: fill the new state in from the part
-- of the log the inbox has read (events after its checkpoint are projected
-- by the runner as usual). No conversation was assigned before this release.
-- Staff messages' unread rows stay (the client's unread); the staff side's
-- move to the two tables above.
DELETE FROM inbox_unread WHERE reader = 'admin';
WITH done AS (SELECT coalesce(max(position), 0) AS position FROM checkpoints WHERE name = 'inbox')
INSERT INTO inbox_client_messages (conversation_id, seq)
SELECT (e.data ->> 'conversation_id')::uuid, (e.data ->> 'seq')::integer
FROM events e, done
WHERE e.type = 'MessageSent' AND e.data ->> 'sender' = 'client' AND e.global_position <= done.position
ON CONFLICT DO NOTHING;
WITH done AS (SELECT coalesce(max(position), 0) AS position FROM checkpoints WHERE name = 'inbox')
INSERT INTO inbox_staff_cursors (conversation_id, reader_id, up_to_seq)
SELECT (e.data ->> 'conversation_id')::uuid, e.data ->> 'reader_id', max((e.data ->> 'up_to_seq')::integer)
FROM events e, done
WHERE e.type = 'MessagesRead' AND e.data ->> 'reader' = 'admin' AND e.global_position <= done.position
GROUP BY 1, 2;
WITH done AS (SELECT coalesce(max(position), 0) AS position FROM checkpoints WHERE name = 'inbox'),
last AS (
    SELECT DISTINCT ON (e.data ->> 'conversation_id')
           (e.data ->> 'conversation_id')::uuid AS conversation_id,
           e.data ->> 'sender' AS sender, e.data ->> 'sender_id' AS sender_id
    FROM events e, done
    WHERE e.type = 'MessageSent' AND e.global_position <= done.position
    ORDER BY e.data ->> 'conversation_id', e.global_position DESC
)
UPDATE conversations c
SET last_message_sender = last.sender, last_message_sender_id = last.sender_id
FROM last WHERE last.conversation_id = c.conversation_id;
-- Open conversations wait since they started or were last reopened.
WITH done AS (SELECT coalesce(max(position), 0) AS position FROM checkpoints WHERE name = 'inbox'),
opened AS (
    SELECT (e.data ->> 'conversation_id')::uuid AS conversation_id, max(e.recorded_at) AS at
    FROM events e, done
    WHERE e.global_position <= done.position
      AND (e.type = 'ConversationStarted'
           OR (e.type = 'ConversationStatusChanged' AND e.data ->> 'from' = 'closed'))
    GROUP BY 1
)
UPDATE conversations c SET waiting_since = opened.at
FROM opened
WHERE opened.conversation_id = c.conversation_id AND c.status <> 'closed' AND NOT c.deleted;
