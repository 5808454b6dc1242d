"""HTTP command endpoints (the seed's paths): translate requests into commands.

Every handler is three lines: build the command, run it through the
:class:`~commands.handler.CommandHandler`, return its result. Errors become
JSON in one place (``parley.http_errors``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID, uuid4

import msgspec
from litestar import Request, delete, patch, post, put
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.params import FromPath, JSONBody, QueryParameter

from commands.handler import CommandHandler, CommandResult
from commands.http_auth import provide_actor
from commands.model import (
    Actor,
    AnyCommand,
    ChangeStatus,
    CommandId,
    DeleteConversation,
    MarkRead,
    SendMessage,
    StartConversation,
    UpdateConversation,
)
from events.catalogue import Priority, Reason, Status, Summary

MAX_SEQ = 2**31 - 1
"""Message seqs (and stream positions) are PostgreSQL ``integer``s."""
SeqNumber = Annotated[int, msgspec.Meta(ge=1, le=MAX_SEQ)]
SeenVersion = Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)]
NO_NUL = r"^[^\x00]*\Z"
"""The pattern of every free-text query parameter: PostgreSQL refuses NUL."""

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects a request body may have (bodies need 3)."""
_JSON_SPECIAL = re.compile(rb'[\[\]{}"\\]')


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body`` nests arrays/objects deeper than ``limit``; brackets in
    strings do not count. Linear: two counts in C, then (only past ``limit``
    brackets) one walk over the quotes, backslashes and brackets."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    in_string = False
    escaped_at = -1  # the byte after a backslash in a string is not special
    for special in _JSON_SPECIAL.finditer(body):
        at = special.start()
        char = body[at : at + 1]
        if at == escaped_at:
            continue
        if in_string:
            if char == b"\\":
                escaped_at = at + 1
            elif char == b'"':
                in_string = False
        elif char == b'"':
            in_string = True
        elif char in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif char in (b"]", b"}"):
            depth -= 1
    return False


class BoundedJSONRequest(Request[Any, Any, Any]):
    """Refuses (400 ``malformed_json``) a body nested deeper than
    :data:`MAX_JSON_DEPTH` before decoding it: msgspec would otherwise recurse
    until Python's recursion limit and fail the request with a 500."""

    async def json(self) -> Any:
        if json_depth_exceeds(await self.body()):
            raise ClientException(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
        return await super().json()


# -- bodies of the endpoints whose conversation id is in the path ---------------------


class ConversationChanges(msgspec.Struct, frozen=True, kw_only=True):
    priority: Priority | None = None
    summary: Summary | None = None
    command_id: CommandId | None = None
    seen_version: SeenVersion | None = None


class StatusChange(msgspec.Struct, frozen=True, kw_only=True):
    status: Status
    reason: Reason | None = None
    command_id: CommandId | None = None
    seen_version: SeenVersion | None = None


class ReadUpTo(msgspec.Struct, frozen=True, kw_only=True):
    up_to_seq: SeqNumber | None = None
    """Mark read up to this message seq; leave out to mark everything read."""
    command_id: CommandId | None = None
    seen_version: SeenVersion | None = None


class MessagesRead(msgspec.Struct, frozen=True, kw_only=True):
    conversation_id: UUID
    up_to_seq: SeqNumber | None = None
    command_id: CommandId | None = None
    seen_version: SeenVersion | None = None


# -- endpoints -------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandContext:
    """Who asks, through which handler, under which correlation id."""

    actor: Actor
    handler: CommandHandler
    correlation_id: UUID

    async def handle(self, command: AnyCommand) -> CommandResult:
        return await self.handler.handle(command, self.actor, correlation_id=self.correlation_id)


def provide_context(request: Request[Any, Any, Any]) -> CommandContext:
    """One provider for the whole context (not three: Litestar resolves several
    dependencies of one level in a task group, a cost on every command).
    The app keeps ``authenticate`` and ``command_handler`` in its state."""
    state = request.app.state
    actor = provide_actor(request, state.authenticate)
    try:
        correlation_id = UUID(request.headers.get("x-correlation-id", ""))
    except ValueError:
        correlation_id = uuid4()
    return CommandContext(actor, state.command_handler, correlation_id)


@post("/conversations", status_code=201, summary="Start a conversation")
async def start_conversation(
    data: JSONBody[StartConversation],
    ctx: NamedDependency[CommandContext],
) -> CommandResult:
    return await ctx.handle(data)


@put("/conversations/{conversation_id:uuid}", summary="Change priority and/or summary")
async def update_conversation(
    conversation_id: FromPath[UUID],
    data: JSONBody[ConversationChanges],
    ctx: NamedDependency[CommandContext],
) -> CommandResult:
    command = UpdateConversation(conversation_id=conversation_id, **msgspec.structs.asdict(data))
    return await ctx.handle(command)


@patch("/conversations/{conversation_id:uuid}/status", summary="Change the status")
async def change_status(
    conversation_id: FromPath[UUID],
    data: JSONBody[StatusChange],
    ctx: NamedDependency[CommandContext],
) -> CommandResult:
    command = ChangeStatus(conversation_id=conversation_id, **msgspec.structs.asdict(data))
    return await ctx.handle(command)


@delete(
    "/conversations/{conversation_id:uuid}",
    status_code=200,
    summary="Delete a conversation (soft: hidden from lists, history kept)",
)
async def delete_conversation(
    conversation_id: FromPath[UUID],
    ctx: NamedDependency[CommandContext],
    command_id: Annotated[
        str | None, QueryParameter(min_length=1, max_length=200, pattern=NO_NUL)
    ] = None,
) -> CommandResult:
    command = DeleteConversation(conversation_id=conversation_id, command_id=command_id)
    return await ctx.handle(command)


@post(
    "/conversations/{conversation_id:uuid}/mark-read",
    status_code=200,
    summary="Mark the conversation read for the caller's side",
)
async def mark_conversation_read(
    conversation_id: FromPath[UUID],
    ctx: NamedDependency[CommandContext],
    data: JSONBody[ReadUpTo | None] = None,
) -> CommandResult:
    body = data or ReadUpTo()
    command = MarkRead(conversation_id=conversation_id, **msgspec.structs.asdict(body))
    return await ctx.handle(command)


@post("/messages", status_code=201, summary="Send a message")
async def send_message(
    data: JSONBody[SendMessage],
    ctx: NamedDependency[CommandContext],
) -> CommandResult:
    return await ctx.handle(data)


@patch("/messages/mark-read", summary="Mark messages read up to a seq")
async def mark_messages_read(
    data: JSONBody[MessagesRead],
    ctx: NamedDependency[CommandContext],
) -> CommandResult:
    command = MarkRead(**msgspec.structs.asdict(data))
    return await ctx.handle(command)


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
``ctx`` (see ``provide_context``)."""
