"""``parley events show | tail | export | verify``, run as a user runs them: the
real CLI in a subprocess against a fresh database, with a scripted history."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from commands.handler import CommandHandler
from commands.model import (
    Actor,
    ChangeStatus,
    DeleteConversation,
    MarkRead,
    Role,
    SendMessage,
    StartConversation,
    UpdateConversation,
    stream_id_for,
)
from events.catalogue import Channel, Client, ConversationStarted, Priority, Status
from events.envelope import NewEvent, RecordedEvent
from events.postgres.store import PostgresEventStore, create_pool
from tests.conftest import MakeDatabase
from tests.factories import INSERT_OLD_ROW, append_patiently, message

PARLEY = str(Path(sys.executable).with_name("parley"))
ALICE = Actor(id="alice", role=Role.ADMIN)
CAROL = Actor(id="c-1", role=Role.CLIENT, client_id="c-1")
PARCEL = "My parcel has not arrived, and it was due on Monday"
EXPORT_RSS_BOUND = 100 * 1024 * 1024  # bytes; docs/AUDIT.md states it
decode_envelope = msgspec.json.Decoder(RecordedEvent).decode


def parley(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PARLEY_DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run(
        [PARLEY, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


async def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI, in a thread so the test's event loop keeps running."""
    return await asyncio.to_thread(parley, url, *args)


def envelopes(stdout: str) -> list[RecordedEvent]:
    return [decode_envelope(line) for line in stdout.splitlines()]


async def scripted(url: str) -> tuple[UUID, UUID]:
    """Positions 1..9: the conversation ``cid`` (1, 3, 5, 6, 7) and another one
    (2, 4, 8, 9) interleaved with it."""
    pool = await create_pool(url)
    store = PostgresEventStore(pool)
    handler = CommandHandler(store)
    try:
        start = StartConversation(
            client=Client(id="c-1", name="Carol"), channel=Channel.WEB, priority=Priority.HIGH
        )
        cid = (await handler.handle(start, ALICE)).conversation_id
        other = (await handler.handle(start, ALICE)).conversation_id
        await handler.handle(SendMessage(conversation_id=cid, content=PARCEL), CAROL)
        await handler.handle(SendMessage(conversation_id=other, content="hi"), CAROL)
        await handler.handle(SendMessage(conversation_id=cid, content="Sorry! Checking."), ALICE)
        await handler.handle(MarkRead(conversation_id=cid), ALICE)
        await handler.handle(
            ChangeStatus(conversation_id=cid, status=Status.CLOSED, reason="delivered"), ALICE
        )
        update = UpdateConversation(conversation_id=other, priority=Priority.LOW, summary="Lost")
        await handler.handle(update, ALICE)
        await handler.handle(DeleteConversation(conversation_id=other), ALICE)
    finally:
        await store.close()
        await pool.close()
    return cid, other


async def test_show_prints_a_conversation_as_a_timeline(make_database: MakeDatabase) -> None:
    url = await make_database()
    cid, _ = await scripted(url)

    as_json = await run(url, "events", "show", str(cid), "--json")
    timeline = await run(url, "events", "show", str(cid))

    assert as_json.returncode == 0, as_json.stderr
    shown = envelopes(as_json.stdout)
    assert [e.global_position for e in shown] == [1, 3, 5, 6, 7]
    assert [e.stream_position for e in shown] == [1, 2, 3, 4, 5]
    assert {e.stream_id for e in shown} == {stream_id_for(cid)}
    # One line per event: position, time, actor, then the summary.
    lines = timeline.stdout.splitlines()
    assert [int(line.split()[0]) for line in lines] == [1, 3, 5, 6, 7]
    assert [line.split(maxsplit=2)[2] for line in lines] == [
        'admin alice       ConversationStarted for client c-1 ("Carol") via web, High, active',
        f'client c-1        MessageSent #1 by client c-1: "{PARCEL[:39]}…"',  # cut at 40
        'admin alice       MessageSent #2 by admin alice: "Sorry! Checking."',
        "admin alice       MessagesRead admin alice read up to #2",
        'admin alice       ConversationStatusChanged active -> closed ("delivered")',
    ]
    assert lines[0].split()[1].endswith("Z")  # the time, in UTC

    unknown = await run(url, "events", "show", str(uuid.uuid4()))
    assert unknown.returncode == 1 and "has no events" in unknown.stderr


