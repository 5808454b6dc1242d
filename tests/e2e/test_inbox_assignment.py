"""The support inbox over real HTTP: assignee, team and channel filters, the four
sorts with keyset pages, each staff member's own unread, the staff
directory, and what a client may (not) see. Assignments and the directory
are written with the command layer's handlers on the server's database
(their HTTP endpoints are another module's); everything is read over HTTP."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from commands.auth import issue_token
from commands.handler import CommandHandler
from commands.model import Actor, AssignConversation, Role, StartConversation
from commands.staff import AddTeamMember, CreateTeam, SetAvailability, UpdateAgent
from commands.staff_handler import StaffHandler
from events.catalogue import Availability, Channel, Client, Priority
from events.postgres.store import PostgresEventStore
from tests.e2e.conftest import SECRET, Tokens, bearer

Json = dict[str, Any]
ADMIN = Actor(id="alice", role=Role.ADMIN, name="Alice")


@dataclass
class Desk:
    """One test's own team and two agents (ids unique to the test)."""

    api: httpx.AsyncClient
    handler: CommandHandler
    staff: StaffHandler
    team: str
    ann: Actor
    ben: Actor
    position: int = 0

    def headers(self, agent: Actor) -> dict[str, str]:
        token = issue_token(
            SECRET, sub=agent.id, role="agent", ttl=timedelta(hours=1), now=datetime.now(UTC)
        )
        return bearer(token)

    async def start(
        self,
        name: str = "Carol",
        priority: Priority = Priority.MEDIUM,
        channel: Channel = Channel.WEB,
    ) -> str:
        command = StartConversation(
            client=Client(id="c-1", name=name),
            channel=channel,
            priority=priority,
            team_id=self.team,
        )
        result = await self.handler.handle(command, ADMIN)
        self.position = max(self.position, result.position)
        return str(result.conversation_id)

    async def assign(self, cid: str, agent: Actor | None) -> None:
        command = AssignConversation(
            conversation_id=uuid.UUID(cid),
            agent_id=agent.id if agent else None,
            team_id=self.team,
        )
        self.position = max(self.position, (await self.handler.handle(command, ADMIN)).position)

    async def inbox(self, as_: dict[str, str], **params: Any) -> Json:
        params = {"team": self.team, "min_position": self.position, **params}
        response = await self.api.get("/api/conversations", params=params, headers=as_)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def ids(self, as_: dict[str, str], **params: Any) -> list[str]:
        return [c["conversation_id"] for c in (await self.inbox(as_, **params))["items"]]


@pytest.fixture
async def desk(api: httpx.AsyncClient, store: PostgresEventStore) -> Desk:
    tag = uuid.uuid4().hex[:8]
    ann = Actor(id=f"ann-{tag}", role=Role.AGENT, name="Ann")
    ben = Actor(id=f"ben-{tag}", role=Role.AGENT, name="Ben")
    desk = Desk(api, CommandHandler(store), StaffHandler(store), f"team-{tag}", ann, ben)
    # No router: the tests assign by hand.
    await desk.staff.handle(CreateTeam(team_id=desk.team, name=f"Team {tag}", routing=False), ADMIN)
    for agent in (ann, ben):
        await desk.staff.handle(
            SetAvailability(agent_id=agent.id, availability=Availability.ONLINE), agent
        )
        await desk.staff.handle(AddTeamMember(team_id=desk.team, agent_id=agent.id), ADMIN)
    done = await desk.staff.handle(UpdateAgent(agent_id=ben.id, capacity=7), ADMIN)
    desk.position = done.position
    return desk


