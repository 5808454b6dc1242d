"""The label catalogue, given/when/then: the pure decider (who may, unique
ids and names, slugs, ids never reused) and the CatalogueHandler on the
in-memory event store."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands import errors
from commands.catalogue_handler import CatalogueHandler
from commands.labels import (
    ChangeLabel,
    CreateLabel,
    DeleteLabel,
    LabelCommand,
    LabelsState,
    decide_labels,
    fold_labels,
    label_slug,
)
from commands.model import Actor, Role
from events.catalogue import LabelChanged, LabelCreated, LabelDeleted, LabelId
from events.envelope import AppendResult, NewEvent, RecordedEvent
from events.store import StoreUnavailable
from tests.fakes.memory_store import MemoryEventStore

ALICE = Actor(id="alice", role=Role.ADMIN)
BOB = Actor(id="bob", role=Role.AGENT)
CAROL = Actor(id="carol", role=Role.CLIENT, client_id="c-1")
RED = "#ff0000"


def after(*commands: LabelCommand) -> LabelsState:
    """The catalogue after ``commands``, each decided by an admin and folded in turn."""
    state = LabelsState()
    for command in commands:
        state = fold_labels(decide_labels(state, command, ALICE), state)
    return state


def create(name: str, label_id: str | None = None, colour: str = RED) -> CreateLabel:
    return CreateLabel(name=name, colour=colour, label_id=label_id)


# -- slugs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Billing & Refunds!", "billing-refunds"),
        ("  Ünïcode Café  ", "unicode-cafe"),
        ("VIP", "vip"),
        ("a__b--c", "a-b-c"),
        ("!!!", "label"),
        ("日本語", "label"),
        ("x" * 49 + " y", "x" * 49),
    ],
)
def test_a_slug_is_lower_case_ascii_with_runs_of_anything_else_as_one_dash(
    name: str, slug: str
) -> None:
    assert label_slug(name) == slug


@given(st.text(max_size=80))
def test_every_slug_is_a_valid_label_id(name: str) -> None:
    assert msgspec.convert(label_slug(name), LabelId) == label_slug(name)


# -- creating --------------------------------------------------------------------------


def test_an_admin_creates_a_label_named_by_its_slug_trimmed_and_lower_case_colour() -> None:
    events = decide_labels(LabelsState(), create("  Needs Refund ", colour="#AbCdEf"), ALICE)

    assert events == [LabelCreated(label_id="needs-refund", name="Needs Refund", colour="#abcdef")]


def test_a_label_may_be_given_its_own_id() -> None:
    events = decide_labels(LabelsState(), create("VIP", label_id="very_important"), ALICE)

    assert events == [LabelCreated(label_id="very_important", name="VIP", colour=RED)]


@pytest.mark.parametrize("actor", [BOB, CAROL])
def test_only_admins_manage_labels(actor: Actor) -> None:
    state = after(create("VIP"))
    for command in (
        create("Other"),
        ChangeLabel(label_id="vip", colour=RED),
        DeleteLabel(label_id="vip"),
    ):
        with pytest.raises(errors.Forbidden):
            decide_labels(state, command, actor)


def test_names_are_unique_ignoring_case_and_blanks() -> None:
    state = after(create("VIP"))

    with pytest.raises(errors.LabelExists) as refused:
        decide_labels(state, create(" vip ", label_id="other"), ALICE)
    assert refused.value.field == "name" and refused.value.details == {"label_id": "vip"}


def test_an_id_in_use_is_refused() -> None:
    state = after(create("VIP"))

    with pytest.raises(errors.LabelExists) as refused:
        decide_labels(state, create("Very important", label_id="vip"), ALICE)
    assert refused.value.field == "label_id"


def test_a_slug_in_use_by_another_name_gets_the_first_free_suffix() -> None:
    state = after(create("Billing!"), create("Billing?"))

    assert decide_labels(state, create("Billing."), ALICE) == [
        LabelCreated(label_id="billing-3", name="Billing.", colour=RED)
    ]
    assert sorted(state.labels) == ["billing", "billing-2"]


def test_a_suffix_still_fits_fifty_characters() -> None:
    long = "a" * 60
    state = after(create(long))

    (created,) = decide_labels(state, create(long + "!"), ALICE)

    assert isinstance(created, LabelCreated)
    assert created.label_id == "a" * 48 + "-2"


def test_a_deleted_labels_id_is_never_reused_but_its_name_is_free() -> None:
    state = after(create("VIP"), DeleteLabel(label_id="vip"))

    with pytest.raises(errors.LabelExists, match="never reused"):
        decide_labels(state, create("VIP", label_id="vip"), ALICE)
    assert decide_labels(state, create("VIP"), ALICE) == [
        LabelCreated(label_id="vip-2", name="VIP", colour=RED)
    ]


# -- changing and deleting -------------------------------------------------------------


def test_a_label_is_renamed_and_recoloured_with_only_what_changes() -> None:
    state = after(create("VIP"))

    assert decide_labels(state, ChangeLabel(label_id="vip", name="Gold", colour=RED), ALICE) == [
        LabelChanged(label_id="vip", name="Gold")
    ]
    assert decide_labels(state, ChangeLabel(label_id="vip", colour="#00FF00"), ALICE) == [
        LabelChanged(label_id="vip", colour="#00ff00")
    ]
    assert decide_labels(state, ChangeLabel(label_id="vip", name="VIP"), ALICE) == []


def test_a_label_may_change_the_case_of_its_own_name_but_not_take_anothers() -> None:
    state = after(create("VIP"), create("Gold"))

    assert decide_labels(state, ChangeLabel(label_id="vip", name="Vip"), ALICE) == [
        LabelChanged(label_id="vip", name="Vip")
    ]
    with pytest.raises(errors.LabelExists):
        decide_labels(state, ChangeLabel(label_id="vip", name="GOLD"), ALICE)


def test_an_empty_change_is_meaningless() -> None:
    with pytest.raises(errors.InvalidCommand):
        decide_labels(after(create("VIP")), ChangeLabel(label_id="vip"), ALICE)


@pytest.mark.parametrize(
    "command", [ChangeLabel(label_id="vip", name="X"), ChangeLabel(label_id="nope", colour=RED)]
)
def test_a_deleted_or_unknown_label_cannot_be_changed(command: ChangeLabel) -> None:
    state = after(create("VIP"), DeleteLabel(label_id="vip"))

    with pytest.raises(errors.LabelNotFound):
        decide_labels(state, command, ALICE)


def test_deleting_twice_changes_nothing_and_an_unknown_label_is_not_found() -> None:
    state = after(create("VIP"))

    assert decide_labels(state, DeleteLabel(label_id="vip"), ALICE) == [
        LabelDeleted(label_id="vip")
    ]
    assert (
        decide_labels(
            after(create("VIP"), DeleteLabel(label_id="vip")), DeleteLabel(label_id="vip"), ALICE
        )
        == []
    )
    with pytest.raises(errors.LabelNotFound):
        decide_labels(state, DeleteLabel(label_id="nope"), ALICE)


NAMES = st.sampled_from(["VIP", "vip", "Gold", "gold ", "Billing!", "Billing?", "日本", "!!"])
IDS = st.none() | st.sampled_from(["vip", "gold", "billing", "label", "x"])
COMMANDS = st.one_of(
    st.builds(CreateLabel, name=NAMES, colour=st.just(RED), label_id=IDS),
    st.builds(
        ChangeLabel, label_id=st.sampled_from(["vip", "gold", "billing-2", "label"]), name=NAMES
    ),
    st.builds(
        DeleteLabel, label_id=st.sampled_from(["vip", "gold", "billing", "label", "label-2"])
    ),
)


@given(st.lists(COMMANDS, max_size=30))
def test_whatever_admins_do_names_stay_unique_and_ids_are_never_reused(
    commands: list[LabelCommand],
) -> None:
    state = LabelsState()
    ever_created: list[str] = []
    for command in commands:
        try:
            events = decide_labels(state, command, ALICE)
        except (errors.LabelExists, errors.LabelNotFound, errors.InvalidCommand):
            continue
        ever_created += [e.label_id for e in events if isinstance(e, LabelCreated)]
        state = fold_labels(events, state)
        names = [label.name.casefold() for label in state.labels.values()]
        assert len(names) == len(set(names))
    assert len(ever_created) == len(set(ever_created))
    assert not state.labels.keys() & state.deleted


# -- the handler -----------------------------------------------------------------------


async def test_the_handler_appends_to_the_labels_stream_and_names_the_new_label() -> None:
    store = MemoryEventStore()
    handler = CatalogueHandler(store)

    created = await handler.handle(create("Needs Refund"), ALICE)
    unchanged = await handler.handle(ChangeLabel(label_id="needs-refund", colour=RED), ALICE)

    assert (created.stream_id, created.version, created.events) == ("labels", 1, ["LabelCreated"])
    assert created.label_id == "needs-refund"
    assert (unchanged.events, unchanged.position, unchanged.label_id) == (
        [],
        created.position,
        "needs-refund",
    )
    assert await handler.label_exists("needs-refund")
    assert not await handler.label_exists("vip")


async def test_concurrent_creations_of_one_name_create_one_label() -> None:
    store = MemoryEventStore()
    handlers = [CatalogueHandler(store) for _ in range(5)]

    results = await asyncio.gather(
        *(
            h.handle(create(name), ALICE)
            for h, name in zip(handlers, ["VIP", "vip", "Vip", "VIP ", " vip"], strict=True)
        ),
        return_exceptions=True,
    )

    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, errors.LabelExists) for r in results if isinstance(r, BaseException))
    assert len(await store.read_stream("labels")) == 1


class Down(MemoryEventStore):
    async def read_stream(
        self, stream_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        raise StoreUnavailable("down", retry_after=2.0)

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int | None
    ) -> AppendResult:
        raise StoreUnavailable("down", retry_after=2.0)


async def test_a_store_that_is_down_is_answered_unavailable() -> None:
    with pytest.raises(errors.Unavailable) as refused:
        await CatalogueHandler(Down()).handle(create("VIP"), ALICE)
    assert refused.value.retry_after == 2
