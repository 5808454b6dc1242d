"""``parley events verify`` against a tampered log, and ``parley events head``:
the real CLI in a subprocess, each tampering as an auditor tried it (issue #19)
on the scripted history of test_events_cli.py (positions 1..9)."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
import pytest

from tests.conftest import MakeDatabase
from tests.integration.test_events_cli import run, scripted

REPLICA = "SET session_replication_role = replica;"  # a superuser's way past the triggers
TAMPERINGS = {
    # name: (SQL, the first position where the chain breaks)
    "update as a replica": (
        REPLICA
        + """UPDATE events SET data = jsonb_set(data::jsonb, '{content}',
                     '"I agree to pay 10000 EUR"')::json WHERE global_position = 3""",
        3,
    ),
    "update with the trigger disabled, then enabled again": (
        """ALTER TABLE events DISABLE TRIGGER events_append_only;
           UPDATE events SET data = jsonb_set(data::jsonb, '{content}', '"Never mind."')::json
           WHERE global_position = 5;
           ALTER TABLE events ENABLE TRIGGER events_append_only""",
        5,
    ),
    "delete a middle row": (REPLICA + "DELETE FROM events WHERE global_position = 6", 7),
    # Rows of two streams trade places: each stream keeps its order, so only
    # the chain can tell.
    "swap two positions": (
        REPLICA
        + """UPDATE events SET global_position = 1003 WHERE global_position = 3;
             UPDATE events SET global_position = 3 WHERE global_position = 4;
             UPDATE events SET global_position = 4 WHERE global_position = 1003""",
        3,
    ),
    "edit metadata": (
        REPLICA
        + """UPDATE events
             SET metadata = jsonb_set(metadata::jsonb, '{actor_id}', '"mallory"')::json
             WHERE global_position = 7""",
        7,
    ),
    "edit recorded_at": (
        REPLICA
        + """UPDATE events SET recorded_at = recorded_at - interval '1 hour'
                     WHERE global_position = 2""",
        2,
    ),
}
# Rewrite position 5, then recompute every hash after it with the database's
# own functions: the chain is consistent again, only a kept head tells.
REWRITE_THE_TAIL = (
    REPLICA
    + """
UPDATE events SET data = jsonb_set(data::jsonb, '{content}', '"Rewritten."')::json
WHERE global_position = 5;
WITH RECURSIVE chain (global_position, hash) AS (
    SELECT global_position, hash FROM events WHERE global_position = 4
    UNION ALL
    SELECT e.global_position,
           parley_event_hash(c.hash, e.global_position, e.stream_position, e.recorded_at,
                             parley_event_content(e.stream_id, e.event_id, e.type,
                                                  e.schema_version, e.data, e.metadata))
    FROM chain AS c JOIN events AS e ON e.global_position = c.global_position + 1
)
UPDATE events AS e SET hash = c.hash FROM chain AS c
WHERE e.global_position = c.global_position AND e.global_position > 4
"""
)


async def kept_then_tampered(make_database: MakeDatabase, sql: str) -> tuple[str, str]:
    """A fresh scripted log, its head as ``parley events head`` printed it
    before the tampering, then ``sql`` run in a session of its own."""
    url = await make_database()
    await scripted(url)
    head = await run(url, "events", "head")
    assert head.returncode == 0, head.stderr
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
    return url, head.stdout.strip()


async def verify(url: str, *args: str) -> tuple[int, dict[str, Any]]:
    report = await run(url, "events", "verify", "--json", *args)
    return report.returncode, msgspec.json.decode(report.stdout)


@pytest.mark.parametrize("name", TAMPERINGS)
async def test_each_tampering_is_found_at_its_position(
    make_database: MakeDatabase, name: str
) -> None:
    sql, first = TAMPERINGS[name]
    url, _ = await kept_then_tampered(make_database, sql)

    code, report = await verify(url)
    human = await run(url, "events", "verify")

    assert code == 1 and report["ok"] is False
    broken = [p for p in report["problems"] if p["check"] == "hash chain"]
    assert broken[0]["where"] == f"position {first}"
    assert broken[0]["detail"].endswith("(changed, removed, inserted or moved)")
    # The guard is back in place (or was never off for others): only the
    # chain tells (and, for the deleted row, the holes it left).
    positions = {"global positions", "stream positions"} if "delete" in name else set()
    assert {p["check"] for p in report["problems"]} == {"hash chain"} | positions
    assert human.returncode == 1
    assert any(
        "hash chain" in line and f"position {first} " in line for line in human.stdout.splitlines()
    ), human.stdout


async def test_a_deleted_last_row_is_found_against_a_kept_head(
    make_database: MakeDatabase,
) -> None:
    url, kept = await kept_then_tampered(
        make_database, REPLICA + "DELETE FROM events WHERE global_position = 9"
    )
    assert kept.startswith("9:")

    # Alone, the log is a consistent shorter log: that is what a kept head is for.
    code, alone = await verify(url)
    assert (code, alone["ok"], alone["head"]) == (0, True, 8)
    code, report = await verify(url, "--expect-head", kept)
    human = await run(url, "events", "verify", "--expect-head", kept)

    assert code == 1
    assert report["problems"] == [
        {
            "check": "kept head",
            "where": "position 9",
            "detail": "no event there: the log ends at 8, the events after it are gone",
        }
    ]
    assert report["expected_head"] == kept
    assert human.returncode == 1 and "the events after it are gone" in human.stdout


async def test_a_rewritten_and_rehashed_tail_is_found_against_a_kept_head(
    make_database: MakeDatabase,
) -> None:
    url, kept = await kept_then_tampered(make_database, REWRITE_THE_TAIL)

    code, alone = await verify(url)
    assert code == 0 and alone["ok"]  # the limit docs/AUDIT.md states
    code, report = await verify(url, "--expect-head", kept)

    assert code == 1
    [problem] = report["problems"]
    assert (problem["check"], problem["where"]) == ("kept head", "position 9")
    assert problem["detail"].endswith(f"kept {kept[2:18]}…: rewritten")


async def test_a_clean_log_verifies_with_its_kept_head(make_database: MakeDatabase) -> None:
    url = await make_database()
    empty = await run(url, "events", "head")
    assert (empty.returncode, empty.stdout) == (0, f"0:{'0' * 64}\n")
    await scripted(url)
    head = (await run(url, "events", "head")).stdout.strip()
    older = (await run(url, "events", "head")).stdout.strip()
    assert head == older and head.startswith("9:") and len(head) == 2 + 64

    code, report = await verify(url, "--expect-head", head)
    human = await run(url, "events", "verify", "--expect-head", head)
    from_empty = await verify(url, "--expect-head", empty.stdout.strip())

    assert (code, report["ok"], report["problems"]) == (0, True, [])
    assert f"{report['head']}:{report['head_hash']}" == head
    assert human.returncode == 0
    assert f"it still holds the kept head {head}" in human.stdout
    assert f"head to keep: {head}" in human.stdout
    assert from_empty[0] == 0  # position 0 is the empty log, with 32 zero bytes


@pytest.mark.parametrize("bad", ["9", "nine:abc", f"9:{'0' * 63}", f"9:{'z' * 64}"])
async def test_a_malformed_kept_head_is_a_usage_error(database_url: str, bad: str) -> None:
    result = await run(database_url, "events", "verify", "--expect-head", bad)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "Invalid value for '--expect-head'" in result.stderr
    assert "is not POS:HASH" in result.stderr
