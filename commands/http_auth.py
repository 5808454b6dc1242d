"""The authenticated caller of an HTTP request, as a Litestar dependency."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException

from commands.auth import AuthError, VerifiedTokens
from commands.model import Actor

Authenticate = Callable[[str], Actor]
"""Turns a bearer token into an Actor, or raises ``NotAuthorizedException``."""


def jwt_authenticator(secret: str, *, cache_size: int = 10_000) -> Authenticate:
    """Checks HS256 tokens signed with ``secret`` (see ``commands.auth``),
    each verified once (``VerifiedTokens``)."""
    tokens = VerifiedTokens(secret, cache_size)

    def authenticate(token: str) -> Actor:
        try:
            return tokens.principal(token).actor()
        except AuthError as error:
            raise NotAuthorizedException(f"invalid token: {error.message}") from error

    return authenticate


def provide_actor(
    request: Request[Any, Any, Any], authenticate: NamedDependency[Authenticate]
) -> Actor:
    """``Authorization: Bearer <token>`` -> the Actor; 401 otherwise."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException("a bearer token is required")
    return authenticate(token.strip())
