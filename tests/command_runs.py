"""Random runs of commands on one conversation, for properties that must
hold whatever a conversation went through (snapshots round-trip its state;
a handler with snapshots answers as one without).

A run is a list of :class:`Step`s, independent of the conversation's id, so
the same run can be played on several conversations: ``command(step, cid)``
makes the step's command for conversation ``cid``. Every part of the state
gets exercised: unread seqs, per-staff cursors, assignment, labels, snoozes
(with ``until`` in several time zones), merges in and out, deletion.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from commands.model import (
    Actor,
    AnyCommand,
    AssignConversation,
    ChangeStatus,
    DeleteConversation,
    ImportMerged,
    LabelConversation,
    MarkRead,
    MergeConversation,
    MergeTarget,
    Role,
    SendMessage,
    SnoozeConversation,
    StartConversation,
    UnlabelConversation,
    UpdateConversation,
    WakeConversation,
)
from events.catalogue import Channel, Client, MergedFrom, MessageSent, Priority, Side, Status

START = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
ALICE = Actor(id="alice", role=Role.ADMIN)
BOB = Actor(id="bob", role=Role.AGENT)
DAVE = Actor(id="dave", role=Role.AGENT)
CAROL = Actor(id="carol", role=Role.CLIENT, client_id="c-1")
ROUTER = Actor(id="router", role=Role.ADMIN)
INTO = uuid.UUID("00000000-0000-4000-8000-00000000beef")
"""The conversation a merge step merges into (it need not exist)."""
ZONES = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]


@dataclass(frozen=True)
class Step:
    """One command, by ``actor``, of ``kind`` with ``args``; ``later``:
    minutes the clock moves on before it."""

    kind: str
    actor: Actor
    args: tuple[Any, ...] = ()
    later: int = 0


def _source(n: int) -> uuid.UUID:
    return uuid.UUID(int=0x5_0000 + n)


def _copies(source: int, count: int, read: bool) -> tuple[tuple[MessageSent, MergedFrom], ...]:
    """``count`` messages of conversation ``source`` as a merge copies them."""
    cid = _source(source)
    copies = []
    for seq in range(1, count + 1):
        side = Side.CLIENT if seq % 2 else Side.ADMIN
        message_id = uuid.UUID(int=(source << 16) + seq)
        message = MessageSent(
            conversation_id=cid,
            message_id=message_id,
            seq=seq,
            sender=side,
            sender_id="carol" if side is Side.CLIENT else "bob",
            content=f"copied {seq}",
        )
        origin = MergedFrom(
            conversation_id=cid,
            seq=seq,
            message_id=message_id,
            sent_at=START + timedelta(minutes=seq),
            read_by_staff=read,
            read_by_client=not read,
        )
        copies.append((message, origin))
    return tuple(copies)


def command(step: Step, cid: uuid.UUID) -> AnyCommand:
    """The step's command for conversation ``cid``."""
    a = step.args
    match step.kind:
        case "start":
            return StartConversation(
                client=Client(id="c-1", name="Carol"),
                channel=Channel.WEB,
                priority=a[0],
                summary=a[1],
                status=a[2],
                team_id=a[3],
                conversation_id=cid,
            )
        case "send":
            return SendMessage(conversation_id=cid, content=a[0], sender=a[1])
        case "read":
            return MarkRead(conversation_id=cid, up_to_seq=a[0])
        case "status":
            return ChangeStatus(conversation_id=cid, status=a[0], reason=a[1])
        case "update":
            return UpdateConversation(conversation_id=cid, priority=a[0], summary=a[1])
        case "assign":
            return AssignConversation(conversation_id=cid, agent_id=a[0], team_id=a[1])
        case "label":
            return LabelConversation(conversation_id=cid, label_id=a[0])
        case "unlabel":
            return UnlabelConversation(conversation_id=cid, label_id=a[0])
        case "snooze":
            until = (START + timedelta(days=1, minutes=a[0])).astimezone(ZONES[a[1]])
            return SnoozeConversation(conversation_id=cid, until=until)
        case "wake":
            return WakeConversation(conversation_id=cid)
        case "delete":
            return DeleteConversation(conversation_id=cid)
        case "merge":
            target = MergeTarget(client_id="c-1", status=Status.ACTIVE)
            return MergeConversation(conversation_id=cid, into=INTO, target=target)
        case "import":
            messages = _copies(a[0], a[1], a[2])
            return ImportMerged(conversation_id=cid, source_id=_source(a[0]), messages=messages)
    raise ValueError(step.kind)


anyone = st.sampled_from([ALICE, BOB, DAVE, CAROL])
staff = st.sampled_from([ALICE, BOB, DAVE])
texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=12)
contents = texts.filter(str.strip)
summaries = st.none() | contents
labels = st.sampled_from(["vip", "billing", "bug", "ete_2"])  # LabelIds: [a-z0-9_-]
later = st.sampled_from([0, 0, 0, 30, 60 * 30])


def _sends() -> st.SearchStrategy[Step]:
    return st.builds(Step, st.just("send"), anyone, st.tuples(contents, st.none()), later)


def _reads() -> st.SearchStrategy[Step]:
    return st.builds(Step, st.just("read"), anyone, st.tuples(st.none() | st.integers(1, 9)))


# Messages and reads are most of a conversation: three and two branches of their own.
_steps = st.one_of(
    *(_sends() for _ in range(3)),
    *(_reads() for _ in range(2)),
    st.builds(Step, st.just("send"), staff, st.tuples(contents, st.just(Side.SYSTEM))),
    st.builds(Step, st.just("status"), anyone, st.tuples(st.sampled_from(Status), summaries)),
    st.builds(
        Step,
        st.just("update"),
        staff,
        st.tuples(st.none() | st.sampled_from(Priority), summaries),
    ),
    st.builds(
        Step,
        st.just("assign"),
        staff,
        st.tuples(st.sampled_from([None, "bob", "dave"]), st.sampled_from([None, "billing"])),
    ),
    st.builds(Step, st.sampled_from(["label", "unlabel"]), staff, st.tuples(labels)),
    st.builds(
        Step,
        st.just("snooze"),
        staff,
        st.tuples(st.integers(-2000, 600), st.integers(0, len(ZONES) - 1)),
    ),
    st.builds(Step, st.just("wake"), st.just(ROUTER), later=later),
    st.builds(
        Step,
        st.just("import"),
        st.just(ALICE),
        st.tuples(st.integers(1, 3), st.integers(0, 4), st.booleans()),
    ),
)
_ends = st.builds(Step, st.sampled_from(["merge", "delete"]), staff)
"""After a merge or a deletion, a conversation refuses nearly everything."""
_start = st.builds(
    Step,
    st.just("start"),
    staff,
    st.tuples(
        st.sampled_from(Priority),
        summaries,
        st.sampled_from([Status.ACTIVE, Status.PENDING]),
        st.sampled_from([None, "billing"]),
    ),
)


def runs(max_steps: int = 40) -> st.SearchStrategy[list[Step]]:
    """A conversation's start, then up to ``max_steps`` random commands
    (some refused: that is part of the run), perhaps a merge or deletion
    among them."""
    return st.builds(
        lambda start, before, end, after: [start, *before, *end, *after],
        _start,
        st.lists(_steps, max_size=max_steps),
        st.lists(_ends, max_size=1),
        st.lists(_steps, max_size=3),
    )
