"""The command handler: load, decide, append — the imperative shell.

- **Cost independent of a conversation's length.** States are cached per
  stream with the version they were folded to; a command decides on the cached
  state and appends with that version as the expected one. Only a conflict (a
  write from another process) or a refusal reads the stream, and then only the
  events after the cached version.
- **Concurrent senders all succeed.** Commands on one conversation take turns
  in this process (a lock per stream); a conflict with another process is
  retried from fresh state, a bounded number of times.
- **Idempotency.** A command with a ``command_id`` (or a message with a
  ``client_message_id``) gets event and message ids derived from that key, so a
  retry is recognised by the store and answered with the first result.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import math
import random
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID, uuid4, uuid5

import msgspec
from msgspec.structs import replace

from commands import errors
from commands.decider import decide, evolve, fold
from commands.model import (
    INITIAL_STATE,
    Actor,
    AnyCommand,
    ConversationState,
    SendMessage,
    StartConversation,
    stream_id_for,
)
from events.catalogue import AnyEvent, MessageSent, event_type
from events.envelope import AppendResult, Metadata, NewEvent, RecordedEvent
from events.store import ConcurrencyError, DuplicateEventError, EventStore, StoreUnavailable

_ID_NAMESPACE = UUID("6f1f8a4e-3c2b-4d5e-9a7b-0c1d2e3f4a5b")
_READ_PAGE = 5000


class CommandResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a command did. ``position`` is the global position of its last
    event (or of the conversation's last event when nothing changed): a read
    may wait for the read models to reach it (read-your-writes)."""

    conversation_id: UUID
    position: int
    version: int
    events: list[str]
    message_id: UUID | None = None
    seq: int | None = None
    replayed: bool = False


class Busy(errors.DomainError):
    """Lost the race for a conversation too many times in a row."""

    code = "busy"


@dataclass
class _Folded:
    """A state and how far into its stream (and the log) it is folded."""

    state: ConversationState = INITIAL_STATE
    version: int = 0
    position: int = 0


