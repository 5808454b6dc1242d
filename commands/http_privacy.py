"""HTTP endpoints of privacy (admins only; docs/PRIVACY.md):

- ``POST /api/privacy/erasures`` erases a client (``{"client_id": …}``);
- ``GET /api/privacy/clients/{client_id}`` exports what is stored about one.

Errors become JSON in ``parley.http_errors``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from commands.http import CommandContext
from commands.privacy import Erasure, PrivacyService
from commands.privacy_export import ClientExport, export_client
from events.fields import NonEmptyId


class ErasureRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    client_id: NonEmptyId


@post("/privacy/erasures", status_code=200, summary="Erase a client's personal data (admins)")
async def erase_client(
    data: JSONBody[ErasureRequest],
    ctx: NamedDependency[CommandContext],
    request: Request[Any, Any, Any],
) -> Erasure:
    service: PrivacyService = request.app.state.privacy_service
    return await service.erase(data.client_id, ctx.actor)


@get("/privacy/clients/{client_id:str}", summary="Export what is stored about a client (admins)")
async def export(
    client_id: FromPath[str],
    ctx: NamedDependency[CommandContext],
    request: Request[Any, Any, Any],
) -> ClientExport:
    service: PrivacyService = request.app.state.privacy_service
    return await export_client(service.store, service.pool, client_id, ctx.actor)


PRIVACY_HANDLERS = [erase_client, export]
"""Mounted under /api by the app, which provides ``ctx`` and keeps the
``privacy_service`` in its state."""
