"""The account-wide catalogues' command handler: load, fold, decide, append.

The label and canned-response streams are short and rarely written, so each
command reads its stream whole (no cache), folds it, decides, and appends
with the version it read as the expected one; a conflict with a concurrent
writer (another admin, another process) is retried from fresh, so two
labels of one name can never both be created.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from uuid import UUID, uuid4

import msgspec

from commands import errors
from commands.canned import (
    CANNED_STREAM,
    CannedCommand,
    CannedState,
    CreateCannedResponse,
    decide_canned,
    fold_canned,
)
from commands.labels import (
    LABELS_STREAM,
    CreateLabel,
    LabelCommand,
    LabelsState,
    decide_labels,
    fold_labels,
)
from commands.model import Actor
from events.catalogue import (
    AnyCatalogueEvent,
    CannedResponseCreated,
    LabelCreated,
)
from events.envelope import Metadata, NewEvent, RecordedEvent
from events.store import ConcurrencyError, EventStore, StoreUnavailable


class CatalogueResult(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What a catalogue command did: ``position`` is the global position of
    its last event (or of the stream's last event when nothing changed);
    ``label_id`` / ``response_id`` name the entry (a created one's new id)."""

    stream_id: str
    position: int
    version: int
    events: list[str]
    label_id: str | None = None
    response_id: UUID | None = None


class CatalogueHandler:
    def __init__(
        self, store: EventStore, *, new_id: Callable[[], UUID] = uuid4, max_attempts: int = 10
    ) -> None:
        self._store = store
        self._new_id = new_id
        self._max_attempts = max_attempts

    async def labels(self) -> tuple[LabelsState, int, int]:
        """The label catalogue, its stream's version and its last event's position."""
        page = await self._read(LABELS_STREAM)
        return fold_labels(e.data for e in page), len(page), _last(page)

    async def canned(self) -> tuple[CannedState, int, int]:
        page = await self._read(CANNED_STREAM)
        return fold_canned(e.data for e in page), len(page), _last(page)

    async def label_exists(self, label_id: str) -> bool:
        return (await self.labels())[0].live(label_id)

    async def handle(self, command: LabelCommand | CannedCommand, actor: Actor) -> CatalogueResult:
        try:
            return await self._handle(command, actor)
        except StoreUnavailable as error:
            raise errors.Unavailable(
                "the event store is unavailable; retry", retry_after=int(error.retry_after) or 1
            ) from error

    async def _handle(self, command: LabelCommand | CannedCommand, actor: Actor) -> CatalogueResult:
        metadata = Metadata(actor_id=actor.id, actor_role=actor.role)
        new_id = self._new_id()  # a created response's id, the same on every attempt
        for attempt in range(self._max_attempts):
            decided: list[AnyCatalogueEvent]
            if isinstance(command, LabelCommand):
                stream_id = LABELS_STREAM
                labels, version, position = await self.labels()
                decided = decide_labels(labels, command, actor)
            else:
                stream_id = CANNED_STREAM
                canned, version, position = await self.canned()
                decided = decide_canned(canned, command, actor, new_id)
            label_id, response_id = _named(command, decided)
            if not decided:
                return CatalogueResult(
                    stream_id=stream_id,
                    position=position,
                    version=version,
                    events=[],
                    label_id=label_id,
                    response_id=response_id,
                )
            new = [NewEvent(event_id=self._new_id(), data=e, metadata=metadata) for e in decided]
            try:
                appended = await self._store.append(stream_id, new, version)
            except ConcurrencyError:
                await asyncio.sleep(random.uniform(0, min(0.05, 0.002 * 2**attempt)))
                continue
            return CatalogueResult(
                stream_id=stream_id,
                position=appended.last_global_position,
                version=appended.last_stream_position,
                events=[e.type for e in new],
                label_id=label_id,
                response_id=response_id,
            )
        raise errors.Unavailable("the catalogue is too busy right now; try again")

    async def _read(self, stream_id: str) -> list[RecordedEvent]:
        return await self._store.read_stream(stream_id)


def _named(
    command: LabelCommand | CannedCommand, decided: list[AnyCatalogueEvent]
) -> tuple[str | None, UUID | None]:
    """The entry a result names (label id, response id): a created one's new
    id, else the command's."""
    for event in decided:
        if isinstance(event, LabelCreated):
            return event.label_id, None
        if isinstance(event, CannedResponseCreated):
            return None, event.response_id
    if isinstance(command, CreateLabel | CreateCannedResponse):
        return None, None
    if isinstance(command, LabelCommand):
        return command.label_id, None
    return None, command.response_id


def _last(page: list[RecordedEvent]) -> int:
    return page[-1].global_position if page else 0
