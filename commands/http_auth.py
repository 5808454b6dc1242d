"""The authenticated caller of an HTTP request, as a Litestar dependency."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException

from commands.auth import AuthError, Principal, decode_token
from commands.model import Actor

Authenticate = Callable[[str], Actor]
"""Turns a bearer token into an Actor, or raises ``NotAuthorizedException``."""


def jwt_authenticator(secret: str, *, cache_size: int = 10_000) -> Authenticate:
    """Checks HS256 tokens signed with ``secret`` (see ``commands.auth``).

    A token verified once is remembered (a bounded cache): its signature cannot
    change, so later requests only check that it has not expired since.
    """
    verified: OrderedDict[str, Principal] = OrderedDict()

    def authenticate(token: str) -> Actor:
        principal = verified.get(token)
        if principal is None:
            try:
                principal = decode_token(secret, token)
            except AuthError as error:
                raise NotAuthorizedException(f"invalid token: {error.message}") from error
            verified[token] = principal
            if len(verified) > cache_size:
                verified.popitem(last=False)
        elif principal.expires_at is not None and principal.expires_at <= time.time():
            del verified[token]
            raise NotAuthorizedException("invalid token: the token has expired")
        return principal.actor()

    return authenticate


def provide_actor(
    request: Request[Any, Any, Any], authenticate: NamedDependency[Authenticate]
) -> Actor:
    """``Authorization: Bearer <token>`` -> the Actor; 401 otherwise."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException("a bearer token is required")
    return authenticate(token.strip())
