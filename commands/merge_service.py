"""The merge service: a merge's two steps (the design: :mod:`commands.merge`),
each run through the :class:`~commands.handler.CommandHandler`.

1. **On the source.** The target's state is read (the handler's cached
   state, caught up with its stream) and ``MergeConversation`` is decided on
   the source and appended at the source's version: a send to the source
   racing the merge either lands first (and is copied) or is refused
   ``conversation_merged`` naming the target. First steps take turns across
   every process (a PostgreSQL advisory lock), so two merges can never close
   a ring of conversations into one another (A into B while B into A).
2. **On the target.** The source's stream up to its ``ConversationMerged``
   gives the messages (with when each was recorded) and the read cursors as
   they were; ``ImportMerged`` appends their copies on the target. Its
   command id is derived from the source (``merge-into:<source>``) and it
   runs as whoever merged, so every run of it — the request, a retry of
   the request, the merge completer after a crash between the steps — is
   the same command; and the decider makes a second one a no-op anyway.
   A target merged on meanwhile refuses: the copies follow it to where it
   went.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from commands import access, errors
from commands.evolve import fold
from commands.handler import CommandHandler
from commands.merge import copies
from commands.model import (
    INITIAL_STATE,
    Actor,
    ConversationState,
    ImportMerged,
    MergeConversation,
    MergeTarget,
    Role,
    stream_id_for,
)
from commands.result import CommandResult
from events.catalogue import ConversationMerged, MessageSent
from events.envelope import RecordedEvent
from events.postgres.pool import bounded_connection
from events.store import EventStore, StoreUnavailable

__all__ = ["MERGE_LOCK_KEY", "ImportResult", "MergeResult", "MergeService", "import_command_id"]

MERGE_LOCK_KEY = 0x5041524C_4D524745  # "PARLMRGE"
MAX_HOPS = 16
"""How far the copies follow a target merged on meanwhile."""
_PAGE = 5000


class ImportResult(msgspec.Struct, frozen=True, kw_only=True):
    """Step 2's answer: where the source's messages went (the target, or the
    conversation it was merged on to), the global and stream position of the
    last copy, and how many were copied."""

    conversation_id: UUID
    position: int
    version: int
    message_count: int
    replayed: bool = False
    """Step 2 had been done already (by an earlier request or the completer)."""


class MergeResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a merge did: ``source`` is step 1's result on the source (no
    events when it was merged already), ``target`` step 2's, and
    ``position`` the later of the two (wait for it to read both)."""

    source: CommandResult
    target: ImportResult
    position: int


def import_command_id(source_id: UUID) -> str:
    """Step 2's command id: derived from the source, the same on every run."""
    return f"merge-into:{source_id}"


class MergeService:
    def __init__(
        self,
        handler: CommandHandler,
        store: EventStore,
        pool: asyncpg.Pool,
        *,
        answer_within: float = 4.5,
    ) -> None:
        self._handler = handler
        self._store = store
        self._pool = pool
        self._answer_within = answer_within
        self._turn = asyncio.Lock()  # one first step at a time per process (one connection)

    async def merge(
        self,
        source_id: UUID,
        into: UUID,
        actor: Actor,
        *,
        command_id: str | None = None,
        correlation_id: UUID | None = None,
    ) -> MergeResult:
        """Both steps. Raises a DomainError when step 1 is refused; a retry
        (same ``command_id``) answers as the first time and redoes step 2."""
        access.require_manage(actor, "merge conversations")  # before saying what exists
        async with self._first_steps_take_turns():
            target = await self._handler.state_of(into)
            command = MergeConversation(
                conversation_id=source_id, into=into, target=_target(target), command_id=command_id
            )
            first = await self._handler.handle(command, actor, correlation_id=correlation_id)
        second = await self.complete(source_id)
        return MergeResult(
            source=first, target=second, position=max(first.position, second.position)
        )

    async def complete(self, source_id: UUID) -> ImportResult:
        """Step 2 for a source that step 1 merged (idempotent)."""
        merged, state, messages = await self._source(source_id)
        assert isinstance(merged.data, ConversationMerged)
        into, moved = merged.data.into, copies(state, messages)
        actor = _merger(merged)
        for _ in range(MAX_HOPS):
            command = ImportMerged(
                conversation_id=into,
                source_id=source_id,
                messages=moved,
                command_id=import_command_id(source_id),
            )
            try:
                result = await self._handler.handle(
                    command, actor, correlation_id=merged.metadata.correlation_id
                )
            except errors.ConversationWasMerged as went:  # the target was merged on meanwhile
                into = UUID(str(went.into))
                continue
            return await self._import_result(result, len(moved))
        raise errors.InvalidCommand(f"the merge of {source_id} follows too many merges")

    async def _source(
        self, source_id: UUID
    ) -> tuple[RecordedEvent, ConversationState, list[tuple[MessageSent, datetime]]]:
        """The source's ConversationMerged, its state just before it and its
        messages (each with when it was recorded)."""
        stream_id, state, after = stream_id_for(source_id), INITIAL_STATE, 0
        messages: list[tuple[MessageSent, datetime]] = []
        while page := await self._store.read_stream(stream_id, after=after, limit=_PAGE):
            for at, event in enumerate(page):
                if isinstance(event.data, ConversationMerged):
                    state = fold(state, (e.data for e in page[:at]))
                    return event, state, messages
                if isinstance(event.data, MessageSent):
                    messages.append((event.data, event.recorded_at))
            state = fold(state, (e.data for e in page))
            after = page[-1].stream_position
        raise errors.InvalidCommand(f"conversation {source_id} was not merged")

    async def _import_result(self, result: CommandResult, count: int) -> ImportResult:
        """Step 2's answer, the same on a retry: a replayed import answers
        with its first event (ConversationMergedIn), the last copy follows
        ``count`` events later."""
        position, version = result.position, result.version
        if result.replayed:
            stream_id = stream_id_for(result.conversation_id)
            last = await self._store.read_stream(stream_id, after=version + count - 1, limit=1)
            position, version = last[0].global_position, last[0].stream_position
        return ImportResult(
            conversation_id=result.conversation_id,
            position=position,
            version=version,
            message_count=count,
            replayed=result.replayed or not result.events,
        )

    @contextlib.asynccontextmanager
    async def _first_steps_take_turns(self) -> AsyncIterator[None]:
        """Hold the merge lock (in this process, then across processes)."""
        async with self._turn:
            try:
                connection = bounded_connection(self._pool, self._answer_within)
                async with connection as (conn, left), conn.transaction():
                    await conn.execute(
                        "SELECT pg_advisory_xact_lock($1)", MERGE_LOCK_KEY, timeout=left()
                    )
                    yield
            except StoreUnavailable as error:
                raise errors.Unavailable(
                    "the event store is unavailable; retry with the same command_id",
                    retry_after=int(error.retry_after) or 1,
                ) from error


def _target(state: ConversationState) -> MergeTarget | None:
    if not state.started:
        return None
    return MergeTarget(
        client_id=state.client_id,
        status=state.status,
        deleted=state.deleted,
        merged_into=state.merged_into,
    )


def _merger(merged: RecordedEvent) -> Actor:
    """Who merged (step 2 runs as them, so its idempotency key is stable)."""
    assert isinstance(merged.data, ConversationMerged)
    role = Role.AGENT if merged.metadata.actor_role == Role.AGENT else Role.ADMIN
    return Actor(id=merged.data.by, role=role)
