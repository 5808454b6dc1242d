"""HTTP command endpoints (the seed's paths): translate requests into commands.

Every handler is three lines: build the command, run it through the
:class:`~commands.handler.CommandHandler`, return its result. Errors become
JSON in one place (``commands.http_errors``).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID, uuid4

import msgspec
from litestar import Request, delete, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from commands.handler import CommandHandler, CommandResult
from commands.model import (
    Actor,
    ChangeStatus,
    CommandId,
    DeleteConversation,
    MarkRead,
    SendMessage,
    StartConversation,
    UpdateConversation,
)
from events.catalogue import Priority, Reason, Status, Summary

SeqNumber = Annotated[int, msgspec.Meta(ge=1)]


# -- bodies of the endpoints whose conversation id is in the path ---------------------


class ConversationChanges(msgspec.Struct, frozen=True, kw_only=True):
    priority: Priority | None = None
    summary: Summary | None = None
    command_id: CommandId | None = None


class StatusChange(msgspec.Struct, frozen=True, kw_only=True):
    status: Status
    reason: Reason | None = None
    command_id: CommandId | None = None


class ReadUpTo(msgspec.Struct, frozen=True, kw_only=True):
    up_to_seq: SeqNumber | None = None
    """Mark read up to this message seq; leave out to mark everything read."""
    command_id: CommandId | None = None


class MessagesRead(msgspec.Struct, frozen=True, kw_only=True):
    conversation_id: UUID
    up_to_seq: SeqNumber | None = None
    command_id: CommandId | None = None


# -- endpoints -------------------------------------------------------------------------


def provide_correlation_id(request: Request[Any, Any, Any]) -> UUID:
    """The caller's X-Correlation-ID when it is a UUID, else a new one."""
    try:
        return UUID(request.headers.get("x-correlation-id", ""))
    except ValueError:
        return uuid4()


@post("/conversations", status_code=201, summary="Start a conversation")
async def start_conversation(
    data: JSONBody[StartConversation],
    actor: NamedDependency[Actor],
    handler: NamedDependency[CommandHandler],
    correlation_id: NamedDependency[UUID],
) -> CommandResult:
    return await handler.handle(data, actor, correlation_id=correlation_id)


@put("/conversations/{conversation_id:uuid}", summary="Change priority and/or summary")
async def update_conversation(
    conversation_id: FromPath[UUID],
    data: JSONBody[ConversationChanges],
    actor: NamedDependency[Actor],
    handler: NamedDependency[CommandHandler],
    correlation_id: NamedDependency[UUID],
) -> CommandResult:
    command = UpdateConversation(conversation_id=conversation_id, **msgspec.structs.asdict(data))
    return await handler.handle(command, actor, correlation_id=correlation_id)


@patch("/conversations/{conversation_id:uuid}/status", summary="Change the status")
async def change_status(
    conversation_id: FromPath[UUID],
    data: JSONBody[StatusChange],
    actor: NamedDependency[Actor],
    handler: NamedDependency[CommandHandler],
    correlation_id: NamedDependency[UUID],
) -> CommandResult:
    command = ChangeStatus(conversation_id=conversation_id, **msgspec.structs.asdict(data))
    return await handler.handle(command, actor, correlation_id=correlation_id)


@delete(
    "/conversations/{conversation_id:uuid}",
    status_code=200,
    summary="Delete a conversation (soft: hidden from lists, history kept)",
)
async def delete_conversation(
    conversation_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    handler: NamedDependency[CommandHandler],
    correlation_id: NamedDependency[UUID],
    command_id: Annotated[str | None, QueryParameter(max_length=200)] = None,
) -> CommandResult:
    command = DeleteConversation(conversation_id=conversation_id, command_id=command_id)
    return await handler.handle(command, actor, correlation_id=correlation_id)


@post(
    "/conversations/{conversation_id:uuid}/mark-read",
    status_code=200,
    summary="Mark the conversation read for the caller's side",
)
async def mark_conversation_read(
    conversation_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    handler: NamedDependency[CommandHandler],
    correlation_id: NamedDependency[UUID],
    data: JSONBody[ReadUpTo | None] = None,
) -> CommandResult:
    body = data or ReadUpTo()
    command = MarkRead(conversation_id=conversation_id, **msgspec.structs.asdict(body))
    return await handler.handle(command, actor, correlation_id=correlation_id)


@post("/messages", status_code=201, summary="Send a message")
async def send_message(
    data: JSONBody[SendMessage],
    actor: NamedDependency[Actor],
    handler: NamedDependency[CommandHandler],
    correlation_id: NamedDependency[UUID],
) -> CommandResult:
    return await handler.handle(data, actor, correlation_id=correlation_id)


@patch("/messages/mark-read", summary="Mark messages read up to a seq")
async def mark_messages_read(
    data: JSONBody[MessagesRead],
    actor: NamedDependency[Actor],
    handler: NamedDependency[CommandHandler],
    correlation_id: NamedDependency[UUID],
) -> CommandResult:
    command = MarkRead(**msgspec.structs.asdict(data))
    return await handler.handle(command, actor, correlation_id=correlation_id)


COMMAND_HANDLERS = [
    start_conversation,
    update_conversation,
    change_status,
    delete_conversation,
    mark_conversation_read,
    send_message,
    mark_messages_read,
]
"""The command endpoints, mounted under /api by the app, which provides
``handler`` (a CommandHandler), ``actor`` (the caller) and ``correlation_id``
(see ``provide_correlation_id``)."""
