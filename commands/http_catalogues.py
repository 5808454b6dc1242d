"""HTTP endpoints of the label and canned-response catalogues, and of putting
labels on conversations: requests to commands.

Catalogue commands go through the :class:`~commands.catalogue_handler.CatalogueHandler`
(one stream each); labelling a conversation is a conversation command and
goes through the :class:`~commands.handler.CommandHandler`, after one look at
the catalogue: the label must exist. Every endpoint is for staff: the
``staff_only`` guard refuses anyone else (403) before the body is read.
Errors become JSON in ``parley.http_errors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, cast
from uuid import UUID

import msgspec
from litestar import Request, delete, post, put
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter

from commands import access, errors
from commands.canned import ChangeCannedResponse, CreateCannedResponse, DeleteCannedResponse
from commands.catalogue_handler import CatalogueHandler, CatalogueResult
from commands.handler import CommandResult
from commands.http import NO_NUL, CommandContext, SeenVersion, provide_context
from commands.http_auth import provide_actor
from commands.labels import ChangeLabel, CreateLabel, DeleteLabel
from commands.model import CommandId, LabelConversation, UnlabelConversation
from events.catalogue import CannedCode, Colour, Content, LabelId, LabelName

LabelPath = Annotated[
    str, PathParameter(min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]*\Z")
]
"""A label id in a path: what :data:`~events.catalogue.LabelId` allows."""


def staff_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A Litestar guard: 401 without a valid token, 403 for a client; it runs
    before the body is decoded, so a client is refused whatever it sends."""
    request = cast(Request[Any, Any, Any], connection)
    access.require_catalogue_user(provide_actor(request, connection.app.state.authenticate))


# -- bodies: unknown fields are refused (400), so a typo never passes silently ---------


class NewLabel(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: LabelName
    colour: Colour
    label_id: LabelId | None = None
    """Leave out to derive it from the name (its slug; see commands.labels)."""


class LabelChanges(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: LabelName | None = None
    colour: Colour | None = None


class ConversationLabel(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    label_id: LabelId
    command_id: CommandId | None = None
    seen_version: SeenVersion | None = None


class NewCannedResponse(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: CannedCode
    content: Content
    shared: bool = False
    """Shared with every staff member (admins only); else the caller's own."""


class CannedChanges(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: CannedCode | None = None
    content: Content | None = None


# -- the context -----------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogueContext:
    """Who asks, the catalogues' handler, and the conversation commands' context."""

    commands: CommandContext
    catalogue: CatalogueHandler

    async def handle(
        self,
        command: CreateLabel
        | ChangeLabel
        | DeleteLabel
        | CreateCannedResponse
        | ChangeCannedResponse
        | DeleteCannedResponse,
    ) -> CatalogueResult:
        return await self.catalogue.handle(command, self.commands.actor)


def provide_catalogue_context(request: Request[Any, Any, Any]) -> CatalogueContext:
    """The app keeps the ``catalogue_handler`` in its state, beside ``command_handler``."""
    return CatalogueContext(provide_context(request), request.app.state.catalogue_handler)


# -- labels ----------------------------------------------------------------------------


@post("/labels", status_code=201, guards=[staff_only], summary="Create a label (admins)")
async def create_label(
    data: JSONBody[NewLabel], catalogue: NamedDependency[CatalogueContext]
) -> CatalogueResult:
    return await catalogue.handle(CreateLabel(**msgspec.structs.asdict(data)))


@put("/labels/{label_id:str}", guards=[staff_only], summary="Rename and/or recolour a label")
async def change_label(
    label_id: LabelPath,
    data: JSONBody[LabelChanges],
    catalogue: NamedDependency[CatalogueContext],
) -> CatalogueResult:
    return await catalogue.handle(ChangeLabel(label_id=label_id, **msgspec.structs.asdict(data)))


@delete(
    "/labels/{label_id:str}",
    status_code=200,
    guards=[staff_only],
    summary="Delete a label (it disappears from every conversation's row)",
)
async def delete_label(
    label_id: LabelPath, catalogue: NamedDependency[CatalogueContext]
) -> CatalogueResult:
    return await catalogue.handle(DeleteLabel(label_id=label_id))


@post(
    "/conversations/{conversation_id:uuid}/labels",
    status_code=200,
    guards=[staff_only],
    summary="Put a label of the catalogue on a conversation",
)
async def label_conversation(
    conversation_id: FromPath[UUID],
    data: JSONBody[ConversationLabel],
    catalogue: NamedDependency[CatalogueContext],
) -> CommandResult:
    if not await catalogue.catalogue.label_exists(data.label_id):
        raise errors.LabelNotFound(f"no label {data.label_id!r}", field="label_id")
    command = LabelConversation(conversation_id=conversation_id, **msgspec.structs.asdict(data))
    return await catalogue.commands.handle(command)


@delete(
    "/conversations/{conversation_id:uuid}/labels/{label_id:str}",
    status_code=200,
    guards=[staff_only],
    summary="Take a label off a conversation",
)
async def unlabel_conversation(
    conversation_id: FromPath[UUID],
    label_id: LabelPath,
    catalogue: NamedDependency[CatalogueContext],
    command_id: Annotated[
        str | None, QueryParameter(min_length=1, max_length=200, pattern=NO_NUL)
    ] = None,
    seen_version: Annotated[int | None, QueryParameter(ge=0, le=2**31 - 1)] = None,
) -> CommandResult:
    command = UnlabelConversation(
        conversation_id=conversation_id,
        label_id=label_id,
        command_id=command_id,
        seen_version=seen_version,
    )
    return await catalogue.commands.handle(command)


# -- canned responses ------------------------------------------------------------------


@post(
    "/canned-responses",
    status_code=201,
    guards=[staff_only],
    summary="Create a canned response: the caller's own, or shared (admins)",
)
async def create_canned_response(
    data: JSONBody[NewCannedResponse], catalogue: NamedDependency[CatalogueContext]
) -> CatalogueResult:
    return await catalogue.handle(CreateCannedResponse(**msgspec.structs.asdict(data)))


@put(
    "/canned-responses/{response_id:uuid}",
    guards=[staff_only],
    summary="Change a canned response's code and/or content",
)
async def change_canned_response(
    response_id: FromPath[UUID],
    data: JSONBody[CannedChanges],
    catalogue: NamedDependency[CatalogueContext],
) -> CatalogueResult:
    command = ChangeCannedResponse(response_id=response_id, **msgspec.structs.asdict(data))
    return await catalogue.handle(command)


@delete(
    "/canned-responses/{response_id:uuid}",
    status_code=200,
    guards=[staff_only],
    summary="Delete a canned response",
)
async def delete_canned_response(
    response_id: FromPath[UUID], catalogue: NamedDependency[CatalogueContext]
) -> CatalogueResult:
    return await catalogue.handle(DeleteCannedResponse(response_id=response_id))


CATALOGUE_HANDLERS = [
    create_label,
    change_label,
    delete_label,
    label_conversation,
    unlabel_conversation,
    create_canned_response,
    change_canned_response,
    delete_canned_response,
]
"""Mounted under /api by the app, which provides ``catalogue`` (see
``provide_catalogue_context``)."""
