"""The staff directory and assignment over real HTTP: agents, teams, members,
assigning conversations, and who may do each."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from commands.auth import issue_token
from events.catalogue import AgentRegistered, ConversationAssigned, ConversationUnassigned
from events.postgres.store import PostgresEventStore
from tests.e2e.conftest import SECRET, Tokens, bearer

Json = dict[str, Any]


def staff_token(sub: str, role: str = "agent", name: str | None = None) -> dict[str, str]:
    token = issue_token(
        SECRET, sub=sub, role=role, ttl=timedelta(hours=1), now=datetime.now(UTC), name=name
    )
    return bearer(token)


def fresh(prefix: str) -> str:
    """An id no other test uses (the database lives for the whole run)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def new_agent(api: httpx.AsyncClient, name: str | None = None) -> tuple[str, dict[str, str]]:
    """An agent who has signed in once (and so is in the directory)."""
    agent_id = fresh("agent")
    headers = staff_token(agent_id, name=name)
    response = await api.put(
        "/api/agents/me/availability", json={"availability": "online"}, headers=headers
    )
    assert response.status_code == 200, response.text
    return agent_id, headers


async def new_team(api: httpx.AsyncClient, tokens: Tokens) -> str:
    team_id = fresh("team")
    response = await api.post(
        "/api/teams", json={"team_id": team_id, "name": "Billing"}, headers=tokens.admin
    )
    assert response.status_code == 201, response.text
    return team_id


async def start(api: httpx.AsyncClient, tokens: Tokens) -> str:
    body = {"client": {"id": "c-1", "name": "Carol"}, "channel": "web"}
    response = await api.post("/api/conversations", json=body, headers=tokens.admin)
    assert response.status_code == 201, response.text
    return str(response.json()["conversation_id"])


# -- agents ----------------------------------------------------------------------------


async def test_an_agent_sets_their_availability_and_is_registered_by_their_name(
    api: httpx.AsyncClient, store: PostgresEventStore
) -> None:
    agent_id, headers = await new_agent(api, name="Dana Scully")

    away = await api.put(
        "/api/agents/me/availability", json={"availability": "away"}, headers=headers
    )

    assert away.status_code == 200
    assert away.json()["events"] == ["AgentAvailabilityChanged"]
    assert away.json()["stream_id"] == f"agent-{agent_id}"
    first = (await store.read_stream(f"agent-{agent_id}"))[0].data
    assert first == AgentRegistered(agent_id=agent_id, display_name="Dana Scully", capacity=10)


async def test_without_a_name_claim_the_display_name_is_the_id(
    api: httpx.AsyncClient, store: PostgresEventStore
) -> None:
    agent_id, _ = await new_agent(api)

    first = (await store.read_stream(f"agent-{agent_id}"))[0].data
    assert isinstance(first, AgentRegistered) and first.display_name == agent_id


async def test_a_blank_name_claim_is_no_display_name(
    api: httpx.AsyncClient, store: PostgresEventStore
) -> None:
    agent_id, _ = await new_agent(api, name="   ")

    first = (await store.read_stream(f"agent-{agent_id}"))[0].data
    assert isinstance(first, AgentRegistered) and first.display_name == agent_id


