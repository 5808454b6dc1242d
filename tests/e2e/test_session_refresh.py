"""``POST /api/session/refresh`` over real HTTP: a still-valid token gets a
new one for the same caller, which works; expired, forged, foreign and
session-expired tokens are refused with the usual 401 body."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt

from commands.auth import decode_token, issue_token
from tests.e2e.conftest import SECRET, Tokens, bearer

REFRESH = "/api/session/refresh"


def claims_of(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


async def refreshed(api: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await api.post(REFRESH, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_refreshed_token_names_the_same_caller_and_lasts_longer(
    api: httpx.AsyncClient,
) -> None:
    # An agent with a display name, whose token has 10 of its 30 minutes left.
    now = datetime.now(UTC)
    old = issue_token(
        SECRET, sub="bea", role="agent", name="Bea Ruiz", ttl=timedelta(minutes=30),
        now=now - timedelta(minutes=20),
    )  # fmt: skip
    body = await refreshed(api, bearer(old))
    new = body["token"]
    assert new != old
    principal = decode_token(SECRET, new)
    assert (principal.sub, principal.role, principal.client_id, principal.name) == (
        "bea", "agent", None, "Bea Ruiz",
    )  # fmt: skip
    before, after = claims_of(old), claims_of(new)
    # As long-lived as the old one was (30 min), from now; the session began at the old iat.
    assert after["exp"] - after["iat"] == 30 * 60
    assert after["exp"] > before["exp"]
    assert after["auth_time"] == before["iat"]
    assert datetime.fromisoformat(body["expires_at"]).timestamp() == after["exp"]
    # The new token works where the old one did.
    listed = await api.get("/api/conversations", headers=bearer(new))
    assert listed.status_code == 200, listed.text


async def test_a_client_stays_the_same_client(api: httpx.AsyncClient, tokens: Tokens) -> None:
    body = {"client": {"id": "c-1", "name": "Carol"}, "channel": "web"}
    theirs = {"client": {"id": "c-2", "name": "Mallory"}, "channel": "web"}
    mine = await api.post("/api/conversations", json=body, headers=tokens.admin)
    other = await api.post("/api/conversations", json=theirs, headers=tokens.admin)
    assert mine.status_code == other.status_code == 201
    token = (await refreshed(api, tokens.client))["token"]
    principal = decode_token(SECRET, token)
    assert (principal.sub, principal.role, principal.client_id) == ("carol", "client", "c-1")
    at = {"min_position": other.json()["position"]}
    own = await api.get(
        f"/api/conversations/{mine.json()['conversation_id']}", params=at, headers=bearer(token)
    )
    assert own.status_code == 200, own.text
    # Still not another client's conversation, nor staff endpoints.
    foreign = await api.get(
        f"/api/conversations/{other.json()['conversation_id']}", params=at, headers=bearer(token)
    )
    assert foreign.status_code in (403, 404), foreign.text
    assert (await api.get("/api/agents", headers=bearer(token))).status_code == 403


async def test_refusals_are_401_unauthenticated(api: httpx.AsyncClient, tokens: Tokens) -> None:
    # Expired, signed by another deployment's secret, unsigned (alg none), none, garbage.
    for headers in (
        tokens.expired,
        tokens.bad_signature,
        tokens.alg_none,
        {},
        {"Authorization": "Basic YWxpY2U6cw=="},
        bearer("not-a-jwt"),
    ):
        response = await api.post(REFRESH, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        body = response.json()
        assert body["code"] == "unauthenticated"
        assert "token" not in body or body["token"] is None
        assert set(body) <= {"code", "message", "field", "details"}


async def test_a_session_ends_after_seven_days_of_refreshes(api: httpx.AsyncClient) -> None:
    # A chain that began 8 days ago (auth_time), still valid for 5 minutes.
    now = int(datetime.now(UTC).timestamp())
    claims: dict[str, Any] = {
        "sub": "alice", "role": "admin", "iat": now - 3300, "exp": now + 300,
        "auth_time": now - 8 * 86400,
    }  # fmt: skip
    old = jwt.encode(claims, SECRET, algorithm="HS256")
    refused = await api.post(REFRESH, headers=bearer(old))
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "unauthenticated"
    assert "session is over" in refused.json()["message"]
    # The token itself still works until it expires.
    assert (await api.get("/api/conversations", headers=bearer(old))).status_code == 200
    # Six days in, a refresh extends it, but never past the seventh day.
    began = now - 6 * 86400 - 23 * 3600 - 30 * 60
    claims["auth_time"] = began
    body = await refreshed(api, bearer(jwt.encode(claims, SECRET, algorithm="HS256")))
    after = claims_of(body["token"])
    assert now + 300 < after["exp"] <= began + 7 * 86400
    assert after["auth_time"] == began
