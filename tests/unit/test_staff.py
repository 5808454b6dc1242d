"""The staff directory, given/when/then: the pure agent and team deciders, and
the StaffHandler (load, fold, decide, append) on the in-memory event store."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import reduce

import pytest

from commands import errors
from commands.model import Actor, Role
from commands.staff import (
    DEFAULT_CAPACITY,
    AddTeamMember,
    AgentCommand,
    AgentState,
    CreateTeam,
    RemoveTeamMember,
    SetAvailability,
    TeamCommand,
    TeamState,
    UpdateAgent,
    decide_agent,
    decide_team,
    evolve_agent,
    evolve_team,
)
from commands.staff_handler import StaffHandler
from events.catalogue import (
    AgentAvailabilityChanged,
    AgentProfileChanged,
    AgentRegistered,
    Availability,
    TeamCreated,
    TeamMemberRemoved,
)
from events.envelope import AppendResult, NewEvent
from events.store import ConcurrencyError, StoreUnavailable
from tests.fakes.memory_store import MemoryEventStore

ALICE = Actor(id="alice", role=Role.ADMIN)
BOB = Actor(id="bob", role=Role.AGENT, name="Bob Builder")
DANA = Actor(id="dana", role=Role.AGENT)
CAROL = Actor(id="carol", role=Role.CLIENT, client_id="c-1")

ONLINE = SetAvailability(agent_id="bob", availability=Availability.ONLINE)
BILLING = CreateTeam(team_id="billing", name="Billing")


def agent_after(*steps: tuple[AgentCommand, Actor]) -> AgentState:
    """An agent's state after ``steps``, each decided and folded in turn."""
    state = AgentState()
    for command, actor in steps:
        state = reduce(evolve_agent, decide_agent(state, command, actor), state)
    return state


def team_after(*steps: tuple[TeamCommand, Actor]) -> TeamState:
    state = TeamState()
    for command, actor in steps:
        state = reduce(evolve_team, decide_team(state, command, actor), state)
    return state


# -- agents ----------------------------------------------------------------------------


def test_an_agents_first_availability_registers_them_by_their_token_name() -> None:
    events = decide_agent(AgentState(), ONLINE, BOB)

    assert events == [
        AgentRegistered(agent_id="bob", display_name="Bob Builder", capacity=DEFAULT_CAPACITY),
        AgentAvailabilityChanged(agent_id="bob", availability=Availability.ONLINE),
    ]


def test_an_agent_without_a_name_is_registered_by_their_id() -> None:
    command = SetAvailability(agent_id="dana", availability=Availability.AWAY)

    [registered, _] = decide_agent(AgentState(), command, DANA)

    assert registered == AgentRegistered(agent_id="dana", display_name="dana", capacity=10)


def test_an_admin_registering_someone_else_does_not_lend_them_the_admins_name() -> None:
    admin = Actor(id="alice", role=Role.ADMIN, name="Alice")

    [registered, _] = decide_agent(AgentState(), ONLINE, admin)

    assert isinstance(registered, AgentRegistered) and registered.display_name == "bob"


def test_setting_the_availability_one_has_changes_nothing() -> None:
    state = agent_after((ONLINE, BOB))

    assert decide_agent(state, ONLINE, BOB) == []


def test_an_offline_agent_going_away_emits_the_change_only() -> None:
    state = agent_after((ONLINE, BOB))
    away = SetAvailability(agent_id="bob", availability=Availability.AWAY)

    assert decide_agent(state, away, BOB) == [
        AgentAvailabilityChanged(agent_id="bob", availability=Availability.AWAY)
    ]
    assert evolve_agent(state, decide_agent(state, away, BOB)[0]).availability is Availability.AWAY


@pytest.mark.parametrize(
    "command",
    [
        SetAvailability(agent_id="bob", availability=Availability.OFFLINE),
        UpdateAgent(agent_id="bob", display_name="Not Bob"),
        UpdateAgent(agent_id="bob", capacity=1),
        UpdateAgent(agent_id="dana", capacity=1),  # even one's own
    ],
)
def test_an_agent_may_not_change_another_agent_nor_any_capacity(command: AgentCommand) -> None:
    state = agent_after((ONLINE, BOB))

    with pytest.raises(errors.Forbidden):
        decide_agent(state, command, DANA)


