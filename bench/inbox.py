"""Inbox pages: issue 16's filters and sorts against the plain page (docs/BENCHMARKS.md)."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncio
import itertools
import statistics
import time
from typing import Any
from uuid import uuid4

import asyncpg

from bench import common
from bench import databases as db
from commands.model import stream_id_for
from events import catalogue as ev
from events.envelope import Metadata, NewEvent
from events.postgres.migrate import EVENT_STORE_MIGRATIONS
from events.postgres.store import PostgresEventStore
from projections import READ_MODEL_MIGRATIONS
from projections.inbox import InboxProjection
from projections.rebuild import rebuild
from projections.staff import StaffProjection
from read_api.inbox_queries import UNASSIGNED, InboxFilter, Sort, list_conversations

OPTIONS: list[common.Option] = [("conversations", int, 100_000, "conversations in the read model")]
OPTIONS += [("agents", int, 20, "agents sharing the assigned conversations")]
OPTIONS += [("assigned", float, 0.6, "share of conversations assigned to an agent")]
OPTIONS += [("requests", int, 200, "pages read per variant and round")]
OPTIONS += [("rounds", int, 3, "rounds (median of the rounds' p50)")]
OPTIONS += [("depth", int, 20, "deep pages: this many pages in")]
ME = "agent-0"
VARIANTS: dict[str, tuple[InboxFilter, Sort]] = {
    "plain": (InboxFilter(), Sort.LAST_MESSAGE),
    "assignee=me": (InboxFilter(assignee_id=ME), Sort.LAST_MESSAGE),
    "unassigned": (InboxFilter(assignee_id=UNASSIGNED), Sort.LAST_MESSAGE),
    "team": (InboxFilter(team_id="team-1"), Sort.LAST_MESSAGE),
    "sort=created": (InboxFilter(), Sort.CREATED),
    "sort=priority": (InboxFilter(), Sort.PRIORITY),
    "sort=waiting": (InboxFilter(), Sort.WAITING),
}


async def fill(store: PostgresEventStore, args: Any) -> None:
    """The directory, then every conversation in one append of its own."""
    meta = Metadata(actor_id="admin", actor_role="admin")
    for a in range(args.agents):
        agent = ev.AgentRegistered(agent_id=f"agent-{a}", display_name=f"A {a}", capacity=10)
        await store.append(f"agent-agent-{a}", [NewEvent(event_id=uuid4(), data=agent)], 0)
    for t in range(4):
        team = ev.TeamCreated(team_id=f"team-{t}", name=f"Team {t}", routing=False)
        await store.append(f"team-team-{t}", [NewEvent(event_id=uuid4(), data=team)], 0)
    priorities = itertools.cycle(list(ev.Priority))

    async def conversation(n: int) -> None:
        cid, team, client = uuid4(), f"team-{n % 4}", f"client-{n}"
        opened = db.started(cid, client, f"Client {n}", priority=next(priorities), team_id=team)
        events = [opened, db.sent(cid, 1, ev.Side.CLIENT, client, common.CONTENT)]
        if (n % 1000) < args.assigned * 1000:
            agent = f"agent-{n % args.agents}"
            events.append(ev.ConversationAssigned(conversation_id=cid, agent_id=agent, by="admin"))
        await store.append(stream_id_for(cid), [db.new(e, meta) for e in events], 0)

    for first in range(0, args.conversations, 500):
        last = min(args.conversations, first + 500)
        await asyncio.gather(*(conversation(n) for n in range(first, last)))


async def page(pool: asyncpg.Pool, variant: str, cursor: str | None) -> str | None:
    filters, sort = VARIANTS[variant]
    found = await list_conversations(pool, filters, viewer=ME, sort=sort, cursor=cursor, limit=50)
    return found.next_cursor


async def measure(pool: asyncpg.Pool, args: Any, report: common.Report) -> None:
    cursors: dict[str, str | None] = dict.fromkeys(VARIANTS)
    for name, _ in itertools.product(VARIANTS, range(args.depth)):
        cursors[name] = await page(pool, name, cursors[name])
    for r in range(args.rounds):
        for name in VARIANTS:  # interleaved, round by round
            for where, cursor in (("first", None), ("deep", cursors[name])):
                times = []
                for _ in range(args.requests):
                    started = time.perf_counter()
                    await page(pool, name, cursor)
                    times.append((time.perf_counter() - started) * 1000)
                for q in (50, 99):
                    figures = report[f"p{q}_ms"].setdefault(f"{name}/{where}", [])
                    figures.append(round(common.percentile(times, q), 3))
        common.log(f"round {r + 1}: plain first page p50 {report['p50_ms']['plain/first'][-1]} ms")


async def run(args: Any) -> common.Report:
    settings = {k: v for k, v in vars(args).items() if k not in ("json", "database_url")}
    facts = common.facts()
    report = {"date": facts["date"], "command": facts["command"], "settings": settings}
    report |= {"fill_seconds": 0.0, "rebuild_seconds": 0.0, "p50_ms": {}, "p99_ms": {}}
    migrations = [EVENT_STORE_MIGRATIONS, READ_MODEL_MIGRATIONS]
    async with (
        db.throwaway_database(args.database_url, "bench_inbox", migrations) as (url, _),
        db.event_store(url, 2, 8) as (pool, store),
    ):
        started = time.perf_counter()
        await fill(store, args)
        filled = time.perf_counter()
        for projection in (StaffProjection(), InboxProjection()):
            await rebuild(pool, store, projection)
        await pool.execute("ANALYZE conversations")
        report["fill_seconds"] = round(filled - started, 1)
        report["rebuild_seconds"] = round(time.perf_counter() - filled, 1)
        common.log("filled in {fill_seconds} s, rebuilt in {rebuild_seconds} s".format(**report))
        await measure(pool, args, report)
    return report


def ratio(report: common.Report, key: str) -> float:
    plain = statistics.median(report["p50_ms"][f"plain/{key.split('/')[1]}"])
    return float(statistics.median(report["p50_ms"][key]) / plain)


def targets(report: common.Report) -> common.Checks:
    keys = [k for k in report["p50_ms"] if k.split("/")[0] in ("assignee=me", "unassigned")]
    return [(f"{k} p50 within 2x the plain page", f"{ratio(report, k):.2f}x", ratio(report, k) <= 2)
            for k in keys]  # fmt: skip


def render(report: common.Report) -> str:
    s, p50, p99 = report["settings"], report["p50_ms"], report["p99_ms"]
    rows = [
        [key, f"{statistics.median(p50[key]):.2f}", f"{statistics.median(p99[key]):.2f}",
         f"{ratio(report, key):.2f}x"]
        for key in p50
    ]  # fmt: skip
    lines = [
        f"# Inbox pages, {report['date']}", f"`{report['command']}`", "",
        f"{s['conversations']:,} conversations (filled in {report['fill_seconds']} s, read"
        f" models rebuilt in {report['rebuild_seconds']} s); median of {s['rounds']} rounds"
        f" of {s['requests']} pages each", "",
        *common.markdown_table(["page", "p50 ms", "p99 ms", "p50 vs plain"], rows), "",
        *common.targets_lines("Targets (issue 16)", targets(report)),
        f"load average at the end: {common.load_average()}",
    ]  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    args = common.parser("bench.inbox", __doc__ or "", OPTIONS, nats=False).parse_args()
    return common.emit(common.run_main(run(args)), render, targets, args)


if __name__ == "__main__":
    sys.exit(main())
