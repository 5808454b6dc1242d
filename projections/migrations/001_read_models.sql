-- Read models, owned by the projections (projections/*.py). Each is derived
-- from the event log and can be rebuilt from it at any time.

-- The inbox projection: one row per conversation.
CREATE TABLE conversations (
    conversation_id     uuid        PRIMARY KEY,
    client_id           text        NOT NULL,
    client_name         text        NOT NULL,
    channel             text        NOT NULL,
    priority            text        NOT NULL,
    status              text        NOT NULL,
    summary             text,
    created_at          timestamptz NOT NULL,
    last_update         timestamptz NOT NULL,
    last_message_preview text,
    last_message_at     timestamptz,
    message_count       integer     NOT NULL DEFAULT 0,
    unread_for_staff    integer     NOT NULL DEFAULT 0,
    unread_for_client   integer     NOT NULL DEFAULT 0,
    deleted             boolean     NOT NULL DEFAULT false,
    position            bigint      NOT NULL
);
-- Keyset pagination by (last_update desc, conversation_id desc).
CREATE INDEX conversations_by_last_update ON conversations (last_update DESC, conversation_id DESC);
CREATE INDEX conversations_by_client ON conversations (client_id);

-- The inbox's own unread bookkeeping: the other side's messages each side
-- has not read yet (rows leave when read), so counts never drift.
CREATE TABLE inbox_unread (
    conversation_id uuid    NOT NULL,
    reader          text    NOT NULL,  -- 'admin' (staff) or 'client'
    seq             integer NOT NULL,
    PRIMARY KEY (conversation_id, reader, seq)
);

-- The timeline projection: every message, with its read state.
CREATE TABLE messages (
    conversation_id   uuid        NOT NULL,
    seq               integer     NOT NULL,
    message_id        uuid        NOT NULL UNIQUE,
    sender            text        NOT NULL,
    sender_id         text        NOT NULL,
    message_type      text        NOT NULL,
    content           text        NOT NULL,
    attachment        jsonb,
    client_message_id text,
    created_at        timestamptz NOT NULL,
    read_by_staff_at  timestamptz,
    read_by_client_at timestamptz,
    position          bigint      NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

-- How far each side has read each conversation.
CREATE TABLE read_cursors (
    conversation_id uuid        NOT NULL,
    reader          text        NOT NULL,
    reader_id       text        NOT NULL,
    up_to_seq       integer     NOT NULL,
    read_at         timestamptz NOT NULL,
    PRIMARY KEY (conversation_id, reader)
);
