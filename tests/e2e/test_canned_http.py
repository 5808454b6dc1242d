"""Canned responses over real HTTP: shared and own, who sees and manages
which, unique codes, and the composer's lookup by code prefix. Each test
plays agents of its own (fresh ids) and shared codes of its own."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.e2e.conftest import Tokens
from tests.e2e.test_staff_api import staff_token

Json = dict[str, Any]


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def create(
    api: httpx.AsyncClient, headers: dict[str, str], code: str, *, shared: bool = False
) -> Json:
    body = {"code": code, "content": f"Text of {code}", "shared": shared}
    response = await api.post("/api/canned-responses", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: Json = response.json()
    return created


async def lookup(
    api: httpx.AsyncClient, headers: dict[str, str], position: int, **params: Any
) -> Json:
    response = await api.get(
        "/api/canned-responses", params={"min_position": position, **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    page: Json = response.json()
    return page


def codes(page: Json) -> list[str]:
    return [item["code"] for item in page["items"]]


async def test_each_agent_sees_the_shared_responses_and_their_own_by_code(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    dana_id = fresh("dana")
    bob, dana = staff_token(fresh("bob")), staff_token(dana_id)
    tag = uuid.uuid4().hex[:6]  # this test's codes all start with it
    shared = await create(api, tokens.admin, f"{tag}-Thanks", shared=True)
    await create(api, bob, f"{tag}-hello")
    await create(api, bob, f"{tag}-Bye")
    last = await create(api, dana, f"{tag}-hello")  # two agents may each have their own

    bobs = await lookup(api, bob, last["position"], prefix=tag)
    danas = await lookup(api, dana, last["position"], prefix=tag.upper())

    assert codes(bobs) == [f"{tag}-Bye", f"{tag}-hello", f"{tag}-Thanks"]
    assert codes(danas) == [f"{tag}-hello", f"{tag}-Thanks"]
    thanks = bobs["items"][2]
    assert thanks["response_id"] == shared["response_id"]
    assert (thanks["shared"], thanks["owner_id"], thanks["content"]) == (
        True,
        None,
        f"Text of {tag}-Thanks",
    )
    assert (danas["items"][0]["shared"], danas["items"][0]["owner_id"]) == (False, dana_id)


async def test_the_composer_looks_codes_up_by_prefix_ignoring_case_and_pages(
    api: httpx.AsyncClient,
) -> None:
    bob = staff_token(fresh("bob"))
    tag = uuid.uuid4().hex[:6]
    for code in ("ab_1", "AB-2", "abc", "b", "a_b"):
        last = await create(api, bob, f"{tag}{code}")

    exact_underscore = await lookup(api, bob, last["position"], prefix=f"{tag}A_")
    first = await lookup(api, bob, last["position"], prefix=f"{tag}ab", limit=2)
    rest = await lookup(api, bob, 0, prefix=f"{tag}ab", limit=2, after=first["next_after"])

    assert codes(exact_underscore) == [f"{tag}a_b"]  # "_" is no wildcard
    assert codes(first) + codes(rest) == [f"{tag}AB-2", f"{tag}ab_1", f"{tag}abc"]
    assert first["next_after"] == f"{tag}ab_1" and rest["next_after"] is None


async def test_codes_are_unique_among_what_one_agent_can_use(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    bob = staff_token(fresh("bob"))
    tag = uuid.uuid4().hex[:6]
    await create(api, bob, f"{tag}-hello")
    await create(api, tokens.admin, f"{tag}-shared", shared=True)

    clashes = [
        await api.post(
            "/api/canned-responses", json={"code": f"{tag}-HELLO", "content": "x"}, headers=bob
        ),
        await api.post(
            "/api/canned-responses", json={"code": f"{tag}-Shared", "content": "x"}, headers=bob
        ),
        await api.post(
            "/api/canned-responses",
            json={"code": f"{tag}-hello", "content": "x", "shared": True},
            headers=tokens.admin,
        ),
    ]

    assert [(r.status_code, r.json()["code"]) for r in clashes] == [(409, "code_taken")] * 3


async def test_owners_and_admins_manage_own_responses_agents_only_use_shared_ones(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    bob, dana = staff_token(fresh("bob")), staff_token(fresh("dana"))
    tag = uuid.uuid4().hex[:6]
    bobs = (await create(api, bob, f"{tag}-hello"))["response_id"]
    shared = (await create(api, tokens.admin, f"{tag}-shared", shared=True))["response_id"]

    changed = await api.put(
        f"/api/canned-responses/{bobs}", json={"content": "Hi there"}, headers=bob
    )
    by_admin = await api.put(
        f"/api/canned-responses/{bobs}", json={"code": f"{tag}-hi"}, headers=tokens.admin
    )
    hidden = await api.put(f"/api/canned-responses/{bobs}", json={"content": "x"}, headers=dana)
    not_theirs = await api.delete(f"/api/canned-responses/{shared}", headers=bob)
    assert (changed.status_code, changed.json()["events"]) == (200, ["CannedResponseChanged"])
    assert by_admin.json()["events"] == ["CannedResponseChanged"]
    assert (hidden.status_code, hidden.json()["code"]) == (404, "canned_response_not_found")
    assert (not_theirs.status_code, not_theirs.json()["code"]) == (403, "forbidden")
    page = await lookup(api, bob, by_admin.json()["position"], prefix=tag)
    assert [(i["code"], i["content"]) for i in page["items"]] == [
        (f"{tag}-hi", "Hi there"),
        (f"{tag}-shared", f"Text of {tag}-shared"),
    ]

    deleted = await api.delete(f"/api/canned-responses/{bobs}", headers=bob)
    again = await api.delete(f"/api/canned-responses/{bobs}", headers=bob)
    assert (deleted.json()["events"], again.json()["events"]) == (["CannedResponseDeleted"], [])
    assert codes(await lookup(api, bob, deleted.json()["position"], prefix=tag)) == [
        f"{tag}-shared"
    ]


async def test_clients_are_refused_every_canned_endpoint(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    shared = (await create(api, tokens.admin, fresh("shared"), shared=True))["response_id"]
    for headers in (tokens.client, tokens.other_client):
        refused = [
            await api.get("/api/canned-responses", headers=headers),
            await api.get("/api/canned-responses", params={"limit": 0}, headers=headers),
            await api.post(
                "/api/canned-responses", json={"code": "x", "content": "y"}, headers=headers
            ),
            await api.post("/api/canned-responses", content=b"not json", headers=headers),
            await api.put(
                f"/api/canned-responses/{shared}", json={"content": "x"}, headers=headers
            ),
            await api.delete(f"/api/canned-responses/{shared}", headers=headers),
        ]
        assert [(r.status_code, r.json()["code"]) for r in refused] == [(403, "forbidden")] * 6


async def test_bad_canned_requests_are_refused_with_a_code(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cases: list[tuple[str, str, Any, int]] = [
        ("POST", "/api/canned-responses", {"code": "has space", "content": "x"}, 400),
        ("POST", "/api/canned-responses", {"code": "x" * 51, "content": "x"}, 400),
        ("POST", "/api/canned-responses", {"code": "ok", "content": "   "}, 400),
        ("POST", "/api/canned-responses", {"code": "ok", "content": "x", "owner_id": "bob"}, 400),
        ("PUT", f"/api/canned-responses/{uuid.uuid4()}", {"content": "x"}, 404),
        ("PUT", "/api/canned-responses/not-a-uuid", {"content": "x"}, 404),  # no such route
        ("GET", "/api/canned-responses?prefix=a%20b", None, 400),
        ("GET", "/api/canned-responses?limit=101", None, 400),
    ]
    for method, path, body, status in cases:
        response = await api.request(method, path, json=body, headers=tokens.admin)
        assert response.status_code == status, (method, path, body, response.text)
        assert response.json()["code"]
