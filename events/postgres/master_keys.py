"""The master key, which wraps every client's data key (table ``data_keys``),
and its rotation: every live data key re-wrapped with a new master key and
the recorded fingerprint replaced, in one transaction (docs/PRIVACY.md,
"Master key"). Data keys themselves never change, so nothing sealed is
rewritten and the hash chain is untouched.

A process still running with the old master key after a rotation can open
and seal with the data keys it has cached, but cannot make a new one: key
creation (:mod:`events.postgres.keys`) holds a share lock on the recorded
fingerprint's row and inserts only while it is that process's own, so it
fails loudly (:class:`MasterKeyChanged`) instead of storing a key no
restarted process could unwrap.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from events.postgres.checkpoints import Connection
from events.randomness import RandomBytes
from events.sealing import NONCE_SIZE
from events.store import StoreUnavailable

KEY_SIZE: Final = 32


class MasterKey:
    """Wraps and unwraps data keys (AES-256-GCM; the key id is the associated data)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_SIZE:
            raise ValueError(f"the master key must be {KEY_SIZE} bytes")
        self._aead = AESGCM(key)
        self.fingerprint = hmac.new(key, b"parley master key", hashlib.sha256).hexdigest()[:32]
        """Names the key without revealing it (kept in table ``master_key``)."""

    def wrap(self, key_id: UUID, key: bytes, nonce: bytes) -> bytes:
        return nonce + self._aead.encrypt(nonce, key, key_id.bytes)

    def unwrap(self, key_id: UUID, wrapped: bytes) -> bytes:
        nonce, body = wrapped[:NONCE_SIZE], wrapped[NONCE_SIZE:]
        return self._aead.decrypt(nonce, body, key_id.bytes)


class MasterKeyChanged(StoreUnavailable):
    """The database's master key is no longer this process's (it was rotated):
    no data key can be made until the process restarts with the new one."""

    def __init__(self) -> None:
        super().__init__(
            "the master key was rotated: restart this process with the new PARLEY_MASTER_KEY"
        )


class RotationRefused(Exception):
    """The rotation cannot start; nothing was changed."""


_RECORD_FIRST = "INSERT INTO master_key (fingerprint) VALUES ($1) ON CONFLICT DO NOTHING"
_RECORDED = "SELECT fingerprint FROM master_key FOR UPDATE"
_LIVE = "SELECT key_id, wrapped FROM data_keys WHERE wrapped IS NOT NULL ORDER BY key_id"
_REWRAP = """
UPDATE data_keys AS k SET wrapped = w.wrapped
FROM unnest($1::uuid[], $2::bytea[]) AS w (key_id, wrapped)
WHERE k.key_id = w.key_id AND k.wrapped IS NOT NULL
"""
_RECORD = "UPDATE master_key SET fingerprint = $1"


async def rotate_master_key(
    conn: Connection, old: MasterKey, new: MasterKey, random: RandomBytes
) -> int:
    """Re-wrap every live data key from ``old`` to ``new`` and record ``new``'s
    fingerprint, in one transaction (the caller's connection, outside one);
    returns how many keys were re-wrapped. Refused (:class:`RotationRefused`)
    when the database's keys are not wrapped with ``old``, or ``new`` is it."""
    if new.fingerprint == old.fingerprint:
        raise RotationRefused("the new master key is the current one")
    async with conn.transaction():
        await conn.execute(_RECORD_FIRST, old.fingerprint)
        # Locked until commit: key creation waits here, then sees the new key.
        recorded = await conn.fetchval(_RECORDED)
        if recorded != old.fingerprint:
            raise RotationRefused(
                "PARLEY_MASTER_KEY is not the master key this database's data keys are "
                "wrapped with: nothing was rotated"
            )
        rows = await conn.fetch(_LIVE)
        ids = [row["key_id"] for row in rows]
        rewrapped = [
            new.wrap(
                row["key_id"], old.unwrap(row["key_id"], row["wrapped"]), random.take(NONCE_SIZE)
            )
            for row in rows
        ]
        await conn.execute(_REWRAP, ids, rewrapped)
        await conn.execute(_RECORD, new.fingerprint)
    return len(rows)