async def test_tail_prints_the_global_log_from_a_position(make_database: MakeDatabase) -> None:
    url = await make_database()
    cid, other = await scripted(url)

    tail = await run(url, "events", "tail", "--from-position", "4", "--json")
    timeline = await run(url, "events", "tail", "--from-position", "6")

    assert tail.returncode == 0, tail.stderr
    assert [(e.global_position, e.type) for e in envelopes(tail.stdout)] == [
        (4, "MessageSent"),
        (5, "MessageSent"),
        (6, "MessagesRead"),
        (7, "ConversationStatusChanged"),
        (8, "ConversationUpdated"),
        (9, "ConversationDeleted"),
    ]
    assert envelopes(tail.stdout)[0].stream_id == stream_id_for(other)
    lines = timeline.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["6", "7", "8", "9"]
    # The global log names each event's stream, after the time.
    assert [line.split()[2] for line in lines] == [stream_id_for(cid)] * 2 + [
        stream_id_for(other)
    ] * 2
    assert lines[1].endswith('ConversationStatusChanged active -> closed ("delivered")')
    assert lines[2].endswith('ConversationUpdated priority Low, summary "Lost"')
    assert lines[3].endswith("admin alice       ConversationDeleted")

    # Without --from-position: the last 20 events.
    pool = await create_pool(url)
    store = PostgresEventStore(pool)
    third = uuid.uuid4()
    await store.append(stream_id_for(third), [message(third, seq=s) for s in range(1, 16)], 0)
    await store.close()
    await pool.close()
    last = await run(url, "events", "tail", "--json")
    assert [e.global_position for e in envelopes(last.stdout)] == list(range(5, 25))


