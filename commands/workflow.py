"""The support workflow's deciders (issue 17): private notes, labels and
snooze. Pure, like :mod:`commands.decider` (which dispatches here): each
takes the conversation's state, the command, the actor and the time.

Snooze follows the transition table (P8, ``decider.TRANSITIONS``): an open
conversation snoozes until a moment in the future; it wakes — back to
``active`` — when that moment has come (the waker sends WakeConversation)
or at the client's next message, whichever is first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from commands import access, errors
from commands.model import (
    Actor,
    AddNote,
    ConversationState,
    LabelConversation,
    SnoozeConversation,
    UnlabelConversation,
    WakeConversation,
)
from events.catalogue import (
    AnyConversationEvent,
    ConversationLabelled,
    ConversationSnoozed,
    ConversationUnlabelled,
    ConversationWoke,
    NoteAdded,
    Status,
    WakeReason,
)

MAX_SNOOZE: Final = timedelta(days=366)
"""The furthest a conversation may be snoozed."""


def add_note(
    state: ConversationState, command: AddNote, actor: Actor, note_id: UUID
) -> list[AnyConversationEvent]:
    """Staff only; allowed on a closed conversation (notes explain closings)."""
    access.require_manage(actor, "add notes")
    return [
        NoteAdded(
            conversation_id=command.conversation_id,
            note_id=note_id,
            author_id=actor.id,
            content=command.content,
            mentions=tuple(dict.fromkeys(command.mentions)),
        )
    ]


def label(
    state: ConversationState, command: LabelConversation | UnlabelConversation, actor: Actor
) -> list[AnyConversationEvent]:
    """Staff only; a label already so is a no-op. (That the label exists in
    the catalogue is checked by the edge, which reads the catalogue.)"""
    access.require_manage(actor, "label conversations")
    has = command.label_id in state.labels
    cid, label_id = command.conversation_id, command.label_id
    if isinstance(command, LabelConversation):
        return (
            []
            if has
            else [ConversationLabelled(conversation_id=cid, label_id=label_id, by=actor.id)]
        )
    return (
        [ConversationUnlabelled(conversation_id=cid, label_id=label_id, by=actor.id)] if has else []
    )


def snooze(
    state: ConversationState, command: SnoozeConversation, actor: Actor, now: datetime
) -> list[AnyConversationEvent]:
    access.require_manage(actor, "snooze conversations")
    if state.status is Status.CLOSED:
        raise errors.ConversationClosed("a closed conversation cannot be snoozed; reopen it first")
    until = command.until
    if until.tzinfo is None:
        raise errors.InvalidCommand(
            "until needs a time zone (e.g. 2026-12-03T18:00:00Z)", field="until"
        )
    if until <= now:
        raise errors.InvalidCommand(
            f"until must be in the future (now is {now.isoformat()})", field="until"
        )
    if until > now + MAX_SNOOZE:
        raise errors.InvalidCommand(
            f"until may be at most {MAX_SNOOZE.days} days ahead", field="until"
        )
    if state.status is Status.SNOOZED and state.snoozed_until == until:
        return []  # so already
    return [
        ConversationSnoozed(
            conversation_id=command.conversation_id,
            until=until,
            from_status=state.status,
            by=actor.id,
        )
    ]


def wake(
    state: ConversationState, command: WakeConversation, actor: Actor, now: datetime
) -> list[AnyConversationEvent]:
    """The waker's: a no-op unless the conversation is snoozed and its time has come."""
    access.require_manage(actor, "wake conversations")
    if (
        state.status is not Status.SNOOZED
        or state.snoozed_until is None
        or state.snoozed_until > now
    ):
        return []
    return [ConversationWoke(conversation_id=command.conversation_id, reason=WakeReason.TIMER)]


def woken_by_client(state: ConversationState, actor: Actor) -> list[AnyConversationEvent]:
    """What a message wakes: the client's next message ends a snooze at once."""
    if state.status is Status.SNOOZED and not actor.is_staff and state.conversation_id:
        return [
            ConversationWoke(
                conversation_id=state.conversation_id, reason=WakeReason.CLIENT_MESSAGE
            )
        ]
    return []
