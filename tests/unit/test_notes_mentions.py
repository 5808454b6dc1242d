"""Which agents a note's ``@name``s mention."""

from __future__ import annotations

from commands.notes import mentioned

DIRECTORY = {"bob": "Bob Stone", "ann": "Ann Lee", "ann.lee": "Someone Else"}


def test_an_agent_is_mentioned_by_id_or_by_name_without_spaces_in_any_case() -> None:
    assert mentioned("@bob and @AnnLee, please look", DIRECTORY) == ("bob", "ann")
    assert mentioned("@BOBSTONE?", DIRECTORY) == ("bob",)


def test_each_agent_once_in_the_order_first_mentioned() -> None:
    assert mentioned("@ann @bob @ann.", DIRECTORY) == ("ann", "bob")


def test_an_id_wins_over_another_agents_name_and_unknown_names_are_ignored() -> None:
    assert mentioned("@ann.lee", DIRECTORY) == ("ann.lee",)
    assert mentioned("@nobody", DIRECTORY) == ()


def test_e_mail_addresses_and_bare_at_signs_mention_nobody() -> None:
    assert mentioned("write to carol@bob or @ alone", DIRECTORY) == ()