async def test_assignee_and_team_filters_with_names(desk: Desk, tokens: Tokens) -> None:
    mine, bens, waiting = [await desk.start(f"Client {n}") for n in range(3)]
    await desk.assign(mine, desk.ann)
    await desk.assign(bens, desk.ben)
    as_ann = desk.headers(desk.ann)

    assert set(await desk.ids(tokens.admin)) == {mine, bens, waiting}
    assert await desk.ids(as_ann, assignee="me") == [mine]
    assert await desk.ids(as_ann, assignee=desk.ben.id) == [bens]
    assert await desk.ids(as_ann, assignee="unassigned") == [waiting]
    assert await desk.ids(as_ann, team="no-such-team") == []

    rows = {c["conversation_id"]: c for c in (await desk.inbox(as_ann))["items"]}
    assert (rows[mine]["assignee_id"], rows[mine]["assignee_name"]) == (desk.ann.id, "Ann")
    assert rows[mine]["team_id"] == desk.team
    assert rows[mine]["team_name"].startswith("Team ")
    assert rows[mine]["waiting_since"] is None
    assert rows[waiting]["waiting_since"] is not None


async def test_every_sort_orders_as_documented(desk: Desk, tokens: Tokens) -> None:
    low = await desk.start("Low", Priority.LOW)
    high = await desk.start("High", Priority.HIGH)
    taken = await desk.start("Taken", Priority.MEDIUM)
    quiet = await desk.start("Quiet", Priority.HIGH)
    await desk.assign(taken, desk.ann)
    sent = await desk.api.post(
        "/api/messages", json={"conversation_id": low, "content": "hi"}, headers=tokens.client
    )
    desk.position = max(desk.position, sent.json()["position"])

    # Newest last message (or start) first: low's message is the newest.
    assert await desk.ids(tokens.admin) == [low, quiet, taken, high]
    assert await desk.ids(tokens.admin, sort="last_message") == [low, quiet, taken, high]
    assert await desk.ids(tokens.admin, sort="created") == [quiet, taken, high, low]
    assert await desk.ids(tokens.admin, sort="priority") == [quiet, high, taken, low]
    # Longest waiting first; then the rows not waiting (taken).
    assert await desk.ids(tokens.admin, sort="waiting") == [low, high, quiet, taken]


async def test_the_channel_filter_and_its_total(desk: Desk, tokens: Tokens) -> None:
    web = await desk.start("On the web")
    mails = [await desk.start(f"By mail {n}", channel=Channel.EMAIL) for n in range(2)]

    assert await desk.ids(tokens.admin, channel="web") == [web]
    assert await desk.ids(tokens.admin, channel="whatsapp") == []
    # No counter has the channel: counted on the rows, exactly while few.
    page = await desk.inbox(tokens.admin, channel="email", include_total="true")
    assert [c["conversation_id"] for c in page["items"]] == mails[::-1]
    assert (page["total"], page["total_exact"]) == (2, True)

    wrong = await desk.api.get(
        "/api/conversations", params={"channel": "pigeon"}, headers=tokens.admin
    )
    assert (wrong.status_code, wrong.json()["code"]) == (400, "invalid_request"), wrong.text


@pytest.mark.parametrize("sort", ["last_message", "created", "priority", "waiting"])
async def test_keyset_pages_under_every_sort_never_skip_or_repeat(
    desk: Desk, tokens: Tokens, sort: str
) -> None:
    existing = [await desk.start(f"Paged {n}", list(Priority)[n % 3]) for n in range(13)]
    for cid in existing[::4]:
        await desk.assign(cid, desk.ann)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"sort": sort, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = await desk.inbox(tokens.admin, **params)
        seen += [c["conversation_id"] for c in page["items"]]
        # Meanwhile, new conversations arrive in the same team.
        await asyncio.gather(desk.start("Newcomer"), desk.start("Newcomer"))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(c for c in seen if c in existing) == sorted(existing)
    assert len(seen) == len(set(seen))

    other = "created" if sort != "created" else "waiting"
    first = await desk.inbox(tokens.admin, sort=sort, limit=1)
    wrong = await desk.api.get(
        "/api/conversations",
        params={"sort": other, "cursor": first["next_cursor"]},
        headers=tokens.admin,
    )
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "invalid_query"


