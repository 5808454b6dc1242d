-- Per-client data keys: the personal fields of a client's events are sealed
-- (AES-256-GCM) with that client's data key (events/sealing.py); the key is
-- stored here wrapped (AES-256-GCM) with the master key, never in the clear.
--
-- Erasing a client destroys its key: `wrapped` set to NULL and `erased_at`
-- set (the row stays, so readers know the key existed and is gone, and tell
-- "erased" from "unknown key"). A client who comes back after an erasure gets
-- a new key: at most one live key per client.
--
-- Unlike `events`, this table is mutable (that is the point): it is not part of
-- the hash chain, which covers the sealed bytes only. See docs/PRIVACY.md.
CREATE TABLE data_keys (
    key_id     uuid        PRIMARY KEY,
    client_id  text        NOT NULL,
    wrapped    bytea,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    erased_at  timestamptz,
    CHECK ((wrapped IS NULL) = (erased_at IS NOT NULL))
);

CREATE UNIQUE INDEX data_keys_live_per_client ON data_keys (client_id)
    WHERE erased_at IS NULL;

-- The master key's fingerprint (HMAC-SHA-256 of a fixed label), kept so a
-- process started with another master key refuses to start instead of
-- failing to unwrap keys later.
CREATE TABLE master_key (
    one         boolean PRIMARY KEY DEFAULT true CHECK (one),
    fingerprint text    NOT NULL
);
