"""The one access policy (``commands.access``), given/when/then."""

from __future__ import annotations

import pytest

from commands import access, errors
from commands.model import Actor, Role
from events.catalogue import Side

ADMIN = Actor(id="alice", role=Role.ADMIN)
AGENT = Actor(id="bob", role=Role.AGENT)
CAROL = Actor(id="carol", role=Role.CLIENT, client_id="c-1")
MALLORY = Actor(id="mallory", role=Role.CLIENT, client_id="c-2")


@pytest.mark.parametrize("staff", [ADMIN, AGENT])
def test_staff_see_write_and_manage_every_conversation(staff: Actor) -> None:
    # Given any client's conversation, then staff may do everything with it.
    assert access.can_see(staff, "c-1") and access.can_write(staff, "c-1")
    assert access.can_manage(staff)
    access.require_see(staff, "c-1")
    access.require_write(staff, "c-1")
    access.require_manage(staff, "delete a conversation")


def test_a_client_sees_and_writes_only_its_own() -> None:
    # Carol's conversation (owner c-1): hers, not Mallory's.
    assert access.can_see(CAROL, "c-1") and access.can_write(CAROL, "c-1")
    assert not access.can_see(MALLORY, "c-1") and not access.can_write(MALLORY, "c-1")
    with pytest.raises(errors.Forbidden, match="belongs to another client"):
        access.require_see(MALLORY, "c-1")
    with pytest.raises(errors.Forbidden, match="belongs to another client"):
        access.require_write(MALLORY, "c-1")


def test_a_client_without_a_client_id_owns_nothing() -> None:
    # Even a conversation whose owner is blank (a state not yet started).
    nobody = Actor(id="x", role=Role.CLIENT)
    assert not access.can_see(nobody, "c-1")
    assert not access.can_see(CAROL, "")


def test_a_refusal_keeps_its_message_and_field() -> None:
    with pytest.raises(errors.Forbidden) as refused:
        access.require_write(MALLORY, "c-1", "a client may only start its own", field="client.id")
    assert (refused.value.message, refused.value.field) == (
        "a client may only start its own",
        "client.id",
    )


def test_a_client_manages_nothing() -> None:
    assert not access.can_manage(CAROL)
    with pytest.raises(errors.Forbidden, match="only staff may time travel"):
        access.require_manage(CAROL, "time travel")


def test_who_may_send_as_which_side() -> None:
    assert access.may_send_as(ADMIN, Side.ADMIN) and access.may_send_as(AGENT, Side.SYSTEM)
    assert not access.may_send_as(ADMIN, Side.CLIENT)
    assert access.may_send_as(CAROL, Side.CLIENT)
    assert not access.may_send_as(CAROL, Side.ADMIN) and not access.may_send_as(CAROL, Side.SYSTEM)
    with pytest.raises(errors.Forbidden, match="a client may not send as admin") as refused:
        access.require_send_as(CAROL, Side.ADMIN)
    assert refused.value.field == "sender"
