"""bench.read's log: generated conversations, their events encoded as the store encodes them
and COPYed into ``events`` with positions 1..N and one stream per conversation."""

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import msgspec

from bench import common
from bench import databases as db
from commands.labels import LABELS_STREAM
from commands.model import stream_id_for
from commands.staff import agent_stream, team_stream
from events import catalogue as ev
from events.chain import GENESIS, Head, row_hash
from events.envelope import Metadata
from events.upcasting import current_version

OPTIONS: list[common.Option] = [("conversations", int, 1_000_000, "conversations seeded")]
OPTIONS += [("messages", int, 10, "messages per conversation, the client's and staff's in turn")]
OPTIONS += [("agents", int, 20, "agents"), ("assigned", float, 0.6, "share assigned to an agent")]
OPTIONS += [("labelled", float, 0.2, "share of conversations labelled")]
BLOCK, COMMON, RARE = 1000, "refund", "quokka"  # BLOCK: conversations under way at once
TEXTS = {ev.Side.CLIENT: (common.CONTENT, "I sent the jacket back: where is my refund?")}
TEXTS[ev.Side.ADMIN] = ("I asked the courier: it arrives on Friday.", "Your refund went out today.")
FIRST = ("Maria", "John", "Aisha", "Wei", "Olga", "Pedro", "Yuki", "Kwame", "Lars", "Fatima")
STAFF = Metadata(actor_id=db.STAFF_ID, actor_role="admin")
KEYS = {"events_event_id_key": "(event_id)"}  # built after the COPYs: one sort, not 10M inserts
KEYS["events_stream_id_stream_position_key"] = "(stream_id, stream_position)"
COLUMNS = ["global_position", "stream_id", "stream_position", "event_id", "type"]
COLUMNS += ["schema_version", "data", "metadata", "recorded_at", "hash"]
START = Head(0, GENESIS)  # the empty log
Streams = list[tuple[str, list[tuple[Any, Metadata] | None]]]  # events by slot; None: none


def client(n: int) -> ev.Client:
    """Client ``n``: a first name of ten, a surname of ~13M (three syllables and a letter)."""
    m, name = n * 2654435761 % 2**32, ""
    for letters in ["bcdfghjklmnprstvwz", "aeiou"] * 3 + ["bcdfghjklmnprstvwz"]:
        m, i = divmod(m, len(letters))
        name += letters[i]
    return ev.Client(id=f"client-{n}", name=f"{FIRST[n % len(FIRST)]} {name.capitalize()}")


def misspelt(n: int) -> str:
    """Client ``n``'s name with one typo: its surname's fourth letter left out."""
    first, last = client(n).name.split()
    return f"{first} {last[:3]}{last[4:]}"


W, E, WEB = ev.Channel.WHATSAPP, ev.Channel.EMAIL, ev.Channel.WEB
CHANNELS = [W, E, W, W, W, W, WEB, WEB, WEB, WEB]


def directory(args: Any) -> Streams:
    """The agents, the 4 teams and the 5 labels the conversations name."""
    agents = [ev.AgentRegistered(agent_id=f"agent-{a}", display_name=f"A{a}", capacity=9)
              for a in range(args.agents)]  # fmt: skip
    teams = [ev.TeamCreated(team_id=f"team-{t}", name=f"Team {t}", routing=False) for t in range(4)]
    labels = [ev.LabelCreated(label_id=f"label-{i}", name=f"L{i}", colour="#3366cc")
              for i in range(5)]  # fmt: skip
    streams: Streams = [(agent_stream(a.agent_id), [(a, STAFF)]) for a in agents]
    streams += [(team_stream(t.team_id), [(t, STAFF)]) for t in teams]
    return [*streams, (LABELS_STREAM, [(label, STAFF) for label in labels])]