@pytest.mark.parametrize("command", [ONLINE, UpdateAgent(agent_id="carol", display_name="C")])
def test_a_client_has_no_agent_profile(command: AgentCommand) -> None:
    with pytest.raises(errors.Forbidden):
        decide_agent(AgentState(), command, CAROL)


def test_an_agent_renames_themselves_and_an_admin_sets_their_capacity() -> None:
    state = agent_after(
        (ONLINE, BOB),
        (UpdateAgent(agent_id="bob", display_name="Robert"), BOB),
        (UpdateAgent(agent_id="bob", capacity=3), ALICE),
    )

    assert (state.display_name, state.capacity) == ("Robert", 3)
    assert state.availability is Availability.ONLINE


def test_an_update_emits_only_what_changes() -> None:
    state = agent_after((ONLINE, BOB))

    same_name = UpdateAgent(agent_id="bob", display_name="Bob Builder", capacity=4)

    assert decide_agent(state, same_name, ALICE) == [
        AgentProfileChanged(agent_id="bob", capacity=4)
    ]
    assert decide_agent(state, UpdateAgent(agent_id="bob", capacity=10), ALICE) == []


def test_an_empty_update_is_invalid() -> None:
    with pytest.raises(errors.InvalidCommand):
        decide_agent(AgentState(), UpdateAgent(agent_id="bob"), ALICE)


def test_an_admin_may_register_an_agent_with_a_capacity() -> None:
    events = decide_agent(AgentState(), UpdateAgent(agent_id="eve", capacity=2), ALICE)

    assert events == [AgentRegistered(agent_id="eve", display_name="eve", capacity=2)]


# -- teams -----------------------------------------------------------------------------


def test_an_admin_creates_a_team_and_adds_and_removes_members() -> None:
    state = team_after(
        (BILLING, ALICE),
        (AddTeamMember(team_id="billing", agent_id="bob"), ALICE),
        (AddTeamMember(team_id="billing", agent_id="dana"), ALICE),
        (RemoveTeamMember(team_id="billing", agent_id="bob"), ALICE),
    )

    assert state == TeamState(team_id="billing", name="Billing", members=frozenset({"dana"}))


def test_creating_a_team_twice_is_refused() -> None:
    state = team_after((BILLING, ALICE))

    with pytest.raises(errors.TeamExists):
        decide_team(state, BILLING, ALICE)


def test_adding_a_member_twice_or_removing_a_stranger_changes_nothing() -> None:
    state = team_after((BILLING, ALICE), (AddTeamMember(team_id="billing", agent_id="bob"), ALICE))

    assert decide_team(state, AddTeamMember(team_id="billing", agent_id="bob"), ALICE) == []
    assert decide_team(state, RemoveTeamMember(team_id="billing", agent_id="eve"), ALICE) == []


def test_members_of_a_team_that_does_not_exist_are_not_found() -> None:
    for command in (
        AddTeamMember(team_id="nope", agent_id="bob"),
        RemoveTeamMember(team_id="nope", agent_id="bob"),
    ):
        with pytest.raises(errors.TeamNotFound):
            decide_team(TeamState(), command, ALICE)


def test_an_agent_not_in_the_directory_cannot_join_a_team() -> None:
    state = team_after((BILLING, ALICE))
    command = AddTeamMember(team_id="billing", agent_id="ghost")

    with pytest.raises(errors.AgentNotFound):
        decide_team(state, command, ALICE, agent_known=False)


@pytest.mark.parametrize("actor", [BOB, CAROL])
@pytest.mark.parametrize(
    "command",
    [
        BILLING,
        AddTeamMember(team_id="billing", agent_id="bob"),
        RemoveTeamMember(team_id="billing", agent_id="bob"),
    ],
)
def test_only_admins_manage_teams(actor: Actor, command: TeamCommand) -> None:
    state = team_after((BILLING, ALICE))

    with pytest.raises(errors.Forbidden):
        decide_team(state, command, actor)


def test_a_team_created_without_routing_says_so() -> None:
    command = CreateTeam(team_id="vip", name="VIP", routing=False)

    assert decide_team(TeamState(), command, ALICE) == [
        TeamCreated(team_id="vip", name="VIP", routing=False)
    ]


