"""Hostile input over real HTTP is a clear 4xx, never a 500: deep or broken
JSON bodies, NUL characters, out-of-range numbers, odd headers (issue 14).
Each case here once answered 500."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from commands.auth import issue_token
from tests.e2e.conftest import SECRET, Tokens, bearer

Json = dict[str, Any]
JSON = {"Content-Type": "application/json"}
HOUR = timedelta(hours=1)


async def start(api: httpx.AsyncClient, tokens: Tokens) -> str:
    response = await api.post(
        "/api/conversations",
        json={"client": {"id": "c-1", "name": "Carol"}, "channel": "web"},
        headers=tokens.admin,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["conversation_id"])


def assert_4xx(response: httpx.Response, status: int = 400, code: str | None = None) -> Json:
    assert response.status_code == status, (response.request.url, response.text)
    body: Json = response.json()
    if code is not None:
        assert body["code"] == code, body
    return body


# -- bodies -----------------------------------------------------------------------------


def write_routes(cid: str) -> list[tuple[str, str]]:
    return [
        ("POST", "/api/conversations"),
        ("POST", "/api/messages"),
        ("PATCH", "/api/messages/mark-read"),
        ("PUT", f"/api/conversations/{cid}"),
        ("PATCH", f"/api/conversations/{cid}/status"),
        ("POST", f"/api/conversations/{cid}/mark-read"),
    ]


@pytest.mark.parametrize("depth", [1_000, 10_000])
async def test_deeply_nested_bodies_are_malformed_json_on_every_write(
    api: httpx.AsyncClient, tokens: Tokens, depth: int
) -> None:
    cid = await start(api, tokens)
    arrays = "[" * depth + "]" * depth
    objects = '{"a":' * depth + "1" + "}" * depth
    in_a_field = f'{{"conversation_id":"{cid}","content":"x","attachment":{arrays}}}'
    for method, path in write_routes(cid):
        for body in (arrays, objects, in_a_field):
            response = await api.request(
                method, path, content=body, headers={**tokens.admin, **JSON}
            )
            error = assert_4xx(response, 400, "malformed_json")
            assert "deeper than 32" in error["message"]


async def test_brackets_inside_strings_do_not_count_as_nesting(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens)
    content = "[{" * 500 + '\\"' + "}]" * 500
    response = await api.post(
        "/api/messages",
        content=f'{{"conversation_id":"{cid}","content":"{content}"}}',
        headers={**tokens.admin, **JSON},
    )
    assert response.status_code == 201, response.text


async def test_huge_arrays_invalid_utf8_and_bad_numbers_in_bodies_are_400(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens)
    headers = {**tokens.admin, **JSON}
    huge_array = "[" + ",".join(["1"] * 30_000) + "]"
    assert_4xx(await api.post("/api/messages", content=huge_array, headers=headers))
    invalid_utf8 = b'{"conversation_id":"%s","content":"\xff\xfe"}' % cid.encode()
    assert_4xx(await api.post("/api/messages", content=invalid_utf8, headers=headers))
    nul = {"conversation_id": cid, "content": "a\x00b"}
    assert_4xx(await api.post("/api/messages", json=nul, headers=tokens.admin), 400)
    for up_to_seq in (2**31, 2**63, 2**70):
        body = {"conversation_id": cid, "up_to_seq": up_to_seq}
        error = assert_4xx(await api.patch("/api/messages/mark-read", json=body, headers=headers))
        assert error["field"] == "up_to_seq"
        at_path = f"/api/conversations/{cid}/mark-read"
        response = await api.post(at_path, json={"up_to_seq": up_to_seq}, headers=headers)
        assert assert_4xx(response)["field"] == "up_to_seq"
    out_of_range = b'{"conversation_id":"%s","content":"x","attachment":{"url":"u","size":1e400}}'
    response = await api.post("/api/messages", content=out_of_range % cid.encode(), headers=headers)
    assert_4xx(response)


# -- query and path parameters ----------------------------------------------------------


async def test_nul_in_any_text_parameter_is_400(api: httpx.AsyncClient, tokens: Tokens) -> None:
    cid = await start(api, tokens)
    for name in ("q", "client_id", "cursor", "assignee", "team"):
        response = await api.get("/api/conversations", params={name: "a\x00"}, headers=tokens.admin)
        error = assert_4xx(response, 400, "invalid_request")
        assert error["field"] == name and "NUL" in error["message"]
    response = await api.get(
        f"/api/conversations/{cid}", params={"as_of": "\x00"}, headers=tokens.admin
    )
    assert assert_4xx(response)["field"] == "as_of"
    response = await api.delete(
        f"/api/conversations/{cid}", params={"command_id": "x\x00"}, headers=tokens.admin
    )
    assert assert_4xx(response, 400, "invalid_request")["field"] == "command_id"
    response = await api.get(
        "/api/messages", params={"conversation_id": "\x00"}, headers=tokens.admin
    )
    assert_4xx(response)
    assert_4xx(await api.get("/api/conversations/%00/history", headers=tokens.admin), 404)


async def test_invalid_utf8_in_the_query_or_the_path_is_no_server_error(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens)
    inbox = await api.get("/api/conversations?q=%FF%FE&client_id=%C0%80", headers=tokens.admin)
    assert inbox.status_code == 200, inbox.text  # undecodable bytes match nobody
    messages = await api.get(
        f"/api/messages?conversation_id={cid}&before=%FF", headers=tokens.admin
    )
    assert_4xx(messages, 400, "invalid_request")
    for path in ("/api/conversations/%FF%FE", "/api/conversations/%FF/history", "/api/%C0%AF"):
        assert_4xx(await api.get(path, headers=tokens.admin), 404, "not_found")


@pytest.mark.parametrize(
    ("path", "name", "value"),
    [
        ("/history", "after", 90_582_050_262_103),
        ("/history", "after", 2**31),
        ("", "min_position", 2**63),
        ("", "min_position", 10**30),
        ("/messages", "before", 2**31),
        ("/messages", "min_position", 2**63),
        ("/inbox", "min_position", 2**63),
        ("/inbox", "limit", 10**30),
    ],
)
async def test_integers_beyond_their_column_are_400(
    api: httpx.AsyncClient, tokens: Tokens, path: str, name: str, value: int
) -> None:
    cid = await start(api, tokens)
    url = {
        "/messages": "/api/messages",
        "/inbox": "/api/conversations",
    }.get(path, f"/api/conversations/{cid}{path}")
    params = {name: value, "conversation_id": cid} if path == "/messages" else {name: value}
    response = await api.get(url, params=params, headers=tokens.admin)
    error = assert_4xx(response, 400, "invalid_request")
    assert error["field"] == name


@pytest.mark.parametrize("as_of", ["²", "٣", "9" * 19, "9" * 30, " 1"])
async def test_as_of_that_is_no_position_and_no_time_is_400(
    api: httpx.AsyncClient, tokens: Tokens, as_of: str
) -> None:
    cid = await start(api, tokens)
    response = await api.get(
        f"/api/conversations/{cid}", params={"as_of": as_of}, headers=tokens.admin
    )
    assert assert_4xx(response, 400, "invalid_query")["field"] == "as_of"


# -- headers ----------------------------------------------------------------------------


async def test_odd_header_values_never_fail_a_request(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens)
    # (httpx refuses to send NUL in a header: see the raw-socket test below.)
    for correlation_id in (b"\xff\xfe", "é".encode("latin-1"), b"not-a-uuid", b"x" * 4000):
        response = await api.post(
            "/api/messages",
            json={"conversation_id": cid, "content": "hi"},
            headers={**tokens.admin, "X-Correlation-ID": correlation_id},  # type: ignore[dict-item]
        )
        assert response.status_code == 201, response.text
    for authorization in (
        b"Bearer \xff\xfe",
        b"\xff",
        b"Bearer a.\xff.b",
        b"Bearer " + b"a" * 4000,
    ):
        response = await api.get("/api/conversations", headers={"Authorization": authorization})  # type: ignore[dict-item]
        assert_4xx(response, 401, "unauthenticated")


@pytest.mark.parametrize(
    "header",
    [
        b"X-Correlation-ID: a\x00b",
        b"Authorization: Bearer \x00",
        b"Authorization: \x00",
        b"X-Correlation-ID: \x01\x7f",
    ],
)
async def test_a_raw_nul_or_control_character_in_a_header_is_a_4xx(
    server_url: str, header: bytes
) -> None:
    url = urlsplit(server_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(b"GET /api/conversations HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n\r\n")
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    await writer.wait_closed()
    assert status_line.split()[1] in (b"400", b"401"), status_line


# -- command ids ------------------------------------------------------------------------


async def test_a_command_id_reused_for_another_command_is_409(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    # Command ids are the caller's own: a caller of its own keeps "0" fresh.
    now = datetime.now(UTC)
    admin = bearer(
        issue_token(SECRET, sub=f"admin-{uuid.uuid4()}", role="admin", ttl=HOUR, now=now)
    )
    cid = await start(api, tokens)
    status = f"/api/conversations/{cid}/status"
    pending = await api.patch(status, json={"status": "pending"}, headers=admin)
    assert pending.status_code == 200, pending.text
    first = await api.put(
        f"/api/conversations/{cid}", json={"priority": "High", "command_id": "0"}, headers=admin
    )
    assert first.status_code == 200, first.text

    # "0" again, for another command: refused, and nothing is written.
    reused = await api.patch(status, json={"status": "active", "command_id": "0"}, headers=admin)
    error = assert_4xx(reused, 409, "command_id_reused")
    assert error["field"] == "command_id"
    params = {"min_position": first.json()["position"]}
    current = await api.get(f"/api/conversations/{cid}", params=params, headers=admin)
    assert current.json()["status"] == "pending" and current.json()["priority"] == "High"


async def test_a_command_id_reused_for_the_same_kind_of_command_with_other_content_is_409(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    now = datetime.now(UTC)
    admin = bearer(
        issue_token(SECRET, sub=f"admin-{uuid.uuid4()}", role="admin", ttl=HOUR, now=now)
    )
    cid = await start(api, tokens)
    status = f"/api/conversations/{cid}/status"
    first = await api.patch(status, json={"status": "pending", "command_id": "0"}, headers=admin)
    assert first.status_code == 200, first.text

    # The very same command again: its first result, replayed.
    again = await api.patch(status, json={"status": "pending", "command_id": "0"}, headers=admin)
    assert again.status_code == 200, again.text
    assert again.json()["replayed"] is True
    assert again.json()["position"] == first.json()["position"]

    # The same kind of command with other content under "0": refused, nothing written.
    reused = await api.patch(status, json={"status": "active", "command_id": "0"}, headers=admin)
    assert_4xx(reused, 409, "command_id_reused")
    params = {"min_position": first.json()["position"]}
    current = await api.get(f"/api/conversations/{cid}", params=params, headers=admin)
    assert current.json()["status"] == "pending"