def conversation(n: int, args: Any) -> tuple[str, list[tuple[Any, Metadata] | None]]:
    """Conversation ``n`` by slot: started, its messages, assigned, labelled, status changed
    (7 in 10 closed, 1 pending, 2 left active)."""
    rng, cid, who, team = random.Random(n), uuid4(), client(n), f"team-{n % 4}"
    agent = f"agent-{n % args.agents}" if rng.random() < args.assigned else None
    channel = CHANNELS[n % 10]  # e-mail the rarest: 1 in 10
    facts = {"priority": list(ev.Priority)[n % 3], "team_id": team, "channel": channel}
    steps = [(db.started(cid, who.id, who.name, **facts), STAFF)]
    mine = (ev.Side.CLIENT, who.id, Metadata(actor_id=who.id, actor_role="client"))
    for seq in range(1, args.messages + 1):
        rare = f" Our {RARE} chewed the box." if (n * args.messages + seq) % 10_000 == 0 else ""
        side, sender, meta = mine if seq % 2 else (ev.Side.ADMIN, agent or db.STAFF_ID, STAFF)
        text = TEXTS[side][(n + seq // 2) % 2] + rare  # the common word in every other one
        steps.append((db.sent(cid, seq, side, sender, text), meta))
    ids: dict[str, Any] = {"conversation_id": cid}
    to = rng.choice([ev.Status.CLOSED] * 7 + [ev.Status.PENDING] + [ev.Status.ACTIVE] * 2)
    change = ev.ConversationStatusChanged(**ids, from_status=ev.Status.ACTIVE, to_status=to)
    ids["by"] = db.STAFF_ID
    return stream_id_for(cid), [*steps,
        (ev.ConversationAssigned(**ids, agent_id=agent, team_id=team), STAFF) if agent else None,
        (ev.ConversationLabelled(**ids, label_id=f"label-{n % 5}"), STAFF)
        if rng.random() < args.labelled else None,
        (change, STAFF) if to != ev.Status.ACTIVE else None]  # fmt: skip


def start(args: Any) -> datetime:
    """When the log starts: its events are one second apart and the last is about now."""
    return datetime.now(UTC) - timedelta(seconds=args.conversations * (args.messages + 4) + 99)


async def copy(pool: asyncpg.Pool, streams: Streams, head: Head, since: datetime) -> Head:
    """COPY the streams' events after ``head``, chained on it, slot by slot: every start, then
    each one's first message, … (conversations under way together; long runs of one type for
    the rebuild). Returns the new head."""
    versions, rows, (after, link) = [0] * len(streams), list[tuple[Any, ...]](), head
    for slot in range(max(len(steps) for _, steps in streams)):
        for i, (stream, steps) in enumerate(streams):
            if slot < len(steps) and (step := steps[slot]) is not None:
                versions[i], at = versions[i] + 1, after + len(rows) + 1
                kind = ev.event_type(step[0])
                data, meta = (msgspec.json.encode(part) for part in step)  # as the store does
                row = dict(global_position=at, stream_id=stream, stream_position=versions[i],
                           event_id=uuid4(), type=kind, schema_version=current_version(kind),
                           data=data, metadata=meta,
                           recorded_at=since + timedelta(seconds=at))  # fmt: skip
                link = row["hash"] = row_hash(link, row)
                rows.append(tuple(row[column] for column in COLUMNS))
    await pool.copy_records_to_table("events", records=rows, columns=COLUMNS)
    return Head(after + len(rows), link)


async def fill(pool: asyncpg.Pool, args: Any, after: Head, since: datetime) -> Head:
    """COPY every conversation, ``BLOCK`` at a time, the unique keys of ``events`` built after
    the COPYs (as a restore does). Returns the new head."""
    await pool.execute("ALTER TABLE events " + ", ".join(f"DROP CONSTRAINT {k}" for k in KEYS))
    for first in range(0, args.conversations, BLOCK):
        last = min(first + BLOCK, args.conversations)
        after = await copy(pool, [conversation(n, args) for n in range(first, last)], after, since)
    async with pool.acquire() as conn:
        await conn.execute("SET maintenance_work_mem = '256MB'")
        keys = ", ".join(f"ADD CONSTRAINT {k} UNIQUE {columns}" for k, columns in KEYS.items())
        await conn.execute(f"ALTER TABLE events {keys}")
    return after
