"""Reading the log's rows back as events (for :mod:`events.postgres.store`).

Each sealed event is read with its data key's row, so a destroyed key is seen
at once (the event reads redacted; see :mod:`events.postgres.keys`): a
conversation's events (one key) joined to it in the same round trip; a page
of the whole log, which spans many keys, with one query for the page's keys
(``Keys.key_rows``) instead of a join per row. The sealed part is found in
the stored bytes (:func:`events.sealing.sealed_part`), not extracted by
PostgreSQL: a third less to read for a sealed event. A reader that needs
only some events opened (a rebuild: its projection's ``reads_personal``)
reads the page shut and opens those alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from uuid import UUID

import asyncpg
import msgspec

from events.envelope import Metadata, RecordedEvent
from events.postgres.checkpoints import Connection
from events.postgres.key_ring import Keys, NoKeys
from events.sealing import Cipher, Sealed, open_sealed, sealed_part
from events.store import Needed

_decode_metadata = msgspec.json.Decoder(Metadata).decode

_COLUMNS = """
global_position, stream_id, stream_position, event_id, type, schema_version, data, metadata,
recorded_at"""
# A conversation's events each with its data key's row (a sealed event's; the
# key may be destroyed): one key, probed per row, in the same round trip.
_WITH_KEYS = f"""
SELECT {_COLUMNS}, k.wrapped
FROM events LEFT JOIN data_keys k ON k.key_id = (data #>> '{{sealed,key}}')::uuid
"""
STREAM = (
    _WITH_KEYS
    + """
WHERE stream_id = $1 AND stream_position > $2 ORDER BY stream_position LIMIT $3
"""
)
# A page of the whole log spans many keys: their rows are read once for the
# page (``Keys.key_rows``), not joined to each event.
LOG = f"""
SELECT {_COLUMNS} FROM events WHERE global_position > $1 ORDER BY global_position LIMIT $2
"""
BY_ID = _WITH_KEYS + "WHERE event_id = $1"

_SHUT: Final = NoKeys()
"""Reads events as stored: sealed parts left shut."""


def _to_recorded(
    row: asyncpg.Record, sealed: Sealed | None, wrapped: bytes | None, keys: Keys
) -> RecordedEvent:
    """A row as read (``sealed``: its sealed part; ``wrapped``: its key's row)."""
    data, event_id, event_type = row["data"], row["event_id"], row["type"]
    return RecordedEvent(
        global_position=row["global_position"],
        stream_id=row["stream_id"],
        stream_position=row["stream_position"],
        event_id=event_id,
        type=event_type,
        data=keys.decode(event_id, event_type, row["schema_version"], data, sealed, wrapped),
        metadata=_decode_metadata(row["metadata"]),
        recorded_at=row["recorded_at"],
        sealed=sealed,
    )


def joined(row: asyncpg.Record, keys: Keys) -> RecordedEvent:
    """A row read with its key's row joined."""
    return _to_recorded(row, sealed_part(row["data"]), row["wrapped"], keys)


async def opened_page(
    conn: Connection,
    rows: list[asyncpg.Record],
    keys: Keys,
    timeout: float,
    needed: Needed | None = None,
) -> list[RecordedEvent]:
    """A page of the log, its sealed events opened with their keys' rows
    (read in one query): all of them, or (``needed``) only those it names of
    the page read shut, the others left as read."""
    if needed is not None:
        return await _open_needed(conn, [as_stored(r) for r in rows], keys, timeout, needed)
    parts = [sealed_part(r["data"]) for r in rows]
    key_ids = {p.key for p in parts if p is not None}
    wrapped = await keys.key_rows(conn, key_ids, timeout) if key_ids else {}
    return [
        _to_recorded(r, p, None if p is None else wrapped.get(p.key), keys)
        for r, p in zip(rows, parts, strict=True)
    ]


async def _open_needed(
    conn: Connection, page: list[RecordedEvent], keys: Keys, timeout: float, needed: Needed
) -> list[RecordedEvent]:
    """Open the events of ``page`` (read shut) that ``needed`` names."""
    wanted = {e.global_position for e in needed(page) if e.sealed is not None}
    if not wanted:
        return page
    key_ids = {e.sealed.key for e in page if e.sealed and e.global_position in wanted}
    ciphers = keys.ciphers(await keys.key_rows(conn, key_ids, timeout))
    return [opened(e, ciphers) if e.global_position in wanted else e for e in page]


def opened(event: RecordedEvent, ciphers: Mapping[UUID, Cipher | None]) -> RecordedEvent:
    """``event``, read shut, opened if its key is among ``ciphers`` and live
    (``None``: destroyed). Store pages and JetStream batches alike."""
    sealed = event.sealed
    cipher = None if sealed is None else ciphers.get(sealed.key)
    if sealed is None or cipher is None:
        return event
    data = open_sealed(event.data, sealed, event_id=event.event_id, cipher=cipher)
    return msgspec.structs.replace(event, data=data)


def as_stored(row: asyncpg.Record) -> RecordedEvent:
    """A row with its sealed part left shut (personal fields redacted)."""
    return _to_recorded(row, sealed_part(row["data"]), None, _SHUT)
