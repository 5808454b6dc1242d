"""Access tokens: what ``decode_token`` accepts, and each way it refuses."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from commands.auth import (
    AuthError,
    AuthErrorReason,
    Principal,
    VerifiedTokens,
    decode_token,
    issue_token,
)
from commands.model import Actor, Role

SECRET = "unit-test-secret-that-is-32-bytes-or-more"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def signed(claims: dict[str, Any], secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def unsigned(claims: dict[str, Any]) -> str:
    """A token with ``alg: none`` and no signature, as an attacker would forge it."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"sub": "alice", "role": "admin", "exp": int((NOW + HOUR).timestamp())}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def refusal(token: str, now: datetime = NOW) -> AuthErrorReason:
    with pytest.raises(AuthError) as caught:
        decode_token(SECRET, token, now=now)
    return caught.value.reason


# -- accepted ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "client_id"), [("admin", None), ("agent", None), ("client", "c-1")]
)
def test_an_issued_token_decodes_to_its_principal(role: str, client_id: str | None) -> None:
    token = issue_token(SECRET, sub="alice", role=role, client_id=client_id, ttl=HOUR, now=NOW)

    principal = decode_token(SECRET, token, now=NOW + timedelta(minutes=59))

    expires_at = int((NOW + HOUR).timestamp())
    assert principal == Principal(
        sub="alice", role=Role(role), client_id=client_id, expires_at=expires_at
    )
    assert principal.actor() == Actor(id="alice", role=Role(role), client_id=client_id)


def test_the_algorithm_in_the_header_is_hs256() -> None:
    token = issue_token(SECRET, sub="alice", role=Role.ADMIN, ttl=HOUR, now=NOW)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_leeway_tolerates_a_little_clock_skew() -> None:
    token = issue_token(SECRET, sub="alice", role="admin", ttl=HOUR, now=NOW)
    later = NOW + HOUR + timedelta(seconds=5)
    assert decode_token(SECRET, token, now=later, leeway=timedelta(seconds=10)).sub == "alice"


# -- refused ---------------------------------------------------------------------------


def test_a_bad_signature_is_refused() -> None:
    token = signed(claims(), secret="another-secret-that-is-also-32-bytes-long")
    assert refusal(token) is AuthErrorReason.BAD_SIGNATURE


def test_alg_none_is_refused() -> None:
    assert refusal(unsigned(claims())) is AuthErrorReason.WRONG_ALGORITHM


def test_another_hmac_algorithm_with_the_right_key_is_refused() -> None:
    token = signed(claims(), secret=SECRET * 2, algorithm="HS512")
    with pytest.raises(AuthError) as caught:
        decode_token(SECRET * 2, token, now=NOW)
    assert caught.value.reason is AuthErrorReason.WRONG_ALGORITHM


def test_an_expired_token_is_refused() -> None:
    token = issue_token(SECRET, sub="alice", role="admin", ttl=HOUR, now=NOW)
    assert refusal(token, now=NOW + HOUR) is AuthErrorReason.EXPIRED


def test_a_token_expired_by_the_real_clock_is_refused() -> None:
    token = issue_token(SECRET, sub="alice", role="admin", ttl=HOUR, now=NOW - 48 * HOUR)
    with pytest.raises(AuthError) as caught:
        decode_token(SECRET, token)  # no ``now``: the real clock
    assert caught.value.reason is AuthErrorReason.EXPIRED


def test_a_token_not_valid_yet_is_refused() -> None:
    token = signed(claims(nbf=int((NOW + HOUR / 2).timestamp())))
    assert refusal(token) is AuthErrorReason.NOT_YET_VALID


@pytest.mark.parametrize(
    "bad",
    [
        claims(exp=None),  # missing exp
        claims(exp="tomorrow"),
        claims(sub=None),
        claims(sub=""),
        claims(role=None),
        claims(role="root"),  # unknown role
        claims(role="client"),  # client without client_id
        claims(role="admin", client_id="c-1"),  # client_id on staff
    ],
    ids=[
        "missing exp",
        "exp not a number",
        "missing sub",
        "empty sub",
        "missing role",
        "unknown role",
        "client without client_id",
        "staff with client_id",
    ],
)
def test_invalid_claims_are_refused(bad: dict[str, Any]) -> None:
    assert refusal(signed(bad)) is AuthErrorReason.INVALID_CLAIMS


@pytest.mark.parametrize("garbage", ["", "not-a-jwt", "a.b.c", "Bearer x.y.z"])
def test_garbage_is_malformed(garbage: str) -> None:
    assert refusal(garbage) is AuthErrorReason.MALFORMED


def test_the_error_says_why_in_words() -> None:
    token = issue_token(SECRET, sub="alice", role="admin", ttl=HOUR, now=NOW)
    with pytest.raises(AuthError) as caught:
        decode_token(SECRET, token, now=NOW + 2 * HOUR)
    assert caught.value.message == "the token has expired"
    assert str(caught.value) == "expired: the token has expired"


# -- issuing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"role": "client"},  # client without client_id
        {"role": "admin", "client_id": "c-1"},
        {"role": "root"},
        {"role": "admin", "ttl": timedelta(0)},
        {"role": "admin", "now": datetime(2026, 1, 1)},  # naive time
        {"role": "admin", "sub": ""},
    ],
)
def test_issue_token_refuses_what_decode_would_refuse(kwargs: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"sub": "alice", "ttl": HOUR, "now": NOW, **kwargs}
    with pytest.raises(ValueError):
        issue_token(SECRET, **arguments)


# -- remembered ----------------------------------------------------------------------


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    tokens = VerifiedTokens(SECRET)
    token = issue_token(SECRET, sub="alice", role="admin", ttl=HOUR, now=datetime.now(UTC))
    principal = tokens.principal(token)
    assert tokens.principal(token) is principal  # verified once
    assert principal.expires_at is not None
    with pytest.raises(AuthError) as caught:
        tokens.principal(token, now=principal.expires_at)
    assert caught.value.reason is AuthErrorReason.EXPIRED


def test_a_refused_token_is_not_remembered() -> None:
    tokens = VerifiedTokens(SECRET, size=2)
    forged = signed(claims(exp=int((datetime.now(UTC) + HOUR).timestamp())), secret="x" * 32)
    for _ in range(2):
        with pytest.raises(AuthError):
            tokens.principal(forged)
    # The cache is bounded: the oldest of three goes, and is verified again.
    now = datetime.now(UTC)
    valid = [issue_token(SECRET, sub=f"u{n}", role="admin", ttl=HOUR, now=now) for n in range(3)]
    assert [tokens.principal(t).sub for t in valid] == ["u0", "u1", "u2"]
    assert tokens.principal(valid[0]).sub == "u0"
