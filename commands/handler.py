"""The command handler: load, fold, decide, append — the imperative shell.

- **Cost independent of a conversation's length.** States are cached per
  stream (:mod:`commands.state_cache`); a command decides on the cached state
  and appends with its version as the expected one. Only a conflict (a write
  from another process) or a refusal reads the stream, and then only the
  events after the cached version.
- **Concurrent senders all succeed.** Commands on one conversation take turns
  in this process; a conflict with another process is retried from fresh
  state, and (with ``turns``) a command that keeps losing takes the
  conversation's turn across processes (:mod:`commands.turns`).
- **Idempotency** (:mod:`commands.idempotency`): a retry is recognised by the
  store and answered with the first result.
- **Snapshots** (:mod:`commands.snapshots`, optional): a conversation not in
  the cache is folded from its snapshot on, and new snapshots are saved in
  the background as it grows.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from uuid import UUID, uuid4

from msgspec.structs import replace

from commands import attachment_lookup, errors, guard
from commands.decider import decide, evolve, fold
from commands.idempotency import (
    answer_retry,
    command_digest,
    conversation_id_for,
    envelopes,
    event_id,
    id_reused,
    id_source,
    idempotency_key,
)
from commands.model import (
    Actor,
    AnyCommand,
    ConversationState,
    SendMessage,
    StartConversation,
    stream_id_for,
)
from commands.result import CommandResult
from commands.snapshots import Snapshots
from commands.state_cache import Folded, StateCache, StreamLocks
from commands.turns import RACES_BEFORE_TURN, StreamTurns
from events.catalogue import AnyEvent, MessageSent, event_type
from events.envelope import AppendResult, Metadata, NewEvent, RecordedEvent
from events.store import ConcurrencyError, DuplicateEventError, EventStore, StoreUnavailable

__all__ = ["Busy", "CommandHandler", "CommandResult", "OnHandled"]

_READ_PAGE = 5000

OnHandled = Callable[[AnyCommand, CommandResult | BaseException, float, UUID | None], None]
"""``on_handled(command, result or error, seconds, correlation_id)``: told of
every command once it is answered (metrics and logs listen here)."""


class Busy(errors.DomainError):
    """Lost the race for a conversation too many times in a row."""

    code = "busy"


class CommandHandler:
    def __init__(
        self,
        store: EventStore,
        *,
        cache_size: int = 10_000,
        max_attempts: int = 10,
        new_id: Callable[[], UUID] = uuid4,
        on_appended: Callable[[Sequence[NewEvent], AppendResult], None] | None = None,
        on_handled: OnHandled | None = None,
        answer_within: float = 4.5,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        snapshots: Snapshots | None = None,
        turns: StreamTurns | None = None,
    ) -> None:
        """``on_appended(events, result)`` hears of every append this handler
        makes, in each conversation's order (the WebSocket edge uses it to reach
        this process's sockets before the relay does)."""
        self._snapshots = snapshots
        self._store = store
        self._answer_within = answer_within
        """Seconds within which a command is answered, its turn on the
        conversation included: past them it is refused ``unavailable``."""
        self._on_appended = on_appended
        self._on_handled = on_handled
        self._cache = StateCache(cache_size)
        self._locks = StreamLocks()
        self._turns = turns
        self._max_attempts = max_attempts
        self._new_id = new_id
        self._clock = clock

    async def handle(
        self, command: AnyCommand, actor: Actor, *, correlation_id: UUID | None = None
    ) -> CommandResult:
        """Run one command; raises a DomainError when it is refused."""
        if self._on_handled is None:
            return await self._handle(command, actor, correlation_id)
        started = time.perf_counter()
        try:
            result = await self._handle(command, actor, correlation_id)
        except BaseException as error:
            self._on_handled(command, error, time.perf_counter() - started, correlation_id)
            raise
        self._on_handled(command, result, time.perf_counter() - started, correlation_id)
        return result

    async def state_of(self, conversation_id: UUID) -> ConversationState:
        """The conversation's state as the store holds it now: its cached
        state, caught up with the stream (``started`` False: no such one)."""
        stream_id = stream_id_for(conversation_id)
        try:
            async with asyncio.timeout(self._answer_within), self._locks.turn(stream_id):
                cached = self._cache.get(stream_id) or Folded()
                return (await self._catch_up(stream_id, cached)).state
        except (StoreUnavailable, TimeoutError) as error:
            raise errors.Unavailable("the event store is unavailable; retry") from error

    async def _handle(
        self, command: AnyCommand, actor: Actor, correlation_id: UUID | None
    ) -> CommandResult:
        if isinstance(command, SendMessage) and command.attachment is not None:
            command = await attachment_lookup.resolve(self._store, command)  # an upload's details
        key = idempotency_key(command, actor)
        if isinstance(command, StartConversation) and command.conversation_id is None:
            command = replace(command, conversation_id=conversation_id_for(key, self._new_id))
        conversation_id = command.conversation_id
        assert conversation_id is not None
        stream_id = stream_id_for(conversation_id)
        base = f"{stream_id}|{key}" if key else None
        metadata = Metadata(
            actor_id=actor.id,
            actor_role=actor.role,
            correlation_id=correlation_id,
            command_id=key,
            command_digest=command_digest(command) if key else None,
        )
        deadline = asyncio.timeout(self._answer_within)
        try:
            async with deadline, self._locks.turn(stream_id), contextlib.AsyncExitStack() as turn:
                return await self._run(stream_id, command, actor, base, metadata, turn)
        except (StoreUnavailable, TimeoutError) as error:
            if isinstance(error, TimeoutError) and not deadline.expired():
                raise
            self._cache.forget(stream_id)  # an append in doubt: read the stream next time
            raise errors.Unavailable(
                "the event store is unavailable; retry with the same command_id "
                "or client_message_id",
                retry_after=math.ceil(getattr(error, "retry_after", 1)),
            ) from error

    async def _run(
        self,
        stream_id: str,
        command: AnyCommand,
        actor: Actor,
        base: str | None,
        metadata: Metadata,
        turn: contextlib.AsyncExitStack,
    ) -> CommandResult:
        """Decide and append until it lands. After ``RACES_BEFORE_TURN`` lost
        races, take the stream's turn (:mod:`commands.turns`, held in ``turn``)
        and keep trying until the command's deadline: every race lost then is
        another process's progress."""
        turn_taken = False
        folded, fresh = self._cache.get(stream_id), False
        if folded is None:
            folded, fresh = await self._catch_up(stream_id, Folded()), True
        attempt = 0
        while attempt < self._max_attempts or turn_taken:
            attempt += 1
            try:
                if command.seen_version is not None and folded.state.started:
                    await self._guard(stream_id, command.seen_version, folded, actor)
                new_id = id_source(base, "id", self._new_id)
                decided = decide(folded.state, command, actor, new_id, self._clock())
            except errors.DomainError:
                if not fresh:  # the cache may be behind another process: look again
                    folded, fresh = await self._catch_up(stream_id, folded), True
                    continue
                if base and (first := await self._store.find_event(event_id(base, 0))):
                    return answer_retry(first, metadata)
                raise
            if not decided:  # nothing to do: unless it was done already, by this very key
                if base and (first := await self._store.find_event(event_id(base, 0))):
                    return answer_retry(first, metadata)
                return _result(command, folded, [])
            subject = folded.state.client_id or None  # a start names its own client
            new_events = envelopes(decided, base, metadata, self._new_id, subject=subject)
            try:
                appended = await self._store.append(stream_id, new_events, folded.version)
            except ConcurrencyError:
                # Another process wrote first: back off a random while (so two
                # busy processes do not keep colliding), or after a few lost
                # races take the stream's turn; then look again.
                if self._turns is not None and attempt >= RACES_BEFORE_TURN and not turn_taken:
                    await turn.enter_async_context(self._turns.take(stream_id))
                    turn_taken = True
                elif not turn_taken:
                    await asyncio.sleep(random.uniform(0, min(0.05, 0.002 * 2**attempt)))
                folded, fresh = await self._catch_up(stream_id, folded), True
                continue
            except DuplicateEventError:
                # The key's event ids are stored, but as another command.
                field = "client_message_id" if command.command_id is None else "command_id"
                raise id_reused(field) from None
            if appended.replayed:
                self._cache.forget(stream_id)
                return answer_retry(await self._first_of(new_events), metadata)
            if self._on_appended is not None:
                self._on_appended(new_events, appended)
            for event in decided:
                folded.state = evolve(folded.state, event)
            folded.version = appended.last_stream_position
            folded.position = appended.last_global_position
            if self._snapshots is not None:
                self._snapshots.consider(stream_id, folded)
            return _result(command, folded, decided)
        raise Busy("the conversation is too busy right now; try again")

    async def _catch_up(self, stream_id: str, folded: Folded) -> Folded:
        """Fold what the stream holds after ``folded`` (nothing folded: after
        its snapshot, if any) into a fresh cache entry."""
        folded = folded.copy()
        if folded.version == 0 and self._snapshots is not None:
            folded = await self._snapshots.load(stream_id)
        while page := await self._store.read_stream(
            stream_id, after=folded.version, limit=_READ_PAGE
        ):
            folded.state = fold(folded.state, (recorded.data for recorded in page))
            folded.version = page[-1].stream_position
            folded.position = page[-1].global_position
            if len(page) < _READ_PAGE:
                break
        self._cache.put(stream_id, folded)
        if self._snapshots is not None:
            self._snapshots.consider(stream_id, folded)
        return folded

    async def _guard(self, stream_id: str, seen: int, folded: Folded, actor: Actor) -> None:
        """The stale-action guard (:mod:`commands.guard`) on what came after ``seen``."""
        after = (
            await self._store.read_stream(stream_id, after=seen, limit=folded.version - seen)
            if 0 <= seen < folded.version
            else []
        )
        guard.check(seen, folded.version, after, actor)

    async def _first_of(self, new_events: Sequence[NewEvent]) -> RecordedEvent:
        first = await self._store.find_event(new_events[0].event_id)
        assert first is not None, "a replayed append's events are stored"
        return first


def _result(command: AnyCommand, folded: Folded, events: Sequence[AnyEvent]) -> CommandResult:
    message = next((e for e in events if isinstance(e, MessageSent)), None)
    conversation_id = folded.state.conversation_id or command.conversation_id
    assert conversation_id is not None
    return CommandResult(
        conversation_id=conversation_id,
        position=folded.position,
        version=folded.version,
        events=[event_type(e) for e in events],
        message_id=message.message_id if message else None,
        seq=message.seq if message else None,
    )
