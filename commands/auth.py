"""Access tokens: HS256 JWTs that say who the caller is.

Claims: ``sub`` (the actor id), ``role`` (``admin``, ``agent`` or ``client``),
``client_id`` (required for — and only allowed on — a client), ``name``
(optional: a staff member's display name at first sign-in), ``iat`` and
``exp`` (required). The algorithm is pinned to HS256: ``alg: none`` and every
other algorithm are refused. Time is an argument, like everywhere in the
domain: callers pass ``now`` (``decode_token`` defaults to the real clock).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import jwt
import msgspec
from jwt.exceptions import InvalidSubjectError

from commands.model import Actor, Role

ALGORITHM = "HS256"

NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class AuthErrorReason(StrEnum):
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    WRONG_ALGORITHM = "wrong_algorithm"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    INVALID_CLAIMS = "invalid_claims"


class AuthError(Exception):
    """A token was refused; ``reason`` says why, ``message`` in words."""

    def __init__(self, reason: AuthErrorReason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The authenticated caller a valid token names."""

    sub: str
    role: Role
    client_id: str | None = None
    name: str | None = None
    """The ``name`` claim: how the caller is shown (staff: their display name)."""
    expires_at: float | None = None
    """The token's ``exp`` (seconds since the epoch)."""

    def actor(self) -> Actor:
        """The caller as the actor of a command."""
        return Actor(id=self.sub, role=self.role, client_id=self.client_id, name=self.name)


class _Claims(msgspec.Struct, frozen=True, kw_only=True):
    sub: NonEmpty
    role: Role
    exp: int | float
    client_id: NonEmpty | None = None
    name: NonEmpty | None = None
    nbf: int | float | None = None


def _check_role(role: Role, client_id: str | None) -> None:
    if role is Role.CLIENT and client_id is None:
        raise ValueError("a client token needs a client_id")
    if role is not Role.CLIENT and client_id is not None:
        raise ValueError(f"client_id is only for client tokens, not {role.value}")


def issue_token(
    secret: str,
    *,
    sub: str,
    role: Role | str,
    client_id: str | None = None,
    ttl: timedelta,
    now: datetime,
    name: str | None = None,
) -> str:
    """A signed token for ``sub`` valid from ``now`` for ``ttl``."""
    if not secret:
        raise ValueError("the JWT secret must not be empty")
    if not sub:
        raise ValueError("sub must not be empty")
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    role = Role(role)
    _check_role(role, client_id)
    claims: dict[str, Any] = {
        "sub": sub,
        "role": role.value,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if client_id is not None:
        claims["client_id"] = client_id
    if name is not None:
        claims["name"] = name
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(
    secret: str,
    token: str,
    *,
    now: datetime | None = None,
    leeway: timedelta = timedelta(0),
) -> Principal:
    """The principal a token names; raises :class:`AuthError` for anything
    but a well-formed, HS256-signed, unexpired token with valid claims."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            # Time claims are checked below against ``now``, not PyJWT's clock.
            options={
                "require": ["exp", "sub", "role"],
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidAlgorithmError as error:
        raise AuthError(AuthErrorReason.WRONG_ALGORITHM, f"only {ALGORITHM} is accepted") from error
    except jwt.InvalidSignatureError as error:
        raise AuthError(AuthErrorReason.BAD_SIGNATURE, "signature verification failed") from error
    except (jwt.MissingRequiredClaimError, InvalidSubjectError) as error:
        raise AuthError(AuthErrorReason.INVALID_CLAIMS, str(error)) from error
    except jwt.InvalidTokenError as error:
        raise AuthError(AuthErrorReason.MALFORMED, str(error) or "not a JWT") from error

    try:
        claims = msgspec.convert(payload, _Claims)
        _check_role(claims.role, claims.client_id)
    except (msgspec.ValidationError, ValueError) as error:
        raise AuthError(AuthErrorReason.INVALID_CLAIMS, str(error)) from error

    at = (now or datetime.now(UTC)).timestamp()
    slack = leeway.total_seconds()
    if at >= claims.exp + slack:
        raise AuthError(AuthErrorReason.EXPIRED, "the token has expired")
    if claims.nbf is not None and at < claims.nbf - slack:
        raise AuthError(AuthErrorReason.NOT_YET_VALID, "the token is not valid yet")
    return Principal(
        sub=claims.sub,
        role=claims.role,
        client_id=claims.client_id,
        name=claims.name,
        expires_at=claims.exp,
    )


class VerifiedTokens:
    """:func:`decode_token`, remembered: a token verified once is kept (a
    bounded LRU); its signature and claims cannot change, so later uses only
    check that it has not expired since. HTTP requests and WebSocket
    handshakes (a reconnect storm) skip the HMAC and the claims' checks."""

    def __init__(self, secret: str, size: int = 10_000) -> None:
        self._secret = secret
        self._size = size
        self._verified: OrderedDict[str, Principal] = OrderedDict()

    def principal(self, token: str, now: float | None = None) -> Principal:
        """The principal ``token`` names; raises :class:`AuthError` as
        :func:`decode_token` does."""
        found = self._verified.get(token)
        if found is None:
            found = decode_token(self._secret, token)
            self._verified[token] = found
            if len(self._verified) > self._size:
                self._verified.popitem(last=False)
        elif found.expires_at is not None and found.expires_at <= (now or time.time()):
            del self._verified[token]
            raise AuthError(AuthErrorReason.EXPIRED, "the token has expired")
        else:
            self._verified.move_to_end(token)
        return found
