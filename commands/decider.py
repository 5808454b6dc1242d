"""The conversation decider: pure ``decide`` and ``evolve``, no I/O.

``decide(state, command, actor, new_id, now)`` returns the events a command
causes (or raises a :class:`~commands.errors.DomainError`); ``evolve(state,
event)`` folds one event into the state (it lives in :mod:`commands.evolve`,
and is re-exported here). Ids come in through ``new_id`` and the time as
``now``; nothing here reads a clock, mints an id or touches a database. The
support workflow's commands are decided in :mod:`commands.workflow` (notes,
labels, snooze) and :mod:`commands.merge`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final
from uuid import UUID

from commands import access, errors, merge, workflow
from commands.evolve import evolve, fold
from commands.model import (
    Actor,
    AddNote,
    AnyCommand,
    AssignConversation,
    ChangeStatus,
    ConversationState,
    DeleteConversation,
    ImportMerged,
    LabelConversation,
    MarkRead,
    MergeConversation,
    SendMessage,
    SnoozeConversation,
    StartConversation,
    UnlabelConversation,
    UpdateConversation,
    WakeConversation,
)
from events.catalogue import (
    AnyConversationEvent,
    ConversationAssigned,
    ConversationDeleted,
    ConversationStarted,
    ConversationStatusChanged,
    ConversationUnassigned,
    ConversationUpdated,
    MessageSent,
    MessagesRead,
    Status,
)

TRANSITIONS: Final[dict[Status, frozenset[Status]]] = {
    Status.ACTIVE: frozenset({Status.PENDING, Status.SNOOZED, Status.CLOSED}),
    Status.PENDING: frozenset({Status.ACTIVE, Status.SNOOZED, Status.CLOSED}),
    Status.SNOOZED: frozenset({Status.ACTIVE, Status.PENDING, Status.SNOOZED, Status.CLOSED}),
    Status.CLOSED: frozenset({Status.ACTIVE}),  # a reopen
}
"""P8: the only status changes allowed. Other same-status requests are
refused; snoozed → snoozed is a new ``until``. Into ``snoozed`` only by
SnoozeConversation (it needs an ``until``); out of it by a status change,
a wake-up at ``until`` or the client's next message (back to ``active``).
A merged conversation is closed for good (no reopen)."""

NewId = Callable[[], UUID]

__all__ = ["TRANSITIONS", "NewId", "decide", "evolve", "fold"]


def decide(
    state: ConversationState, command: AnyCommand, actor: Actor, new_id: NewId, now: datetime
) -> list[AnyConversationEvent]:
    """The events ``command`` causes on a conversation in ``state`` at ``now``."""
    if isinstance(command, StartConversation):
        return _start(state, command, actor, new_id)
    if isinstance(command, ImportMerged):  # completes a merge: lands even on a closed target
        return merge.import_merged(state, command, actor, new_id)
    _check_access(state, actor)
    if isinstance(command, MergeConversation):  # a merged source: done already, or refused
        return merge.merge(state, command, actor)
    if state.merged_into is not None and not isinstance(command, MarkRead):
        raise errors.ConversationWasMerged(state.merged_into)
    match command:
        case ChangeStatus():
            return _change_status(state, command, actor)
        case UpdateConversation():
            return _update(state, command, actor)
        case DeleteConversation():
            access.require_manage(actor, "delete a conversation")
            _require_open(state)
            return [ConversationDeleted(conversation_id=_id(state))]
        case SendMessage():
            return _send(state, command, actor, new_id)
        case MarkRead():
            return _mark_read(state, command, actor)
        case AssignConversation():
            return _assign(state, command, actor)
        case AddNote():
            return workflow.add_note(state, command, actor, new_id())
        case LabelConversation() | UnlabelConversation():
            return workflow.label(state, command, actor)
        case SnoozeConversation():
            return workflow.snooze(state, command, actor, now)
        case WakeConversation():
            return workflow.wake(state, command, actor, now)


# -- one function per command ------------------------------------------------------


def _start(
    state: ConversationState, command: StartConversation, actor: Actor, new_id: NewId
) -> list[AnyConversationEvent]:
    if state.started:
        raise errors.ConversationExists("a conversation with this id exists already")
    access.require_write(
        actor,
        command.client.id,
        "a client may only start its own conversations",
        field="client.id",
    )
    if command.status is Status.CLOSED:
        raise errors.InvalidCommand("a conversation cannot start closed", field="status")
    return [
        ConversationStarted(
            conversation_id=command.conversation_id or new_id(),
            client=command.client,
            channel=command.channel,
            priority=command.priority,
            status=command.status,
            summary=command.summary,
            team_id=command.team_id,
        )
    ]


def _change_status(
    state: ConversationState, command: ChangeStatus, actor: Actor
) -> list[AnyConversationEvent]:
    access.require_manage(actor, "change a conversation's status")
    if command.status is Status.SNOOZED:
        raise errors.InvalidCommand(
            "snooze with POST /api/conversations/{id}/snooze and an until", field="status"
        )
    if command.status not in TRANSITIONS[state.status]:
        raise errors.InvalidTransition(
            f"cannot change status from {state.status} to {command.status}", field="status"
        )
    return [
        ConversationStatusChanged(
            conversation_id=_id(state),
            from_status=state.status,
            to_status=command.status,
            reason=command.reason,
        )
    ]


def _update(
    state: ConversationState, command: UpdateConversation, actor: Actor
) -> list[AnyConversationEvent]:
    access.require_manage(actor, "change a conversation's priority or summary")
    if command.priority is None and command.summary is None:
        raise errors.InvalidCommand("nothing to update: give priority and/or summary")
    _require_open(state)
    priority = command.priority if command.priority != state.priority else None
    summary = command.summary if command.summary != state.summary else None
    if priority is None and summary is None:
        return []  # already so: nothing changes
    return [ConversationUpdated(conversation_id=_id(state), priority=priority, summary=summary)]


def _send(
    state: ConversationState, command: SendMessage, actor: Actor, new_id: NewId
) -> list[AnyConversationEvent]:
    sender = command.sender or actor.side
    access.require_send_as(actor, sender)
    _require_open(state)
    return [
        *workflow.woken_by_client(state, actor),
        MessageSent(
            conversation_id=_id(state),
            message_id=new_id(),
            seq=state.last_seq + 1,
            sender=sender,
            sender_id=actor.id,
            message_type=command.message_type,
            content=command.content,
            attachment=command.attachment,
            client_message_id=command.client_message_id,
        ),
    ]


def _mark_read(
    state: ConversationState, command: MarkRead, actor: Actor
) -> list[AnyConversationEvent]:
    """Moves the caller's own read cursor (allowed on a closed conversation:
    it changes a cursor, not the conversation). Staff each have their own."""
    up_to = state.last_seq if command.up_to_seq is None else command.up_to_seq
    if up_to > state.last_seq:
        raise errors.InvalidCommand(
            f"there is no message {up_to}: the last is {state.last_seq}", field="up_to_seq"
        )
    if actor.is_staff:
        mine = state.cursor_of(actor.id)
        if up_to <= mine:
            return []  # read that far already
        # Only behind a colleague's cursor may the client messages before
        # ``up_to`` be unknown here: then the cursor just moves.
        ahead = mine >= state.staff_read_up_to
        if ahead and (not state.unread_for_staff or state.unread_for_staff[0] > up_to):
            return []  # nothing of the client's becomes read
    elif not state.unread_for_client or state.unread_for_client[0] > up_to:
        return []  # nothing of the staff's becomes read
    return [
        MessagesRead(
            conversation_id=_id(state), reader=actor.side, reader_id=actor.id, up_to_seq=up_to
        )
    ]


def _assign(
    state: ConversationState, command: AssignConversation, actor: Actor
) -> list[AnyConversationEvent]:
    access.require_manage(actor, "assign conversations")
    _require_open(state)
    agent, team = command.agent_id, command.team_id
    if agent is not None and team is None:
        team = state.team_id  # an agent alone: the conversation stays in its team
    if (agent, team) == (state.assignee_id, state.team_id):
        return []  # so already
    cid, by, why = _id(state), actor.id, command.reason
    if agent is None and state.assignee_id is None:
        if team is None:  # leaves its team's queue
            return [ConversationUnassigned(conversation_id=cid, by=by, reason=why)]
        return [ConversationAssigned(conversation_id=cid, team_id=team, by=by, reason=why)]
    if agent is None:  # taken from its agent; waits in ``team``'s queue (if any)
        return [
            ConversationUnassigned(
                conversation_id=cid, agent_id=state.assignee_id, team_id=team, by=by, reason=why
            )
        ]
    return [
        ConversationAssigned(conversation_id=cid, agent_id=agent, team_id=team, by=by, reason=why)
    ]


# -- shared checks -------------------------------------------------------------------


def _check_access(state: ConversationState, actor: Actor) -> None:
    if not state.started:
        raise errors.ConversationNotFound("no such conversation")
    access.require_write(actor, state.client_id)
    if state.deleted:
        raise errors.ConversationDeleted("the conversation was deleted")


def _require_open(state: ConversationState) -> None:
    """P9: a closed conversation changes only by a reopen."""
    if state.status is Status.CLOSED:
        raise errors.ConversationClosed("the conversation is closed; reopen it first")


def _id(state: ConversationState) -> UUID:
    assert state.conversation_id is not None
    return state.conversation_id