# -- the handler -----------------------------------------------------------------------


@pytest.fixture
def store() -> MemoryEventStore:
    return MemoryEventStore()


async def test_the_handler_appends_to_the_agents_stream_and_reads_it_back(
    store: MemoryEventStore,
) -> None:
    handler = StaffHandler(store)

    result = await handler.handle(ONLINE, BOB)

    assert result.stream_id == "agent-bob"
    assert result.events == ["AgentRegistered", "AgentAvailabilityChanged"]
    assert (result.version, result.position) == (2, 2)
    state, version, position = await handler.agent("bob")
    assert (state.display_name, state.availability, version, position) == (
        "Bob Builder",
        Availability.ONLINE,
        2,
        2,
    )


async def test_a_command_that_changes_nothing_answers_with_where_the_stream_is(
    store: MemoryEventStore,
) -> None:
    handler = StaffHandler(store)
    await handler.handle(ONLINE, BOB)

    again = await handler.handle(ONLINE, BOB)

    assert (again.events, again.version, again.position) == ([], 2, 2)


async def test_an_unknown_agent_or_team_reads_as_unregistered(store: MemoryEventStore) -> None:
    handler = StaffHandler(store)

    agent, agent_version, _ = await handler.agent("ghost")
    team, team_version, _ = await handler.team("ghost")

    assert not agent.registered and not team.created
    assert agent_version == team_version == 0


async def test_a_member_must_be_in_the_directory(store: MemoryEventStore) -> None:
    handler = StaffHandler(store)
    await handler.handle(BILLING, ALICE)

    with pytest.raises(errors.AgentNotFound):
        await handler.handle(AddTeamMember(team_id="billing", agent_id="bob"), ALICE)
    await handler.handle(ONLINE, BOB)
    added = await handler.handle(AddTeamMember(team_id="billing", agent_id="bob"), ALICE)

    assert added.stream_id == "team-billing" and added.events == ["TeamMemberAdded"]
    assert (await handler.team("billing"))[0].members == frozenset({"bob"})


async def test_a_refused_command_writes_nothing(store: MemoryEventStore) -> None:
    handler = StaffHandler(store)

    with pytest.raises(errors.Forbidden):
        await handler.handle(BILLING, BOB)

    assert await store.head_position() == 0


async def test_concurrent_writers_to_one_agent_all_land_in_order(store: MemoryEventStore) -> None:
    handler, other = StaffHandler(store), StaffHandler(store)
    await handler.handle(ONLINE, BOB)

    # Two processes' handlers change Bob at once: each conflict is retried from fresh.
    await asyncio.gather(
        handler.handle(UpdateAgent(agent_id="bob", capacity=4), ALICE),
        other.handle(UpdateAgent(agent_id="bob", display_name="Robert"), BOB),
    )

    state, version, _ = await handler.agent("bob")
    assert (state.capacity, state.display_name, version) == (4, "Robert", 4)


class Conflicting(MemoryEventStore):
    """Someone else always writes first."""

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int | None
    ) -> AppendResult:
        raise ConcurrencyError(stream_id, expected_version or 0, 99)


class Down(MemoryEventStore):
    async def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int | None
    ) -> AppendResult:
        raise StoreUnavailable("down", retry_after=2.0)


async def test_a_stream_that_is_always_taken_is_answered_unavailable() -> None:
    with pytest.raises(errors.Unavailable):
        await StaffHandler(Conflicting(), max_attempts=3).handle(ONLINE, BOB)


async def test_a_store_that_is_down_is_answered_unavailable_with_its_retry_after() -> None:
    with pytest.raises(errors.Unavailable) as refused:
        await StaffHandler(Down()).handle(ONLINE, BOB)

    assert refused.value.retry_after == 2


def test_removing_a_member_emits_the_removal() -> None:
    state = team_after((BILLING, ALICE), (AddTeamMember(team_id="billing", agent_id="bob"), ALICE))

    events = decide_team(state, RemoveTeamMember(team_id="billing", agent_id="bob"), ALICE)

    assert events == [TeamMemberRemoved(team_id="billing", agent_id="bob")]
