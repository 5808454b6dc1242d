"""Client data keys on PostgreSQL (table ``data_keys``, migration 007): made
on a client's first personal event, wrapped with the master key, destroyed
when the client is erased. See :mod:`events.sealing` and docs/PRIVACY.md.

Two kinds of key ring serve the event store:

- :class:`ClientKeys` seals personal events with their client's key and opens
  them again, caching unwrapped keys. Store reads bring each row's key row
  along, so a destroyed key is seen at once; a process that opens events
  from JetStream learns it from the ``ClientErased`` event, which comes after
  the client's events in the log (:meth:`ClientKeys.forget`).
- :class:`~events.postgres.key_ring.NoKeys` stores events as they are and
  opens nothing (tools and engine tests that have no master key).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Final
from uuid import UUID, uuid4

import asyncpg
import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from events import sealing
from events.catalogue import AnyEvent, ClientErased
from events.envelope import NewEvent, RecordedEvent
from events.postgres import reads
from events.postgres.checkpoints import Connection
from events.postgres.master_keys import KEY_SIZE, MasterKey, MasterKeyChanged
from events.postgres.pool import bounded_connection
from events.randomness import RandomBytes
from events.store import Needed
from events.upcasting import decode_event

CACHE_SIZE: Final = 100_000
"""Unwrapped keys a process keeps (then it starts over: a key is re-read when
next needed, so forgetting one is always safe)."""
SEALING_KEY_TTL: Final = 10.0
"""Seconds an appender reuses a client's key before checking it is still live
(so a client erased elsewhere gets a fresh key for what it writes next)."""

_encode = msgspec.json.Encoder().encode

# A new key's commit need not wait for its WAL flush (synchronous_commit off,
# for this statement's transaction only): an event sealed with it is appended
# after it, and that append's commit flushes the WAL up to itself, the key's
# commit record included. A key lost in a crash before that sealed nothing.
# And a key is made only while the recorded master key is this process's
# (or none is recorded yet): the share lock on its row waits for a rotation
# to commit, then finds the row changed (events/postgres/master_keys.py).
_GET_OR_MAKE = """
WITH relaxed AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true)),
ours AS MATERIALIZED (SELECT FROM master_key WHERE fingerprint = $4 FOR SHARE),
made AS (
    INSERT INTO data_keys (key_id, client_id, wrapped) SELECT $1, $2, $3 FROM relaxed
    WHERE EXISTS (SELECT FROM ours) OR NOT EXISTS (SELECT FROM master_key)
    ON CONFLICT (client_id) WHERE erased_at IS NULL DO NOTHING
    RETURNING key_id, wrapped
)
SELECT key_id, wrapped FROM made
UNION ALL
SELECT key_id, wrapped FROM data_keys WHERE client_id = $2 AND erased_at IS NULL
LIMIT 1
"""
_BY_ID = "SELECT key_id, wrapped FROM data_keys WHERE key_id = ANY($1::uuid[])"
_ERASE = """
UPDATE data_keys SET wrapped = NULL, erased_at = clock_timestamp()
WHERE client_id = $1 AND erased_at IS NULL
RETURNING key_id
"""


class ClientKeys:
    """Per-client data keys: seals on append, opens on read (see module doc)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        master: MasterKey,
        *,
        timeout: float = 5.0,
        new_id: Callable[[], UUID] = uuid4,
        random_bytes: Callable[[int], bytes] = os.urandom,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._master = master
        self._timeout = timeout
        self._new_id = new_id
        self._random = RandomBytes(random_bytes)
        self._clock = clock
        self._ciphers: dict[UUID, AESGCM | None] = {}
        """Unwrapped keys by id; ``None``: destroyed (for good)."""
        self._sealing: dict[str, tuple[UUID, AESGCM, float]] = {}
        """Each client's live key (id, cipher) and when it was last checked."""

    # -- sealing ---------------------------------------------------------------

    async def stored(self, events: Sequence[NewEvent], versions: Sequence[int]) -> list[bytes]:
        out: list[bytes] = []
        for new, version in zip(events, versions, strict=True):
            if not sealing.personal(new.data):
                out.append(_encode(new.data))
                continue
            subject = new.subject or sealing.subject_in(new.data)
            if subject is None:
                raise ValueError(f"{new.type} carries personal data but names no client")
            key_id, cipher = self._cached_sealing_key(subject) or await self._sealing_key(subject)
            out.append(
                sealing.seal(
                    new.data,
                    event_id=new.event_id,
                    version=version,
                    key_id=key_id,
                    cipher=cipher,
                    nonce=self._random.take(sealing.NONCE_SIZE),
                )
            )
        return out

    def _cached_sealing_key(self, client_id: str) -> tuple[UUID, AESGCM] | None:
        """The client's key, if checked live within the last ``SEALING_KEY_TTL``
        (no await: most appends find it here)."""
        cached = self._sealing.get(client_id)
        if cached is None or self._clock() - cached[2] >= SEALING_KEY_TTL:
            return None
        return cached[0], cached[1]

    async def _sealing_key(self, client_id: str) -> tuple[UUID, AESGCM]:
        """The client's live key, made if it has none."""
        key_id = self._new_id()
        wrapped = self._master.wrap(
            key_id, self._random.take(KEY_SIZE), self._random.take(sealing.NONCE_SIZE)
        )
        async with bounded_connection(self._pool, self._timeout) as (conn, left):
            row = await conn.fetchrow(
                _GET_OR_MAKE, key_id, client_id, wrapped, self._master.fingerprint, timeout=left()
            )
        if row is None:  # neither made nor found: the master key is no longer ours
            raise MasterKeyChanged()
        cipher = self._cipher(row["key_id"], row["wrapped"])
        assert cipher is not None
        self._sealing[client_id] = (row["key_id"], cipher, self._clock())
        return row["key_id"], cipher

    # -- opening ---------------------------------------------------------------

    def decode(
        self,
        event_id: UUID,
        event_type: str,
        version: int,
        stored: bytes,
        sealed: sealing.Sealed | None,
        wrapped: bytes | None,
    ) -> AnyEvent:
        cipher = None if sealed is None else self._cipher(sealed.key, wrapped)
        if sealed is None or cipher is None:
            return decode_event(event_type, version, stored)
        return sealing.open_stored(
            event_type, version, stored, sealed, event_id=event_id, cipher=cipher
        )

    def ciphers(self, rows: dict[UUID, bytes | None]) -> dict[UUID, sealing.Cipher]:
        live = {key_id: self._cipher(key_id, wrapped) for key_id, wrapped in rows.items()}
        return {key_id: cipher for key_id, cipher in live.items() if cipher is not None}

    async def key_rows(
        self, conn: Connection, key_ids: Collection[UUID], timeout: float
    ) -> dict[UUID, bytes | None]:
        rows = await conn.fetch(_BY_ID, list(key_ids), timeout=timeout)
        return {row["key_id"]: row["wrapped"] for row in rows}

    async def open(
        self, events: Sequence[RecordedEvent], needed: Needed | None = None
    ) -> list[RecordedEvent]:
        wanted = None if needed is None else {e.global_position for e in needed(events)}
        to_open = [e for e in events if wanted is None or e.global_position in wanted]
        missing = {e.sealed.key for e in to_open if e.sealed and e.sealed.key not in self._ciphers}
        if missing:
            async with bounded_connection(self._pool, self._timeout) as (conn, left):
                rows = await conn.fetch(_BY_ID, list(missing), timeout=left())
            for row in rows:
                self._cipher(row["key_id"], row["wrapped"])
        opened: list[RecordedEvent] = []
        for event in events:
            if isinstance(event.data, ClientErased):  # in log order: later ones stay shut
                self.forget(event.data.key_ids)
            shut = wanted is not None and event.global_position not in wanted
            opened.append(event if shut else reads.opened(event, self._ciphers))
        return opened

    def forget(self, key_ids: Iterable[UUID]) -> None:
        """These keys are destroyed: never open anything with them again."""
        for key_id in key_ids:
            self._ciphers[key_id] = None
        self._sealing = {c: k for c, k in self._sealing.items() if self._ciphers.get(k[0])}

    def _cipher(self, key_id: UUID, wrapped: bytes | None) -> AESGCM | None:
        if wrapped is None:
            self._ciphers[key_id] = None
            return None
        cipher = self._ciphers.get(key_id)
        if cipher is None and key_id not in self._ciphers:
            if len(self._ciphers) >= CACHE_SIZE:
                self._ciphers.clear()
            try:
                cipher = AESGCM(self._master.unwrap(key_id, wrapped))
            except InvalidTag:  # wrapped with another master key: it was rotated
                raise MasterKeyChanged() from None
            self._ciphers[key_id] = cipher
        return cipher

    # -- erasing ---------------------------------------------------------------

    async def erase(self, conn: Connection, client_id: str) -> list[UUID]:
        """Destroy the client's live key (in the caller's transaction); the
        ids of the keys destroyed (none: it had none)."""
        rows = await conn.fetch(_ERASE, client_id)
        key_ids = [row["key_id"] for row in rows]
        self.forget(key_ids)
        return key_ids
