"""``POST /api/session/refresh``: a still-valid bearer token for a new one
(:mod:`commands.session_refresh`); anything else is 401 ``unauthenticated``
(errors become JSON in ``parley.http_errors``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request, post
from litestar.exceptions import NotAuthorizedException
from litestar.types import ControllerRouterHandler

from commands.auth import AuthError
from commands.session_refresh import RefreshedToken, refresh_token


def session_routes(jwt_secret: str) -> list[ControllerRouterHandler]:
    """The refresh endpoint, signing with ``jwt_secret`` (the app's)."""

    @post(
        "/api/session/refresh",
        status_code=200,
        summary="A fresh token for a still-valid one",
        sync_to_thread=False,
    )
    def refresh_session(request: Request[Any, Any, Any]) -> RefreshedToken:
        """The caller's token again (same ``sub``, ``role``, ``client_id``,
        ``name``) with a new expiry, as long as its session lasts."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("a bearer token is required")
        try:
            return refresh_token(jwt_secret, token.strip(), now=datetime.now(UTC))
        except AuthError as error:
            raise NotAuthorizedException(f"invalid token: {error.message}") from error

    return [refresh_session]
