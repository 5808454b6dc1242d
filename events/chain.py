"""The event log's hash chain, in Python: what ``parley events verify`` recomputes.

Each stored event carries ``hash = sha256(previous hash || canonical bytes)``,
the first event's previous hash being :data:`GENESIS` (32 zero bytes). The
database computes it when it appends (``parley_event_content`` and
``parley_event_hash`` in ``events/postgres/migrations/006_hash_chain.sql``);
this module computes the same from the columns as a client reads them, and a
test checks that both agree on stored rows.

Canonical bytes, version 1: where and when the log put the event, then a
digest of what its appender wrote (the database digests that part before it
takes the append lock)::

    int8 global_position | int4 stream_position |
    int8 recorded_at (microseconds since 2000-01-01 00:00:00 UTC) |
    content: sha256(stream_id, 0 | 16 bytes event_id | type, 0 |
                    int2 schema_version | data, 0 | metadata, 0)

Integers are big-endian; a text is its UTF-8 bytes then a zero byte (no
PostgreSQL text contains one), so no field runs into the next. recorded_at
is counted from PostgreSQL's epoch, as it stores and sends a timestamptz. ``data`` and
``metadata`` are the columns' stored JSON text, exactly as PostgreSQL sends
them: what the appender wrote (json columns, migration 008), or for rows
stored before that migration, jsonb's canonical text (keys sorted, fixed spacing).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import re
import struct
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple
from uuid import UUID

HASH_SIZE: Final = 32
GENESIS: Final = bytes(HASH_SIZE)
"""The previous hash of the log's first event (and the head of an empty log)."""

_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)  # PostgreSQL's
_MICROSECOND: Final = timedelta(microseconds=1)
_LINK: Final = struct.Struct(">qiq")  # global_position, stream_position, recorded_at
_SCHEMA_VERSION: Final = struct.Struct(">h")
_ZERO: Final = b"\0"  # ends each text
_HEAD_FORMAT: Final = re.compile(r"(\d+):([0-9a-fA-F]{64})")


def timestamptz_micros(moment: datetime) -> int:
    """``moment`` (timezone-aware, as asyncpg reads a timestamptz) in whole
    microseconds since 2000-01-01 00:00:00 UTC: the integer PostgreSQL
    stores for a timestamptz and sends in binary (``timestamptz_send``)."""
    if moment.tzinfo is None:
        raise ValueError("recorded_at must be timezone-aware")
    return (moment - _EPOCH) // _MICROSECOND


def content_digest(
    *,
    stream_id: str,
    event_id: UUID,
    type: str,
    schema_version: int,
    data: str | bytes,
    metadata: str | bytes,
) -> bytes:
    """The digest of what the appender wrote (``parley_event_content``)."""
    stream, kind = stream_id.encode(), type.encode()
    data_ = data.encode() if isinstance(data, str) else data
    metadata_ = metadata.encode() if isinstance(metadata, str) else metadata
    if b"\0" in b"".join((stream, kind, data_, metadata_)):  # the four texts, in one scan
        raise ValueError("a PostgreSQL text never holds a zero byte")
    return hashlib.sha256(
        b"".join(
            (
                stream,
                _ZERO,
                event_id.bytes,
                kind,
                _ZERO,
                _SCHEMA_VERSION.pack(schema_version),
                data_,
                _ZERO,
                metadata_,
                _ZERO,
            )
        )
    ).digest()


def event_hash(
    previous: bytes,
    *,
    global_position: int,
    stream_position: int,
    recorded_at: datetime,
    content: bytes,
) -> bytes:
    """The chain's next link (``parley_event_hash``): sha256 of the previous
    hash, the event's place and time in the log, and its content digest."""
    link = _LINK.pack(global_position, stream_position, timestamptz_micros(recorded_at))
    return hashlib.sha256(previous + link + content).digest()


def row_hash(previous: bytes, row: Any) -> bytes:
    """The hash of an ``events`` row (its columns by name, as a client
    reads them: an asyncpg record, a dict) whose previous hash is ``previous``."""
    content = content_digest(
        stream_id=row["stream_id"],
        event_id=row["event_id"],
        type=row["type"],
        schema_version=row["schema_version"],
        data=row["data"],
        metadata=row["metadata"],
    )
    return event_hash(
        previous,
        global_position=row["global_position"],
        stream_position=row["stream_position"],
        recorded_at=row["recorded_at"],
        content=content,
    )


class Head(NamedTuple):
    """A position in the log and the hash of the event there, as an operator
    keeps it: ``POS:HEX`` (``str(head)``, :func:`parse_head`). Position 0 is
    the empty log, with hash :data:`GENESIS`."""

    position: int
    hash: bytes

    def __str__(self) -> str:
        return f"{self.position}:{self.hash.hex()}"


def parse_head(text: str) -> Head:
    """``POS:HEX`` (a position and the 64 hex digits of a sha256) as a
    :class:`Head`; a ``ValueError`` saying what is wrong otherwise."""
    match = _HEAD_FORMAT.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"{text!r} is not POS:HASH (a position, a colon and the 64 hex digits of a "
            "sha256, as `parley events head` prints them)"
        )
    return Head(int(match[1]), bytes.fromhex(match[2]))
