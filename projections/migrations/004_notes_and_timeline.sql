-- Private notes (issue #17): the mentioned agents' notifications and the
-- staff timeline's entries (notes and system entries). Both projections are
-- new: they have no checkpoint yet, so their runners fill them from the
-- start of the log.

-- The notifications projection (projections/notifications.py): one row per
-- (mentioned agent, note); read_at NULL while unread.
CREATE TABLE notifications (
    agent_id        text        NOT NULL,
    note_id         uuid        NOT NULL,
    conversation_id uuid        NOT NULL,
    author_id       text        NOT NULL,
    excerpt         text        NOT NULL,
    created_at      timestamptz NOT NULL,
    position        bigint      NOT NULL,
    read_at         timestamptz,
    PRIMARY KEY (agent_id, note_id)
);
-- An agent's list, newest first (keyset by position), and their unread count.
CREATE INDEX notifications_by_agent ON notifications (agent_id, position DESC);
CREATE INDEX notifications_unread ON notifications (agent_id, position DESC)
    WHERE read_at IS NULL;

-- The timeline entries projection (projections/timeline_entries.py): one row
-- per note and per system entry (status, snooze, wake-up, assignment, merge,
-- label), each at its event's global position.
CREATE TABLE timeline_entries (
    position        bigint      PRIMARY KEY,
    conversation_id uuid        NOT NULL,
    kind            text        NOT NULL,  -- 'note' or 'system'
    event_type      text        NOT NULL,
    author_id       text,                  -- a note's author; who caused a system entry
    note_id         uuid,
    content         text,                  -- a note's text
    details         jsonb       NOT NULL,  -- a note's mentions; a system entry's fields
    created_at      timestamptz NOT NULL
);
CREATE INDEX timeline_entries_by_conversation ON timeline_entries (conversation_id, position);

-- The staff timeline merges messages with the entries by global position.
CREATE INDEX messages_by_position ON messages (conversation_id, position);