async def test_each_agent_sees_their_own_unread(desk: Desk, tokens: Tokens) -> None:
    cid = await desk.start()
    for text in ("one", "two", "three"):
        sent = await desk.api.post(
            "/api/messages", json={"conversation_id": cid, "content": text}, headers=tokens.client
        )
    as_ann, as_ben = desk.headers(desk.ann), desk.headers(desk.ben)
    for who, up_to in ((as_ann, 2), (as_ben, 1)):
        read = await desk.api.post(
            f"/api/conversations/{cid}/mark-read", json={"up_to_seq": up_to}, headers=who
        )
        assert read.status_code == 200, read.text
        desk.position = max(desk.position, read.json()["position"], sent.json()["position"])

    (ann_row,) = (await desk.inbox(as_ann))["items"]
    (ben_row,) = (await desk.inbox(as_ben))["items"]
    assert (ann_row["my_unread"], ben_row["my_unread"]) == (1, 2)
    # Unassigned: unread by every staff member, after the furthest cursor.
    assert ann_row["unread_for_staff"] == ben_row["unread_for_staff"] == 1
    assert (ann_row["last_message_sender"], ann_row["last_message_sender_name"]) == (
        "client",
        "Carol",
    )
    # Assigned to Ben: what Ben has not read.
    await desk.assign(cid, desk.ben)
    (row,) = (await desk.inbox(as_ann))["items"]
    assert (row["unread_for_staff"], row["my_unread"]) == (2, 1)
    # Ben answers: named from the directory, in the row and in the messages.
    reply = await desk.api.post(
        "/api/messages", json={"conversation_id": cid, "content": "on it"}, headers=as_ben
    )
    desk.position = reply.json()["position"]
    (row,) = (await desk.inbox(as_ann))["items"]
    assert (row["last_message_sender"], row["last_message_sender_name"]) == ("admin", "Ben")
    page = await desk.api.get(
        "/api/messages",
        params={"conversation_id": cid, "min_position": desk.position},
        headers=tokens.client,
    )
    assert [m["sender_name"] for m in page.json()["items"]] == ["Carol"] * 3 + ["Ben"]


async def test_the_staff_directory(desk: Desk, tokens: Tokens) -> None:
    cid = await desk.start()
    await desk.assign(cid, desk.ben)
    params = {"min_position": desk.position}
    agents = await desk.api.get("/api/agents", params=params, headers=desk.headers(desk.ann))
    assert agents.status_code == 200, agents.text
    by_id = {a["agent_id"]: a for a in agents.json()["items"]}
    ben = by_id[desk.ben.id]
    assert (ben["display_name"], ben["capacity"], ben["availability"]) == ("Ben", 7, "online")
    assert (ben["open_count"], ben["online"], ben["teams"]) == (1, True, [desk.team])
    assert by_id[desk.ann.id]["open_count"] == 0

    teams = await desk.api.get("/api/teams", params=params, headers=tokens.agent)
    (team,) = [t for t in teams.json()["items"] if t["team_id"] == desk.team]
    assert team["members"] == sorted([desk.ann.id, desk.ben.id])


async def test_a_client_sees_no_assignment_internals(desk: Desk, tokens: Tokens) -> None:
    cid = await desk.start()
    await desk.assign(cid, desk.ann)
    for path in ("/api/conversations", "/api/agents", "/api/teams"):
        refused = await desk.api.get(path, headers=tokens.client)
        assert refused.status_code == 403, path

    params = {"min_position": desk.position}
    own = await desk.api.get(f"/api/conversations/{cid}", params=params, headers=tokens.client)
    assert own.status_code == 200, own.text
    view = own.json()
    assert view["assignee_name"] == "Ann"  # "an agent named Ann is handling this"
    hidden = ("assignee_id", "team_id", "team_name", "waiting_since", "unread_for_staff")
    assert {field: view[field] for field in hidden} == dict.fromkeys(hidden)
    assert view["my_unread"] == view["unread_for_client"]

    theirs = await desk.api.get(f"/api/conversations/{cid}", headers=tokens.other_client)
    assert theirs.status_code in (403, 404)
    messages = await desk.api.get(
        "/api/messages", params={"conversation_id": cid}, headers=tokens.other_client
    )
    assert messages.status_code in (403, 404)