async def test_tail_follow_prints_new_events_and_stops_cleanly_on_ctrl_c(
    make_database: MakeDatabase,
) -> None:
    url = await make_database()
    cid, _ = await scripted(url)
    env = {**os.environ, "PARLEY_DATABASE_URL": url}
    follow = await asyncio.create_subprocess_exec(
        PARLEY, "events", "tail", "--follow", "--from-position", "9", "--json",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert follow.stdout is not None
    try:
        first = decode_envelope(await asyncio.wait_for(follow.stdout.readline(), 30))
        assert first.global_position == 9
        # New events arrive while it waits; it prints them as they commit.
        pool = await create_pool(url)
        store = PostgresEventStore(pool)
        for seq in (3, 4, 5):
            await store.append(stream_id_for(cid), [message(cid, seq=seq)], None)
        await store.close()
        await pool.close()
        live = [decode_envelope(await asyncio.wait_for(follow.stdout.readline(), 30))]
        live += [decode_envelope(await asyncio.wait_for(follow.stdout.readline(), 30))]
        live += [decode_envelope(await asyncio.wait_for(follow.stdout.readline(), 30))]
        assert [e.global_position for e in live] == [10, 11, 12]

        follow.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(follow.wait(), 10) == 0
    finally:
        if follow.returncode is None:
            follow.kill()
            await follow.wait()


async def test_export_prints_json_lines_that_read_back_as_the_log(
    make_database: MakeDatabase,
) -> None:
    url = await make_database()
    await scripted(url)
    pool = await create_pool(url)
    stored = await PostgresEventStore(pool).read_all()
    await pool.close()

    everything = await run(url, "events", "export")
    middle = await run(url, "events", "export", "--from-position", "3", "--to-position", "5")

    assert everything.returncode == 0, everything.stderr
    assert envelopes(everything.stdout) == stored  # the same envelopes, field for field
    assert [e.global_position for e in envelopes(middle.stdout)] == [3, 4, 5]
    assert "exported 3 event(s)" in middle.stderr


def peak_rss(pid: int) -> int:
    """The process's peak resident set so far (VmHWM, bytes); 0 once it is gone.
    (Not wait4's ru_maxrss: that also counts the parent's memory at the fork.)"""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    kib = [line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(kib[0]) * 1024 if kib else 0


def export_measured(url: str) -> tuple[int, int, int, int]:
    """Run ``parley events export``, reading its output as it comes; its exit
    code, lines, bytes, and peak RSS (sampled every 1,000 lines)."""
    env = {**os.environ, "PARLEY_DATABASE_URL": url}
    export = subprocess.Popen(
        [PARLEY, "events", "export"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert export.stdout is not None
    lines = size = peak = 0
    for line in export.stdout:
        lines, size = lines + 1, size + len(line)
        assert decode_envelope(line).global_position == lines  # in order, no hole
        if lines % 1000 == 0:
            peak = max(peak, peak_rss(export.pid))
    return export.wait(60), lines, size, peak


async def test_export_of_100_000_events_runs_in_constant_memory(
    make_database: MakeDatabase,
) -> None:
    url = await make_database()
    pool = await create_pool(url, max_size=20)
    store = PostgresEventStore(pool)
    await fill(store, conversations=200, messages=500)  # 100,200 events
    head = await store.head_position()
    await store.close()
    await pool.close()

    code, lines, size, peak_rss = await asyncio.to_thread(export_measured, url)

    assert code == 0
    assert lines == head >= 100_000
    # Its output is larger than its memory ever was: it cannot have held it.
    assert size > EXPORT_RSS_BOUND
    assert peak_rss < EXPORT_RSS_BOUND, f"peak RSS {peak_rss / 2**20:.0f} MiB"


async def fill(store: PostgresEventStore, *, conversations: int, messages: int) -> None:
    """Many conversations at once, each appending its messages 100 at a time;
    messages of ~1 kB, so the export's output outgrows its memory bound."""
    text = "lorem ipsum " * 85

    async def conversation() -> None:
        cid = uuid.uuid4()
        started = ConversationStarted(
            conversation_id=cid,
            client=Client(id=f"c-{cid.hex[:6]}", name="Bulk"),
            channel=Channel.WEB,
            priority=Priority.LOW,
            status=Status.ACTIVE,
        )
        stream = stream_id_for(cid)
        await append_patiently(store, stream, [NewEvent(event_id=uuid.uuid4(), data=started)], 0)
        for first in range(1, messages + 1, 100):
            batch = [message(cid, seq=s, content=text) for s in range(first, first + 100)]
            await append_patiently(store, stream, batch, expected_version=first)

    await asyncio.gather(*(conversation() for _ in range(conversations)))


async def test_verify_passes_on_a_good_log(make_database: MakeDatabase) -> None:
    url = await make_database()
    cid, _ = await scripted(url)
    # An old MessageSent v1 row, as the first version wrote it: upcast, so fine.
    old = {
        "type": "MessageSent",
        "conversation_id": str(cid),
        "message_id": str(uuid.uuid4()),
        "seq": 3,
        "sender": "client",
        "sender_id": "c-1",
        "kind": "text",
        "content": "still there?",
    }
    conn = await asyncpg.connect(url)
    await conn.execute(
        INSERT_OLD_ROW, 10, stream_id_for(cid), 6, uuid.uuid4(), "MessageSent", 1, json.dumps(old)
    )
    await conn.close()

    report = await run(url, "events", "verify", "--json")
    human = await run(url, "events", "verify")

    assert report.returncode == 0, report.stdout + report.stderr
    found: dict[str, Any] = msgspec.json.decode(report.stdout)
    assert found["ok"] is True and found["problems"] == []
    assert (found["head"], found["events"], found["streams"]) == (10, 10, 2)
    assert human.returncode == 0
    assert "the event log is intact: 10 event(s) in 2 stream(s), head 10" in human.stdout


async def test_verify_reports_a_removed_guard_and_tampered_rows(
    make_database: MakeDatabase,
) -> None:
    url = await make_database()
    cid, _ = await scripted(url)
    stream = stream_id_for(cid)
    # Remove the guard in this test's own database, then rewrite history.
    conn = await asyncpg.connect(url)
    await conn.execute("ALTER TABLE events DISABLE TRIGGER events_append_only")
    await conn.execute("DROP TRIGGER events_no_truncate ON events")
    await conn.execute(
        "UPDATE events SET data = jsonb_set(data::jsonb, '{seq}', '\"one\"')::json"
        " WHERE global_position = 3"
    )
    await conn.execute("UPDATE events SET type = 'MessagesRead' WHERE global_position = 5")
    await conn.execute("DELETE FROM events WHERE global_position = 6")
    await conn.close()

    report = await run(url, "events", "verify", "--json")
    human = await run(url, "events", "verify")

    assert report.returncode == 1
    found: dict[str, Any] = msgspec.json.decode(report.stdout)
    assert found["ok"] is False
    problems = {(p["check"], p["where"]): p["detail"] for p in found["problems"]}
    # The hash chain breaks at each rewritten row and after the removed one
    # (test_events_chain.py has its own tests); the other checks, as before:
    chain = {where for check, where in problems if check == "hash chain"}
    assert chain == {"position 3", "position 5", "position 7"}
    problems = {key: detail for key, detail in problems.items() if key[0] != "hash chain"}
    assert problems == {
        ("append-only guard", "trigger events_append_only"): (
            "disabled: nothing stops UPDATE and DELETE"
        ),
        ("append-only guard", "trigger events_no_truncate"): "missing: nothing stops TRUNCATE",
        ("payloads", "position 3"): (
            "not a valid MessageSent v2: Expected `int`, got `str` - at `$.seq`"
        ),
        ("global positions", "position 6"): "no event there",
        ("stream positions", stream): "stream position 4 missing, before 7",
        ("payloads", "position 5"): "type column MessagesRead, payload MessageSent",
    }
    # The human report names the same problems, one row each, and exits 1.
    assert human.returncode == 1
    for (check, where), detail in problems.items():
        assert any(
            check in line and where in line and detail in line for line in human.stdout.splitlines()
        ), (check, where, detail, human.stdout)
    assert "the event log has problems: 8 event(s) in 2 stream(s), head 9" in human.stdout
