"""The envelope around a stored event: where it sits in the log and who caused it."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from events.catalogue import AnyEvent, event_type
from events.sealing import Sealed


class Metadata(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """Who caused an event and in answer to what.

    ``correlation_id`` ties together everything one user action caused;
    ``causation_id`` names the command (or event) that directly caused it;
    ``command_id`` is the client-supplied id that makes a command idempotent;
    ``command_digest`` a digest of that command's content, so a retry can be
    told from a different command that reuses the id.
    """

    actor_id: str | None = None
    actor_role: str | None = None
    correlation_id: UUID | None = None
    causation_id: UUID | None = None
    command_id: str | None = None
    command_digest: str | None = None


class NewEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An event about to be appended: its id is minted by the caller, so a retry
    with the same id is recognised and never stored twice."""

    event_id: UUID
    data: AnyEvent
    metadata: Metadata = Metadata()
    subject: str | None = None
    """The client whose personal data ``data`` carries (its key seals them:
    :mod:`events.sealing`); a conversation's start names its own."""

    @property
    def type(self) -> str:
        return event_type(self.data)


class RecordedEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An event as stored: the envelope plus its payload.

    ``global_position`` is its place in the whole log (1, 2, 3, … in commit
    order, no holes); ``stream_position`` its place in its own stream (1..n).
    """

    global_position: int
    stream_id: str
    stream_position: int
    event_id: UUID
    type: str
    data: AnyEvent
    metadata: Metadata
    recorded_at: datetime
    sealed: Sealed | None = None
    """The sealed part of an event with personal data. ``data`` is then the
    event opened (or redacted, when its key is gone or not at hand, as on
    the wire to JetStream: :func:`events.sealing.redact`)."""


class AppendResult(msgspec.Struct, frozen=True, kw_only=True):
    """Where an append landed. ``replayed`` is true when every event id was
    already stored (an idempotent retry) and nothing new was written."""

    stream_id: str
    first_stream_position: int
    last_stream_position: int
    first_global_position: int
    last_global_position: int
    replayed: bool = False
    recorded_at: datetime | None = None
    """When the appended events were recorded (a store may leave it unset;
    ``None`` for a replayed append)."""

    @property
    def global_positions(self) -> range:
        return range(self.first_global_position, self.last_global_position + 1)
