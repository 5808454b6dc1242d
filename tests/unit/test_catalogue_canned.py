"""Canned responses, given/when/then: the pure decider (shared and own, who
may manage which, codes unique among what one agent can use) and the
CatalogueHandler on the in-memory event store."""

from __future__ import annotations

import itertools
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands import errors
from commands.canned import (
    CannedCommand,
    CannedState,
    ChangeCannedResponse,
    CreateCannedResponse,
    DeleteCannedResponse,
    decide_canned,
    fold_canned,
)
from commands.catalogue_handler import CatalogueHandler
from commands.model import Actor, Role
from events.catalogue import CannedResponseChanged, CannedResponseCreated, CannedResponseDeleted
from tests.fakes.memory_store import MemoryEventStore

ALICE = Actor(id="alice", role=Role.ADMIN)
BOB = Actor(id="bob", role=Role.AGENT)
DANA = Actor(id="dana", role=Role.AGENT)
CAROL = Actor(id="carol", role=Role.CLIENT, client_id="c-1")
HELLO = "Hello! How can I help?"


class Catalogue:
    """A catalogue built step by step, remembering each created response's id."""

    def __init__(self) -> None:
        self.state = CannedState()
        self.ids = (UUID(int=n) for n in itertools.count(1))

    def do(self, command: CannedCommand, actor: Actor) -> UUID:
        new_id = next(self.ids)
        self.state = fold_canned(decide_canned(self.state, command, actor, new_id), self.state)
        return new_id

    def create(self, code: str, actor: Actor, *, shared: bool = False) -> UUID:
        return self.do(CreateCannedResponse(code=code, content=HELLO, shared=shared), actor)


def test_an_agent_creates_their_own_response_and_an_admin_a_shared_one() -> None:
    state, new_id = CannedState(), uuid4()

    own = decide_canned(state, CreateCannedResponse(code="hi", content=HELLO), BOB, new_id)
    shared = decide_canned(
        state, CreateCannedResponse(code="hi", content=HELLO, shared=True), ALICE, new_id
    )

    assert own == [
        CannedResponseCreated(response_id=new_id, code="hi", content=HELLO, owner_id="bob")
    ]
    assert shared == [CannedResponseCreated(response_id=new_id, code="hi", content=HELLO)]


def test_only_admins_create_shared_responses_and_clients_nothing() -> None:
    shared = CreateCannedResponse(code="hi", content=HELLO, shared=True)
    with pytest.raises(errors.Forbidden):
        decide_canned(CannedState(), shared, BOB, uuid4())
    for command in (
        CreateCannedResponse(code="hi", content=HELLO),
        ChangeCannedResponse(response_id=uuid4(), content=HELLO),
        DeleteCannedResponse(response_id=uuid4()),
    ):
        with pytest.raises(errors.Forbidden):
            decide_canned(CannedState(), command, CAROL, uuid4())


def test_an_id_that_cannot_name_an_agent_cannot_own_a_response() -> None:
    odd = Actor(id="bob smith/x", role=Role.AGENT)
    with pytest.raises(errors.InvalidCommand):
        decide_canned(CannedState(), CreateCannedResponse(code="hi", content=HELLO), odd, uuid4())


def test_an_agents_own_codes_are_unique_ignoring_case_but_two_agents_may_share_one() -> None:
    catalogue = Catalogue()
    first = catalogue.create("hello", BOB)

    with pytest.raises(errors.CodeTaken) as refused:
        catalogue.create("HELLO", BOB)
    catalogue.create("Hello", DANA)

    assert refused.value.field == "code" and refused.value.details == {"response_id": str(first)}


def test_a_shared_code_clashes_with_every_code_and_every_code_with_the_shared_ones() -> None:
    catalogue = Catalogue()
    catalogue.create("hello", BOB)
    catalogue.create("bye", ALICE, shared=True)

    with pytest.raises(errors.CodeTaken, match="bob's own"):
        catalogue.create("Hello", ALICE, shared=True)
    with pytest.raises(errors.CodeTaken, match="a shared response"):
        catalogue.create("BYE", DANA)


def test_the_owner_and_admins_manage_an_own_response_others_do_not_see_it() -> None:
    catalogue = Catalogue()
    bobs = catalogue.create("hello", BOB)

    assert decide_canned(
        catalogue.state, ChangeCannedResponse(response_id=bobs, code="Hi"), BOB, uuid4()
    ) == [CannedResponseChanged(response_id=bobs, code="Hi")]
    assert decide_canned(
        catalogue.state, DeleteCannedResponse(response_id=bobs), ALICE, uuid4()
    ) == [CannedResponseDeleted(response_id=bobs)]
    for command in (
        ChangeCannedResponse(response_id=bobs, code="x"),
        DeleteCannedResponse(response_id=bobs),
    ):
        with pytest.raises(errors.CannedResponseNotFound):
            decide_canned(catalogue.state, command, DANA, uuid4())


