"""The account-wide catalogues' command handler: load, fold, decide, append.

The label and canned-response streams are short and rarely written, so each
command reads its stream whole (no cache), folds it, decides, and appends
with the version it read as the expected one; a conflict with a concurrent
writer (another admin, another process) is retried from fresh, so two
labels of one name can never both be created.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID, uuid4

import msgspec

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
from commands.whole_stream import Written, decide_and_append
from events.catalogue import (
    AnyCatalogueEvent,
    CannedResponseCreated,
    LabelCreated,
)
from events.envelope import RecordedEvent
from events.store import EventStore


class CatalogueResult(Written, frozen=True, kw_only=True, omit_defaults=True):
    """What a catalogue command did (see :class:`commands.whole_stream.Written`);
    ``label_id`` / ``response_id`` name the entry (a created one's new id)."""

    label_id: str | None = None
    response_id: UUID | None = None


class CatalogueHandler:
    def __init__(
        self, store: EventStore, *, new_id: Callable[[], UUID] = uuid4, max_attempts: int = 10
    ) -> None:
        self._store = store
        self._new_id = new_id
        self._attempts = max_attempts

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
        new_id = self._new_id()  # a created response's id, the same on every attempt

        async def decide(page: list[RecordedEvent]) -> list[AnyCatalogueEvent]:
            if isinstance(command, LabelCommand):
                return decide_labels(fold_labels(e.data for e in page), command, actor)
            return decide_canned(fold_canned(e.data for e in page), command, actor, new_id)

        stream_id = LABELS_STREAM if isinstance(command, LabelCommand) else CANNED_STREAM
        written, decided = await decide_and_append(
            self._store,
            stream_id,
            decide,
            actor,
            new_id=self._new_id,
            max_attempts=self._attempts,
        )
        label_id, response_id = _named(command, decided)
        return CatalogueResult(
            **msgspec.structs.asdict(written), label_id=label_id, response_id=response_id
        )

    async def _read(self, stream_id: str) -> list[RecordedEvent]:
        return await self._store.read_stream(stream_id)


def _named(
    command: LabelCommand | CannedCommand, decided: Sequence[AnyCatalogueEvent]
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
