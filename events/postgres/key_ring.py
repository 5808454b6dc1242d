"""What the event store needs of a key ring (:class:`Keys`), and the ring that
opens nothing (:class:`NoKeys`); the ring of per-client data keys is
:class:`events.postgres.keys.ClientKeys`."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol
from uuid import UUID

import msgspec

from events import sealing
from events.catalogue import AnyEvent
from events.envelope import NewEvent, RecordedEvent
from events.postgres.checkpoints import Connection
from events.store import Needed
from events.upcasting import decode_event

_encode = msgspec.json.Encoder().encode


class Keys(Protocol):
    """What the event store needs of a key ring."""

    async def stored(self, events: Sequence[NewEvent], versions: Sequence[int]) -> list[bytes]:
        """Each event's JSON as stored (sealed when it carries personal data)."""
        ...

    def decode(
        self,
        event_id: UUID,
        event_type: str,
        version: int,
        stored: bytes,
        sealed: sealing.Sealed | None,
        wrapped: bytes | None,
    ) -> AnyEvent:
        """A stored event (``sealed``: its sealed part) read with its key's row
        (``wrapped``: ``None`` when destroyed or unknown)."""
        ...

    def ciphers(self, rows: dict[UUID, bytes | None]) -> dict[UUID, sealing.Cipher]:
        """The live keys among these rows (as :meth:`key_rows` reads them), to
        open events read shut (:func:`events.sealing.open_sealed`)."""
        ...

    async def key_rows(
        self, conn: Connection, key_ids: Collection[UUID], timeout: float
    ) -> dict[UUID, bytes | None]:
        """The rows of these keys (wrapped; ``None`` when destroyed; absent when unknown)."""
        ...

    async def open(
        self, events: Sequence[RecordedEvent], needed: Needed | None = None
    ) -> list[RecordedEvent]:
        """Events in log order as JetStream has them (redacted, with their
        sealed copies), opened where their key is live: all of them, or only
        those ``needed`` names."""
        ...


class NoKeys:
    """Store events as they are; read sealed ones redacted."""

    async def stored(self, events: Sequence[NewEvent], versions: Sequence[int]) -> list[bytes]:
        return [_encode(e.data) for e in events]

    def decode(
        self,
        event_id: UUID,
        event_type: str,
        version: int,
        stored: bytes,
        sealed: sealing.Sealed | None,
        wrapped: bytes | None,
    ) -> AnyEvent:
        return decode_event(event_type, version, stored)

    def ciphers(self, rows: dict[UUID, bytes | None]) -> dict[UUID, sealing.Cipher]:
        return {}

    async def key_rows(
        self, conn: Connection, key_ids: Collection[UUID], timeout: float
    ) -> dict[UUID, bytes | None]:
        return {}  # nothing is opened: no key is needed

    async def open(
        self, events: Sequence[RecordedEvent], needed: Needed | None = None
    ) -> list[RecordedEvent]:
        return list(events)