async def test_an_agent_renames_themselves_and_an_admin_sets_capacity(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    agent_id, headers = await new_agent(api)

    renamed = await api.put("/api/agents/me", json={"display_name": "Fox"}, headers=headers)
    capacity = await api.put(f"/api/agents/{agent_id}", json={"capacity": 3}, headers=tokens.admin)
    offline = await api.put(
        f"/api/agents/{agent_id}/availability",
        json={"availability": "offline"},
        headers=tokens.admin,
    )

    assert renamed.status_code == 200 and renamed.json()["events"] == ["AgentProfileChanged"]
    assert capacity.status_code == 200 and capacity.json()["events"] == ["AgentProfileChanged"]
    assert offline.json()["events"] == ["AgentAvailabilityChanged"]


async def test_an_agent_cannot_change_another_agents_availability_or_capacity(
    api: httpx.AsyncClient, store: PostgresEventStore
) -> None:
    other_id, _ = await new_agent(api)
    _, headers = await new_agent(api)
    head = await store.head_position()

    refused = [
        await api.put(
            f"/api/agents/{other_id}/availability", json={"availability": "away"}, headers=headers
        ),
        await api.put(f"/api/agents/{other_id}", json={"capacity": 50}, headers=headers),
        await api.put(f"/api/agents/{other_id}", json={"display_name": "Nope"}, headers=headers),
        await api.put("/api/agents/me", json={"capacity": 50}, headers=headers),
    ]

    assert [(r.status_code, r.json()["code"]) for r in refused] == [(403, "forbidden")] * 4
    assert await store.head_position() == head


# -- teams -----------------------------------------------------------------------------


async def test_an_admin_creates_a_team_and_manages_its_members(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    agent_id, _ = await new_agent(api)
    team_id = await new_team(api, tokens)

    added = await api.post(f"/api/teams/{team_id}/members/{agent_id}", headers=tokens.admin)
    again = await api.post(f"/api/teams/{team_id}/members/{agent_id}", headers=tokens.admin)
    removed = await api.delete(f"/api/teams/{team_id}/members/{agent_id}", headers=tokens.admin)

    assert added.status_code == 201 and added.json()["events"] == ["TeamMemberAdded"]
    assert again.status_code == 201 and again.json()["events"] == []
    assert removed.status_code == 200 and removed.json()["events"] == ["TeamMemberRemoved"]


async def test_a_team_without_an_id_is_named_by_its_slug_and_only_once(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    name = f"Billing & Refunds {uuid.uuid4().hex[:6]}"
    slug = name.lower().replace(" & ", "-").replace(" ", "-")

    created = await api.post(
        "/api/teams", json={"name": name, "routing": False}, headers=tokens.admin
    )
    twice = await api.post("/api/teams", json={"name": name}, headers=tokens.admin)

    assert created.status_code == 201, created.text
    assert created.json()["team_id"] == slug
    assert created.json()["events"] == ["TeamCreated"]
    assert twice.status_code == 409 and twice.json()["code"] == "team_exists"


async def test_a_name_without_letters_gets_a_uuid_team_id(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    created = await api.post("/api/teams", json={"name": "★★★"}, headers=tokens.admin)

    assert created.status_code == 201
    uuid.UUID(created.json()["team_id"])


async def test_an_agent_cannot_create_teams_nor_manage_members(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    agent_id, headers = await new_agent(api)
    team_id = await new_team(api, tokens)

    refused = [
        await api.post("/api/teams", json={"name": "Mine"}, headers=headers),
        await api.post(f"/api/teams/{team_id}/members/{agent_id}", headers=headers),
        await api.post(f"/api/teams/{team_id}/members/me", headers=headers),
        await api.delete(f"/api/teams/{team_id}/members/{agent_id}", headers=headers),
    ]

    assert [(r.status_code, r.json()["code"]) for r in refused] == [(403, "forbidden")] * 4


async def test_unknown_teams_and_agents_are_not_found(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    agent_id, _ = await new_agent(api)
    team_id = await new_team(api, tokens)

    no_team = await api.post(f"/api/teams/{fresh('team')}/members/{agent_id}", headers=tokens.admin)
    no_agent = await api.post(f"/api/teams/{team_id}/members/{fresh('x')}", headers=tokens.admin)

    assert no_team.status_code == 404 and no_team.json()["code"] == "team_not_found"
    assert no_agent.status_code == 404 and no_agent.json()["code"] == "agent_not_found"


# -- assignment ------------------------------------------------------------------------


async def test_assign_to_a_team_then_an_agent_who_keeps_the_team_then_unassign(
    api: httpx.AsyncClient, tokens: Tokens, store: PostgresEventStore
) -> None:
    agent_id, headers = await new_agent(api)
    team_id = await new_team(api, tokens)
    cid = await start(api, tokens)
    path = f"/api/conversations/{cid}/assignment"

    queued = await api.post(path, json={"team_id": team_id}, headers=tokens.admin)
    taken = await api.post(path, json={"agent_id": agent_id}, headers=headers)
    nobody = await api.post(path, json={}, headers=tokens.admin)

    assert [r.status_code for r in (queued, taken, nobody)] == [200, 200, 200]
    assert taken.json()["events"] == ["ConversationAssigned"]
    events = [e.data for e in await store.read_stream(f"conversation-{cid}")][1:]
    assert events == [
        ConversationAssigned(conversation_id=uuid.UUID(cid), team_id=team_id, by="alice"),
        ConversationAssigned(
            conversation_id=uuid.UUID(cid), agent_id=agent_id, team_id=team_id, by=agent_id
        ),
        ConversationUnassigned(conversation_id=uuid.UUID(cid), agent_id=agent_id, by="alice"),
    ]


async def test_assigning_to_an_unknown_agent_or_team_is_not_found(
    api: httpx.AsyncClient, tokens: Tokens, store: PostgresEventStore
) -> None:
    cid = await start(api, tokens)
    head = await store.head_position()
    path = f"/api/conversations/{cid}/assignment"

    no_agent = await api.post(path, json={"agent_id": fresh("ghost")}, headers=tokens.admin)
    no_team = await api.post(path, json={"team_id": fresh("ghost")}, headers=tokens.admin)

    assert no_agent.status_code == 404 and no_agent.json()["code"] == "agent_not_found"
    assert no_agent.json()["field"] == "agent_id"
    assert no_team.status_code == 404 and no_team.json()["code"] == "team_not_found"
    assert await store.head_position() == head


async def test_assigning_a_closed_conversation_is_a_conflict(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    agent_id, _ = await new_agent(api)
    cid = await start(api, tokens)
    await api.patch(
        f"/api/conversations/{cid}/status", json={"status": "closed"}, headers=tokens.admin
    )

    response = await api.post(
        f"/api/conversations/{cid}/assignment", json={"agent_id": agent_id}, headers=tokens.admin
    )

    assert response.status_code == 409 and response.json()["code"] == "conversation_closed"


async def test_an_assignment_with_a_stale_seen_version_is_refused(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    agent_id, headers = await new_agent(api)
    cid = await start(api, tokens)
    message = {"conversation_id": cid, "content": "hello?"}
    sent = await api.post("/api/messages", json=message, headers=tokens.client)

    response = await api.post(
        f"/api/conversations/{cid}/assignment",
        json={"agent_id": agent_id, "seen_version": sent.json()["version"] - 1},
        headers=headers,
    )

    assert response.status_code == 409 and response.json()["code"] == "conversation_moved"


# -- auth: a client is refused everywhere; bad input is a 4xx --------------------------


async def test_a_client_is_forbidden_every_staff_endpoint(
    api: httpx.AsyncClient, tokens: Tokens, store: PostgresEventStore
) -> None:
    agent_id, _ = await new_agent(api)
    team_id = await new_team(api, tokens)
    cid = await start(api, tokens)
    head = await store.head_position()

    refused = [
        await api.put(
            "/api/agents/me/availability", json={"availability": "online"}, headers=tokens.client
        ),
        await api.put(
            f"/api/agents/{agent_id}/availability",
            json={"availability": "away"},
            headers=tokens.client,
        ),
        await api.put(f"/api/agents/{agent_id}", json={"capacity": 1}, headers=tokens.client),
        await api.put("/api/agents/me", json={"display_name": "Carol"}, headers=tokens.client),
        await api.post("/api/teams", json={"name": "Clients"}, headers=tokens.client),
        await api.post(f"/api/teams/{team_id}/members/{agent_id}", headers=tokens.client),
        await api.delete(f"/api/teams/{team_id}/members/{agent_id}", headers=tokens.client),
        await api.post(
            f"/api/conversations/{cid}/assignment",
            json={"agent_id": agent_id},
            headers=tokens.client,
        ),
        # a client cannot learn who exists by assigning to them
        await api.post(
            f"/api/conversations/{cid}/assignment",
            json={"agent_id": fresh("ghost")},
            headers=tokens.client,
        ),
    ]

    assert [(r.status_code, r.json()["code"]) for r in refused] == [(403, "forbidden")] * 9
    assert await store.head_position() == head


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PUT", "/api/agents/me/availability", {"availability": "busy"}, "availability"),
        ("PUT", "/api/agents/me/availability", {}, "availability"),
        ("PUT", "/api/agents/me/availability", {"availability": "away", "x": 1}, None),
        ("PUT", "/api/agents/bob", {"capacity": -1}, "capacity"),
        ("PUT", "/api/agents/bob", {"capacity": 1001}, "capacity"),
        ("PUT", "/api/agents/bob", {"display_name": "   "}, "display_name"),
        ("PUT", "/api/agents/bob", {"display_name": "x" * 201}, "display_name"),
        ("PUT", "/api/agents/a%20b", {"capacity": 1}, "agent_id"),
        ("PUT", "/api/agents/" + "a" * 201, {"capacity": 1}, "agent_id"),
        ("POST", "/api/teams", {"name": ""}, "name"),
        ("POST", "/api/teams", {"name": "A", "team_id": "a b"}, "team_id"),
        ("POST", "/api/teams", {"name": "A", "routing": "yes"}, "routing"),
        ("POST", "/api/teams", {"name": "A", "members": []}, None),
        ("POST", "/api/teams/a%00b/members/bob", None, "team_id"),
    ],
)
async def test_bad_input_is_a_clear_400(
    api: httpx.AsyncClient,
    tokens: Tokens,
    method: str,
    path: str,
    body: Json | None,
    field: str | None,
) -> None:
    response = await api.request(method, path, json=body, headers=tokens.admin)

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_request"
    if field is not None:
        assert response.json()["field"] == field


@pytest.mark.parametrize(
    "body",
    [
        {"agent_id": "a/b"},
        {"team_id": ""},
        {"reason": "router"},
        {"agent_id": "bob", "reason": "agent_offline"},
        {"seen_version": -1},
        {"command_id": ""},
        [],
        "unassign",
    ],
)
async def test_a_bad_assignment_body_is_a_clear_400(
    api: httpx.AsyncClient, tokens: Tokens, body: object
) -> None:
    cid = await start(api, tokens)

    response = await api.post(
        f"/api/conversations/{cid}/assignment", json=body, headers=tokens.admin
    )

    assert response.status_code == 400, response.text


async def test_an_empty_update_is_invalid(api: httpx.AsyncClient, tokens: Tokens) -> None:
    response = await api.put("/api/agents/bob", json={}, headers=tokens.admin)

    assert response.status_code == 422 and response.json()["code"] == "invalid_command"


async def test_a_staff_id_that_cannot_name_an_agent_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.put(
        "/api/agents/me/availability",
        json={"availability": "online"},
        headers=staff_token("bob smith"),
    )

    assert response.status_code == 422 and response.json()["code"] == "invalid_command"
