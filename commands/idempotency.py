"""Idempotency: a retried command is recognised and answered with its first
result, never carried out twice.

A command with a ``command_id`` (or a message with a ``client_message_id``)
has a key; its event ids, message ids and a started conversation's id are
derived from that key, so a retry writes the very same event ids and the
store recognises it. Events carry a digest of the command that wrote them: a
retry must match it, else the key was reused for another command.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Sequence
from uuid import UUID, uuid5

import msgspec

from commands import errors
from commands.model import Actor, AnyCommand, MergeConversation, SendMessage
from commands.result import CommandResult
from events.catalogue import AnyEvent, ConversationEvent, MessageSent
from events.envelope import Metadata, NewEvent, RecordedEvent

_ID_NAMESPACE = UUID("6f1f8a4e-3c2b-4d5e-9a7b-0c1d2e3f4a5b")


def idempotency_key(command: AnyCommand, actor: Actor) -> str | None:
    """The command's key (per actor), or ``None`` when it has none."""
    if command.command_id:
        return f"{actor.id}|cmd|{command.command_id}"
    if isinstance(command, SendMessage) and command.client_message_id:
        return f"{actor.id}|msg|{command.client_message_id}"
    return None


def command_digest(command: AnyCommand) -> str:
    """A short digest of a command's content (its type and every field; of
    a merge, what was asked, not the target's state the service read)."""
    if isinstance(command, MergeConversation):
        command = msgspec.structs.replace(command, target=None)
    encoded = type(command).__name__.encode() + msgspec.json.encode(command)
    return hashlib.blake2b(encoded, digest_size=12).hexdigest()


def conversation_id_for(key: str | None, new_id: Callable[[], UUID]) -> UUID:
    """The id of a conversation a start command creates: derived from its key."""
    return uuid5(_ID_NAMESPACE, f"start|{key}") if key else new_id()


def id_source(base: str | None, kind: str, new_id: Callable[[], UUID]) -> Callable[[], UUID]:
    """Fresh ids, or ids derived from the idempotency key (the same on a retry)."""
    if base is None:
        return new_id
    counter = itertools.count()
    return lambda: uuid5(_ID_NAMESPACE, f"{base}|{kind}|{next(counter)}")


def event_id(base: str, index: int) -> UUID:
    """The id of the ``index``-th event a keyed command writes."""
    return uuid5(_ID_NAMESPACE, f"{base}|event|{index}")


def envelopes(
    events: Sequence[AnyEvent],
    base: str | None,
    metadata: Metadata,
    new_id: Callable[[], UUID],
    *,
    subject: str | None = None,
) -> list[NewEvent]:
    """The events to append, with derived ids when the command has a key;
    ``subject`` is the client whose personal data they carry."""
    ids = [event_id(base, i) if base else new_id() for i in range(len(events))]
    return [
        NewEvent(event_id=i, data=e, metadata=metadata, subject=subject)
        for i, e in zip(ids, events, strict=True)
    ]


def id_reused(field: str) -> errors.CommandIdReused:
    return errors.CommandIdReused(
        "this command_id (or client_message_id) was already used for a different "
        "command; use a new one",
        field=field,
    )


def answer_retry(first: RecordedEvent, metadata: Metadata) -> CommandResult:
    """The first result of a command that was already carried out, if this
    is that command again (same content); else the id was reused."""
    stored = first.metadata.command_digest
    if stored is not None and stored != metadata.command_digest:
        raise id_reused(
            "command_id" if "|cmd|" in (metadata.command_id or "") else "client_message_id"
        )
    data = first.data
    assert isinstance(data, ConversationEvent), "commands answer conversation events"
    return CommandResult(
        conversation_id=data.conversation_id,
        position=first.global_position,
        version=first.stream_position,
        events=[first.type],
        message_id=data.message_id if isinstance(data, MessageSent) else None,
        seq=data.seq if isinstance(data, MessageSent) else None,
        replayed=True,
    )