class CommandHandler:
    def __init__(
        self,
        store: EventStore,
        *,
        cache_size: int = 10_000,
        max_attempts: int = 10,
        new_id: Callable[[], UUID] = uuid4,
        on_appended: Callable[[Sequence[NewEvent], AppendResult], None] | None = None,
        answer_within: float = 4.5,
    ) -> None:
        """``on_appended(events, result)`` hears of every append this handler
        makes, in each conversation's order (the WebSocket edge uses it to reach
        this process's sockets before the relay does)."""
        self._store = store
        self._answer_within = answer_within
        """Seconds within which a command is answered, its turn on the
        conversation included: past them it is refused ``unavailable``."""
        self._on_appended = on_appended
        self._cache: OrderedDict[str, _Folded] = OrderedDict()
        self._cache_size = cache_size
        self._max_attempts = max_attempts
        self._new_id = new_id
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # lock, tasks using it

    async def handle(
        self, command: AnyCommand, actor: Actor, *, correlation_id: UUID | None = None
    ) -> CommandResult:
        """Run one command; raises a DomainError when it is refused."""
        key = _idempotency_key(command, actor)
        if isinstance(command, StartConversation) and command.conversation_id is None:
            minted = uuid5(_ID_NAMESPACE, f"start|{key}") if key else self._new_id()
            command = replace(command, conversation_id=minted)
        conversation_id = command.conversation_id
        assert conversation_id is not None
        stream_id = stream_id_for(conversation_id)
        base = f"{stream_id}|{key}" if key else None
        metadata = Metadata(
            actor_id=actor.id,
            actor_role=actor.role,
            correlation_id=correlation_id,
            command_id=key,
            command_digest=_digest(command) if key else None,
        )
        lock, users = self._locks.get(stream_id) or (asyncio.Lock(), 0)
        self._locks[stream_id] = (lock, users + 1)
        deadline = asyncio.timeout(self._answer_within)
        try:
            async with deadline, lock:
                return await self._run(stream_id, command, actor, base, metadata)
        except (StoreUnavailable, TimeoutError) as error:
            if isinstance(error, TimeoutError) and not deadline.expired():
                raise
            self._cache.pop(stream_id, None)  # an append in doubt: read the stream next time
            raise errors.Unavailable(
                "the event store is unavailable; retry with the same command_id "
                "or client_message_id",
                retry_after=math.ceil(getattr(error, "retry_after", 1)),
            ) from error
        finally:
            lock, users = self._locks[stream_id]
            if users == 1:
                del self._locks[stream_id]
            else:
                self._locks[stream_id] = (lock, users - 1)

    async def _run(
        self,
        stream_id: str,
        command: AnyCommand,
        actor: Actor,
        base: str | None,
        metadata: Metadata,
    ) -> CommandResult:
        folded, fresh = self._cache.get(stream_id), False
        if folded is None:
            folded, fresh = await self._catch_up(stream_id, _Folded()), True
        for attempt in range(self._max_attempts):
            try:
                decided = decide(folded.state, command, actor, _id_source(base, "id", self._new_id))
            except errors.DomainError:
                if not fresh:  # the cache may be behind another process: look again
                    folded, fresh = await self._catch_up(stream_id, folded), True
                    continue
                if base and (first := await self._store.find_event(_event_id(base, 0))):
                    return _answer_retry(first, metadata)
                raise
            if not decided:
                return _result(command, folded, [])
            new_events = _envelopes(decided, base, metadata, self._new_id)
            try:
                appended = await self._store.append(stream_id, new_events, folded.version)
            except ConcurrencyError:
                # Another process wrote first: back off a random while (so two
                # busy processes do not keep colliding), then look again.
                await asyncio.sleep(random.uniform(0, min(0.05, 0.002 * 2**attempt)))
                folded, fresh = await self._catch_up(stream_id, folded), True
                continue
            except DuplicateEventError:
                # The key's event ids are stored, but as another command.
                raise errors.CommandIdReused(
                    "this command_id (or client_message_id) was already used for a "
                    "different command; use a new one",
                    field="client_message_id" if command.command_id is None else "command_id",
                ) from None
            if appended.replayed:
                self._cache.pop(stream_id, None)
                return _answer_retry(await self._first_of(new_events), metadata)
            if self._on_appended is not None:
                self._on_appended(new_events, appended)
            for event in decided:
                folded.state = evolve(folded.state, event)
            folded.version = appended.last_stream_position
            folded.position = appended.last_global_position
            return _result(command, folded, decided)
        raise Busy("the conversation is too busy right now; try again")

    async def _catch_up(self, stream_id: str, folded: _Folded) -> _Folded:
        """Fold what the stream holds after ``folded`` into a fresh cache entry."""
        folded = _Folded(folded.state, folded.version, folded.position)
        while page := await self._store.read_stream(
            stream_id, after=folded.version, limit=_READ_PAGE
        ):
            folded.state = fold(folded.state, (recorded.data for recorded in page))
            folded.version = page[-1].stream_position
            folded.position = page[-1].global_position
            if len(page) < _READ_PAGE:
                break
        self._cache[stream_id] = folded
        self._cache.move_to_end(stream_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return folded

    async def _first_of(self, new_events: Sequence[NewEvent]) -> RecordedEvent:
        first = await self._store.find_event(new_events[0].event_id)
        assert first is not None, "a replayed append's events are stored"
        return first


def _answer_retry(first: RecordedEvent, metadata: Metadata) -> CommandResult:
    """The first result of a command that was already carried out, if this
    is that command again (same content); else the id was reused."""
    stored = first.metadata.command_digest
    if stored is not None and stored != metadata.command_digest:
        raise errors.CommandIdReused(
            "this command_id (or client_message_id) was already used for a different "
            "command; use a new one",
            field="command_id" if "|cmd|" in (metadata.command_id or "") else "client_message_id",
        )
    data = first.data
    return CommandResult(
        conversation_id=data.conversation_id,
        position=first.global_position,
        version=first.stream_position,
        events=[first.type],
        message_id=data.message_id if isinstance(data, MessageSent) else None,
        seq=data.seq if isinstance(data, MessageSent) else None,
        replayed=True,
    )


def _digest(command: AnyCommand) -> str:
    """A short digest of a command's content (its type and every field)."""
    encoded = type(command).__name__.encode() + msgspec.json.encode(command)
    return hashlib.blake2b(encoded, digest_size=12).hexdigest()


def _idempotency_key(command: AnyCommand, actor: Actor) -> str | None:
    if command.command_id:
        return f"{actor.id}|cmd|{command.command_id}"
    if isinstance(command, SendMessage) and command.client_message_id:
        return f"{actor.id}|msg|{command.client_message_id}"
    return None


def _id_source(base: str | None, kind: str, new_id: Callable[[], UUID]) -> Callable[[], UUID]:
    """Fresh ids, or ids derived from the idempotency key (the same on a retry)."""
    if base is None:
        return new_id
    counter = itertools.count()
    return lambda: uuid5(_ID_NAMESPACE, f"{base}|{kind}|{next(counter)}")


def _event_id(base: str, index: int) -> UUID:
    return uuid5(_ID_NAMESPACE, f"{base}|event|{index}")


def _envelopes(
    events: list[AnyEvent], base: str | None, metadata: Metadata, new_id: Callable[[], UUID]
) -> list[NewEvent]:
    ids = [_event_id(base, i) if base else new_id() for i in range(len(events))]
    return [
        NewEvent(event_id=i, data=e, metadata=metadata) for i, e in zip(ids, events, strict=True)
    ]


def _result(command: AnyCommand, folded: _Folded, events: list[AnyEvent]) -> CommandResult:
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
