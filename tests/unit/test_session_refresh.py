"""Refreshing a token (``commands.session_refresh``): the same caller, as
long-lived as before, never past the session's end, never from an invalid token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from commands.auth import AuthError, AuthErrorReason, decode_token, issue_token
from commands.session_refresh import MAX_SESSION, refresh_token

SECRET = "unit-test-secret-that-is-32-bytes-or-more"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def test_the_same_caller_for_as_long_again_from_now() -> None:
    # A client's token of 1 h with 5 minutes left.
    old = issue_token(
        SECRET, sub="carol", role="client", client_id="c-1", name="Carol",
        ttl=timedelta(hours=1), now=NOW - timedelta(minutes=55),
    )  # fmt: skip
    fresh = refresh_token(SECRET, old, now=NOW)
    principal = decode_token(SECRET, fresh.token, now=NOW)
    assert (principal.sub, principal.role, principal.client_id, principal.name) == (
        "carol", "client", "c-1", "Carol",
    )  # fmt: skip
    new = claims(fresh.token)
    assert (new["iat"], new["exp"]) == (T, T + 3600)
    assert new["auth_time"] == T - 55 * 60  # the chain began with the first token
    assert fresh.expires_at == NOW + timedelta(hours=1)
    assert fresh.session_ends_at == NOW - timedelta(minutes=55) + MAX_SESSION
    # A refresh of the refresh keeps the chain's start.
    again = refresh_token(SECRET, fresh.token, now=NOW + timedelta(minutes=50))
    assert claims(again.token)["auth_time"] == new["auth_time"]


def admin(ttl: timedelta, now: datetime, secret: str = SECRET) -> str:
    return issue_token(secret, sub="a", role="admin", ttl=ttl, now=now)


@pytest.mark.parametrize(
    "token",
    [
        admin(timedelta(minutes=5), NOW - timedelta(hours=1)),
        admin(timedelta(hours=1), NOW, secret="another-secret-that-is-32-bytes-long!"),
        jwt.encode({"sub": "a", "role": "admin", "exp": T + 60}, SECRET),  # no iat
        "not-a-token",
    ],
    ids=["expired", "another secret", "no iat", "garbage"],
)
def test_nothing_is_revived_or_forged(token: str) -> None:
    with pytest.raises(AuthError):
        refresh_token(SECRET, token, now=NOW)


def test_a_session_ends_seven_days_after_it_began() -> None:
    # A token of 1 h with 10 minutes left, in a session with 20 minutes left.
    began = T - int(MAX_SESSION.total_seconds()) + 1200
    body = {"sub": "a", "role": "admin", "iat": T - 3000, "exp": T + 600, "auth_time": began}
    fresh = refresh_token(SECRET, jwt.encode(body, SECRET, algorithm="HS256"), now=NOW)
    assert claims(fresh.token)["exp"] == T + 1200  # not an hour: the session's end
    # A session that ends with the token: refused, though the token is still valid.
    body |= {"auth_time": began - 600}
    with pytest.raises(AuthError) as refused:
        refresh_token(SECRET, jwt.encode(body, SECRET, algorithm="HS256"), now=NOW)
    assert refused.value.reason is AuthErrorReason.EXPIRED


def test_a_long_lived_token_is_never_shortened() -> None:
    # A 30-day token from `parley token --ttl 30d`: its session is its own life.
    old = admin(timedelta(days=30), NOW)
    with pytest.raises(AuthError):
        refresh_token(SECRET, old, now=NOW + timedelta(days=1))
    # A token issued for seconds is refreshed for a minute at least.
    short = admin(timedelta(seconds=10), NOW)
    fresh = refresh_token(SECRET, short, now=NOW + timedelta(seconds=5))
    assert claims(fresh.token)["exp"] == T + 5 + 60
