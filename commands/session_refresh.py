"""Refreshing an access token: a still-valid token in, a new one out.

The new token names the same caller (``sub``, ``role``, ``client_id``,
``name``), is issued ``now`` and lives as long as the presented one did
(``exp - iat``). A refresh never revives anything: the presented token must
pass :func:`~commands.auth.decode_token` (signature, algorithm, claims, not
expired) first.

Sessions end all the same. Each token carries ``auth_time``, when its chain
of refreshes began (a first token has none: its ``iat`` is that moment); a
refresh never gives an ``exp`` past ``auth_time + max_session`` (or the
presented token's own ``exp``, when that is later). Once a session has
reached its end, a refresh is refused: the caller signs in again. So a token leaked
once is good for one session, not forever.

Pure: time comes in as ``now``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import msgspec

from commands.auth import ALGORITHM, AuthError, AuthErrorReason, decode_token

MAX_SESSION = timedelta(days=7)
"""How long a chain of refreshes may run after its first sign-in."""
MIN_TTL = timedelta(minutes=1)
"""The shortest lifetime a refreshed token gets (a token issued for less)."""


class RefreshedToken(msgspec.Struct, frozen=True, kw_only=True):
    token: str
    expires_at: datetime
    """The new token's ``exp``."""
    session_ends_at: datetime
    """No refresh gives an ``exp`` after this: then the caller signs in again."""


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else None


def refresh_token(
    secret: str, token: str, *, now: datetime, max_session: timedelta = MAX_SESSION
) -> RefreshedToken:
    """A new token for the caller ``token`` names; :class:`AuthError` when
    ``token`` is not valid now, carries no ``iat``, or its session is over."""
    principal = decode_token(secret, token, now=now)
    # Verified just above: reading the remaining claims without a second check is safe.
    claims = jwt.decode(token, options={"verify_signature": False})
    issued = _number(claims.get("iat"))
    expires = principal.expires_at
    if issued is None or expires is None or issued >= expires:
        raise AuthError(
            AuthErrorReason.INVALID_CLAIMS, "the token has no usable iat: sign in again"
        )
    started = _number(claims.get("auth_time")) or issued
    lifetime = max(expires - issued, MIN_TTL.total_seconds())
    session_end = max(started + max_session.total_seconds(), expires)
    if session_end <= expires:  # nothing left to extend the token by
        raise AuthError(AuthErrorReason.EXPIRED, "the session is over: sign in again")
    at = now.timestamp()
    new_exp = int(min(at + lifetime, session_end))
    fresh: dict[str, Any] = {
        "sub": principal.sub,
        "role": principal.role.value,
        "iat": int(at),
        "exp": new_exp,
        "auth_time": int(started),
    }
    if principal.client_id is not None:
        fresh["client_id"] = principal.client_id
    if principal.name is not None:
        fresh["name"] = principal.name
    return RefreshedToken(
        token=jwt.encode(fresh, secret, algorithm=ALGORITHM),
        expires_at=datetime.fromtimestamp(new_exp, UTC),
        session_ends_at=datetime.fromtimestamp(session_end, UTC),
    )
