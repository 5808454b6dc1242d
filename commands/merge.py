"""Merging two conversations of one client, pure (the decider's part).

A merge is two appends, one per stream, run by :mod:`commands.merge_service`:

1. on the **source**, ``ConversationMerged(into, up_to_seq)`` closes it for
   good; from then on it refuses new messages (``conversation_merged``,
   naming the target), so ``up_to_seq`` is its last message;
2. on the **target**, ``ConversationMergedIn`` and a copy of each of the
   source's messages (``MessageSent`` with ``merged_from``), after the
   target's own. A copy of a message read before the merge stays read, so
   unread counts stay exact: the source's unread move to the target.

Both streams keep their history. The second step is idempotent (its
command id is derived from the source), so the service, a retry or the
merge completer may run it again after a crash between the two.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from uuid import UUID

from commands import access, errors
from commands.model import Actor, ConversationState, ImportMerged, MergeConversation
from events.catalogue import (
    AnyConversationEvent,
    ConversationMerged,
    ConversationMergedIn,
    MergedFrom,
    MessageSent,
    Side,
    Status,
)


def merge(
    state: ConversationState, command: MergeConversation, actor: Actor
) -> list[AnyConversationEvent]:
    """Step 1, on the source: checks both conversations, then closes the source."""
    access.require_manage(actor, "merge conversations")
    target, into = command.target, command.into
    if into == command.conversation_id:
        raise errors.InvalidCommand("a conversation cannot be merged into itself", field="into")
    if state.merged_into == into:
        return []  # so already (a retry): the service still completes step 2
    if state.merged_into is not None:
        raise errors.ConversationWasMerged(state.merged_into)
    if target is None or target.deleted:
        raise errors.ConversationNotFound(f"no conversation {into} to merge into", field="into")
    if target.merged_into is not None:
        raise errors.ConversationWasMerged(target.merged_into)
    if target.client_id != state.client_id:
        raise errors.InvalidCommand(
            "only conversations of the same client can be merged", field="into"
        )
    if target.status is Status.CLOSED:
        raise errors.ConversationClosed("the target is closed; reopen it first", field="into")
    return [
        ConversationMerged(
            conversation_id=command.conversation_id,
            into=into,
            up_to_seq=state.last_seq,
            by=actor.id,
        )
    ]


def import_merged(
    state: ConversationState, command: ImportMerged, actor: Actor, new_id: Callable[[], UUID]
) -> list[AnyConversationEvent]:
    """Step 2, on the target: the source's messages after the target's own.
    Done once per source (a second time is a no-op). It lands on a target
    closed or deleted since step 1 (the messages must not be lost); a target
    merged on since then refuses (``conversation_merged``): the service
    imports into the conversation it went to instead."""
    access.require_manage(actor, "merge conversations")
    if not state.started:
        raise errors.ConversationNotFound(f"no conversation {command.conversation_id}")
    if command.source_id in state.merged_sources:
        return []
    if state.merged_into is not None:
        raise errors.ConversationWasMerged(state.merged_into)
    cid = command.conversation_id
    events: list[AnyConversationEvent] = [
        ConversationMergedIn(
            conversation_id=cid,
            source_id=command.source_id,
            message_count=len(command.messages),
            by=actor.id,
        )
    ]
    for seq, (message, origin) in enumerate(command.messages, start=state.last_seq + 1):
        events.append(
            MessageSent(
                conversation_id=cid,
                message_id=new_id(),
                seq=seq,
                sender=message.sender,
                sender_id=message.sender_id,
                message_type=message.message_type,
                content=message.content,
                attachment=message.attachment,
                merged_from=origin,
            )
        )
    return events


def copies(
    source: ConversationState, messages: Sequence[tuple[MessageSent, datetime]]
) -> tuple[tuple[MessageSent, MergedFrom], ...]:
    """The source's messages (with when each was recorded) as the target
    gets them: each marked with its origin and whether it had been read
    there — a client message by any staff member (the source's furthest
    staff cursor), a staff message by the client. System messages count as
    read. A message the source had itself merged in keeps the read state and
    the ``sent_at`` of its first conversation (its origin is the source)."""
    return tuple((message, _origin(source, message, at)) for message, at in messages)


def _origin(source: ConversationState, message: MessageSent, at: datetime) -> MergedFrom:
    before = message.merged_from
    return MergedFrom(
        conversation_id=message.conversation_id,
        seq=message.seq,
        message_id=message.message_id,
        sent_at=before.sent_at if before else at,
        read_by_staff=message.sender is not Side.CLIENT
        or message.seq <= source.staff_read_up_to
        or (before is not None and before.read_by_staff),
        read_by_client=message.sender is not Side.ADMIN
        or message.seq <= source.client_read_up_to
        or (before is not None and before.read_by_client),
    )