def test_agents_use_shared_responses_but_may_not_change_them() -> None:
    catalogue = Catalogue()
    shared = catalogue.create("hello", ALICE, shared=True)

    with pytest.raises(errors.Forbidden):
        decide_canned(
            catalogue.state, ChangeCannedResponse(response_id=shared, content="x"), BOB, uuid4()
        )
    with pytest.raises(errors.Forbidden):
        decide_canned(catalogue.state, DeleteCannedResponse(response_id=shared), BOB, uuid4())


def test_a_change_emits_only_what_changes_and_may_recase_its_own_code() -> None:
    catalogue = Catalogue()
    bobs = catalogue.create("hello", BOB)
    catalogue.create("bye", BOB)
    state = catalogue.state

    assert decide_canned(
        state, ChangeCannedResponse(response_id=bobs, code="HELLO"), BOB, uuid4()
    ) == [CannedResponseChanged(response_id=bobs, code="HELLO")]
    assert (
        decide_canned(
            state, ChangeCannedResponse(response_id=bobs, code="hello", content=HELLO), BOB, uuid4()
        )
        == []
    )
    with pytest.raises(errors.CodeTaken):
        decide_canned(state, ChangeCannedResponse(response_id=bobs, code="Bye"), BOB, uuid4())
    with pytest.raises(errors.InvalidCommand):
        decide_canned(state, ChangeCannedResponse(response_id=bobs), BOB, uuid4())


def test_deleting_twice_changes_nothing_a_deleted_response_is_gone_and_its_code_free() -> None:
    catalogue = Catalogue()
    bobs = catalogue.create("hello", BOB)
    catalogue.do(DeleteCannedResponse(response_id=bobs), BOB)

    assert (
        decide_canned(catalogue.state, DeleteCannedResponse(response_id=bobs), BOB, uuid4()) == []
    )
    with pytest.raises(errors.CannedResponseNotFound):
        decide_canned(
            catalogue.state, ChangeCannedResponse(response_id=bobs, content="x"), BOB, uuid4()
        )
    with pytest.raises(errors.CannedResponseNotFound):
        decide_canned(catalogue.state, DeleteCannedResponse(response_id=uuid4()), ALICE, uuid4())
    catalogue.create("hello", BOB)


ACTORS = st.sampled_from([ALICE, BOB, DANA])
CODES = st.sampled_from(["hi", "HI", "Hi", "bye", "thanks", "x-1"])


@given(
    st.lists(
        st.tuples(
            ACTORS,
            st.sampled_from(["create", "share", "recode", "delete"]),
            CODES,
            st.integers(1, 20),
        ),
        max_size=40,
    )
)
def test_every_agent_can_use_each_code_at_most_once(
    steps: list[tuple[Actor, str, str, int]],
) -> None:
    catalogue = Catalogue()
    for actor, action, code, which in steps:
        target = UUID(int=which)
        command: CannedCommand = {
            "create": CreateCannedResponse(code=code, content=HELLO),
            "share": CreateCannedResponse(code=code, content=HELLO, shared=True),
            "recode": ChangeCannedResponse(response_id=target, code=code),
            "delete": DeleteCannedResponse(response_id=target),
        }[action]
        try:
            catalogue.do(command, actor)
        except (errors.CodeTaken, errors.Forbidden, errors.CannedResponseNotFound):
            continue
    for agent in ("alice", "bob", "dana"):
        usable = [
            r.code.casefold()
            for r in catalogue.state.responses.values()
            if not r.deleted and r.owner_id in (None, agent)
        ]
        assert len(usable) == len(set(usable))


async def test_the_handler_appends_to_the_canned_stream_and_names_the_new_response() -> None:
    store = MemoryEventStore()
    handler = CatalogueHandler(store)

    created = await handler.handle(CreateCannedResponse(code="hi", content=HELLO), BOB)
    assert created.response_id is not None
    changed = await handler.handle(
        ChangeCannedResponse(response_id=created.response_id, content="Hey"), BOB
    )

    assert (created.stream_id, created.events) == ("canned-responses", ["CannedResponseCreated"])
    assert (changed.version, changed.response_id) == (2, created.response_id)
    state, version, _ = await handler.canned()
    assert version == 2 and state.responses[created.response_id].content == "Hey"
