"""Canned responses: one account-wide stream, ``canned-responses``. Pure, like
the conversation decider: ``decide_canned`` takes the catalogue's state, the
command, the actor and a fresh id, and returns events.

Rules:

- **Shared** responses (``owner_id`` ``None``) are created and managed by
  admins; every staff member uses them. An agent's **own** responses
  (``owner_id``: their id) are created by them and managed by them or by an
  admin; only they use them. Clients are refused everything (403).
- A **code** is unique, ignoring case, among the responses any one agent can
  use: their own and the shared ones. So a shared code may not be any live
  response's code (shared or someone's own), and an agent's own code may not
  be a shared code or another of their own (409 ``code_taken``, ``details.response_id``
  the holder). Two agents may each have their own ``/hello``.
- Another agent's own response is, to a non-admin, as if it did not exist
  (404 ``canned_response_not_found``); a shared one they may not manage is
  403. Changing a response to what it is emits nothing, deleting a deleted
  one emits nothing (a retry is harmless).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final
from uuid import UUID

import msgspec

from commands import access, errors
from commands.model import Actor, Role
from events.catalogue import (
    AnyCatalogueEvent,
    AnyEvent,
    CannedCode,
    CannedResponseChanged,
    CannedResponseCreated,
    CannedResponseDeleted,
    Content,
    StaffId,
)

CANNED_STREAM: Final = "canned-responses"


# -- commands --------------------------------------------------------------------------


class CreateCannedResponse(msgspec.Struct, frozen=True, kw_only=True):
    code: CannedCode
    content: Content
    shared: bool = False
    """Shared with every staff member (admins only); else the caller's own."""


class ChangeCannedResponse(msgspec.Struct, frozen=True, kw_only=True):
    """A new code and/or content (at least one)."""

    response_id: UUID
    code: CannedCode | None = None
    content: Content | None = None


class DeleteCannedResponse(msgspec.Struct, frozen=True, kw_only=True):
    response_id: UUID


CannedCommand = CreateCannedResponse | ChangeCannedResponse | DeleteCannedResponse


# -- state -----------------------------------------------------------------------------


class CannedResponse(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    content: str
    owner_id: str | None
    deleted: bool = False


class CannedState(msgspec.Struct, frozen=True, kw_only=True):
    responses: dict[UUID, CannedResponse] = msgspec.field(default_factory=dict)
    """Every response ever created, deleted ones flagged."""

    def holder(self, code: str, owner_id: str | None, *, but: UUID | None = None) -> UUID | None:
        """The live response (other than ``but``) whose code clashes with
        ``code`` for a response owned by ``owner_id`` (``None``: shared)."""
        wanted = code.casefold()
        for response_id, response in self.responses.items():
            if response.deleted or response_id == but or response.code.casefold() != wanted:
                continue
            if owner_id is None or response.owner_id in (None, owner_id):
                return response_id
        return None


def fold_canned(events: Iterable[AnyEvent], state: CannedState | None = None) -> CannedState:
    """The catalogue after ``events`` (on ``state``, or empty); other events are ignored."""
    responses = dict(state.responses) if state else {}
    for event in events:
        match event:
            case CannedResponseCreated():
                responses[event.response_id] = CannedResponse(
                    code=event.code, content=event.content, owner_id=event.owner_id
                )
            case CannedResponseChanged() if (old := responses.get(event.response_id)) is not None:
                responses[event.response_id] = msgspec.structs.replace(
                    old, code=event.code or old.code, content=event.content or old.content
                )
            case CannedResponseDeleted() if (old := responses.get(event.response_id)) is not None:
                responses[event.response_id] = msgspec.structs.replace(old, deleted=True)
    return CannedState(responses=responses)


# -- the decider -----------------------------------------------------------------------


def decide_canned(
    state: CannedState, command: CannedCommand, actor: Actor, new_id: UUID
) -> list[AnyCatalogueEvent]:
    """The events ``command`` causes on the catalogue in ``state``; ``new_id``
    names a created response."""
    access.require_catalogue_user(actor)
    match command:
        case CreateCannedResponse():
            if command.shared:
                access.require_admin(actor, "create shared canned responses")
            owner_id = None if command.shared else _owner(actor)
            _require_code_free(state, command.code, owner_id, None)
            return [
                CannedResponseCreated(
                    response_id=new_id,
                    code=command.code,
                    content=command.content,
                    owner_id=owner_id,
                )
            ]
        case ChangeCannedResponse():
            if command.code is None and command.content is None:
                raise errors.InvalidCommand("nothing to change: give code and/or content")
            response = _manageable(state, command.response_id, actor)
            if response.deleted:
                raise _not_found(command.response_id)
            if command.code is not None:
                _require_code_free(state, command.code, response.owner_id, command.response_id)
            code = command.code if command.code not in (None, response.code) else None
            content = command.content if command.content not in (None, response.content) else None
            if code is None and content is None:
                return []
            return [
                CannedResponseChanged(response_id=command.response_id, code=code, content=content)
            ]
        case DeleteCannedResponse():
            response = _manageable(state, command.response_id, actor)
            if response.deleted:
                return []  # already deleted: a retry
            return [CannedResponseDeleted(response_id=command.response_id)]


def _owner(actor: Actor) -> str:
    """The caller, as the owner of their own response: an id an agent may have."""
    try:
        return msgspec.convert(actor.id, StaffId)
    except msgspec.ValidationError:
        raise errors.InvalidCommand(
            "your id cannot own a canned response (blanks or slashes)"
        ) from None


def _not_found(response_id: UUID) -> errors.CannedResponseNotFound:
    return errors.CannedResponseNotFound(f"no canned response {response_id}")


def _manageable(state: CannedState, response_id: UUID, actor: Actor) -> CannedResponse:
    """The response, if ``actor`` may manage it: another agent's own is not
    found (unless the actor is an admin); a shared one is forbidden to agents."""
    response = state.responses.get(response_id)
    visible = response is not None and (
        actor.role is Role.ADMIN or response.owner_id in (None, actor.id)
    )
    if response is None or not visible:
        raise _not_found(response_id)
    if not access.can_manage_canned(actor, response.owner_id):
        raise errors.Forbidden("only admins may change shared canned responses")
    return response


def _require_code_free(
    state: CannedState, code: str, owner_id: str | None, own_id: UUID | None
) -> None:
    holder = state.holder(code, owner_id, but=own_id)
    if holder is None:
        return
    taken = state.responses[holder]
    whose = "a shared response" if taken.owner_id is None else f"{taken.owner_id}'s own response"
    raise errors.CodeTaken(
        f"the code {taken.code!r} is taken by {whose}",
        field="code",
        details={"response_id": str(holder)},
    )
