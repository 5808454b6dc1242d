"""Read path at scale (issue 18): a log of conversations COPYed into ``events`` as the store
writes it (bench/read_seed.py), the read models rebuilt from it, then inbox pages, totals and
search timed under default and generic plans against a primary-key lookup."""

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncio
import contextlib
import functools
import itertools
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import asyncpg

from bench import common
from bench import databases as db
from bench import read_seed as seed
from events.postgres.pool import init_connection
from events.postgres.store import PostgresEventStore
from projections.catalogues import CataloguesProjection
from projections.inbox import InboxProjection
from projections.rebuild import rebuild
from projections.search import SearchProjection
from projections.staff import StaffProjection
from read_api import inbox_totals
from read_api.inbox_queries import UNASSIGNED, InboxFilter, Sort, list_conversations
from read_api.search_queries import Scope, SearchRequest, search

OPTIONS: list[common.Option] = [*seed.OPTIONS, ("depth", int, 20, "deep pages: this many pages in")]
OPTIONS += [("requests", int, 200, "requests per variant, pool and round")]
OPTIONS += [("rounds", int, 3, "rounds (the median of the rounds' p50 and p99)")]
OPTIONS += [("budget", float, 10.0, "seconds per variant, pool and round (fewer requests then)")]
OPTIONS += [("keep", bool, False, "keep the seeded database (its URL is logged) for --reuse")]
OPTIONS += [("reuse", str, None, "measure this database, seeded by an earlier --keep run")]
ME, WHO = "agent-0", seed.client(7)
FILTERS: dict[str, dict[str, Any]] = {"plain": {}, "status=active": {"status": "active"}}
FILTERS |= {"priority=High": {"priority": "High"}, "team": {"team_id": "team-1"}}
FILTERS |= {"label": {"label_ids": ("label-1",)}, "assignee=me": {"assignee_id": ME}}
FILTERS |= {"unassigned": {"assignee_id": UNASSIGNED}, "client_id": {"client_id": WHO.id}}
FILTERS |= {"channel=email": {"channel": "email"}}  # 1 conversation in 10
FILTERS |= {"q=surname": {"q": WHO.name.split()[1]}, "q=first name": {"q": WHO.name.split()[0]}}
LISTS = {name: (InboxFilter(**keys), Sort.LAST_MESSAGE) for name, keys in FILTERS.items()}
LISTS |= {f"sort={sort}": (InboxFilter(), sort) for sort in list(Sort)[1:]}
TOTALS = ("plain", "status=active", "assignee=me", "unassigned", "label", "channel=email")
SEARCHES = {"common word": seed.COMMON, "rare word": seed.RARE, "misspelt name": seed.misspelt(7)}
LIMITS = {"list pages": 20, "totals": 20, "search": 100}  # p99 ms at 1M (issue 18)
GENERIC, SCOPE = {"plan_cache_mode": "force_generic_plan"}, Scope(client_id=None, notes=True)
Call = Callable[[asyncpg.Pool], Awaitable[Any]]


@contextlib.contextmanager
def clock(facts: dict[str, Any], key: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    facts[key] = round(facts.get(key, 0) + time.perf_counter() - started, 1)


async def build(pool: asyncpg.Pool, store: PostgresEventStore, args: Any, facts: Any) -> None:
    """Seed the log, the directory first with its read models rebuilt before the conversations
    arrive (their rebuilds read a short log); rebuild the others, vacuum and analyze them."""
    since, projections = seed.start(args), (InboxProjection(), SearchProjection())
    with clock(facts, "fill_seconds"):
        head = await seed.copy(pool, seed.directory(args), seed.START, since)
    with clock(facts, "rebuild_seconds"):
        for directory in (StaffProjection(), CataloguesProjection()):
            await rebuild(pool, store, directory)
    with clock(facts, "fill_seconds"):
        facts["events"] = (await seed.fill(pool, args, head, since)).position
    common.log(f"{facts['events']:,} events in the log after {facts['fill_seconds']} s")
    with clock(facts, "rebuild_seconds"):
        await asyncio.gather(*(rebuild(pool, store, p) for p in projections))
    with clock(facts, "vacuum_seconds"):  # as autovacuum would soon: the rebuild left dead rows
        await pool.execute(f"VACUUM ANALYZE {', '.join(t for p in projections for t in p.tables)}")
    common.log("rebuilt in {rebuild_seconds} s, vacuumed in {vacuum_seconds} s".format(**facts))
    for word in (seed.COMMON, seed.RARE):
        sql = "SELECT count(*) FROM search_documents WHERE tsv @@ plainto_tsquery('english', $1)"
        facts[f"messages with {word}"] = await pool.fetchval(sql, word)


def lister(name: str, cursor: str | None = None) -> Call:
    filters, sort = LISTS[name]
    page = functools.partial(list_conversations, filters=filters, sort=sort, cursor=cursor)
    return functools.partial(page, viewer=ME, limit=50)


def finder(q: str) -> Call:
    request = SearchRequest(q=q, scope=SCOPE, filters=InboxFilter(), digest="bench")
    return functools.partial(search, request=request, after=None, limit=20)


async def measure(pools: tuple[asyncpg.Pool, asyncpg.Pool], args: Any, report: Any) -> None:
    default, lookup = pools[0], "SELECT * FROM conversations WHERE conversation_id = $1"
    sql = "SELECT conversation_id FROM conversations WHERE client_id = $1"
    pk = await default.fetchval(sql, WHO.id)
    calls: dict[str, Call] = {"pk lookup": lambda pool: pool.fetchrow(lookup, pk)}
    for name in LISTS:  # the first page, and the deepest of --depth pages in
        cursor, pages, found = None, 0, await lister(name)(default)
        while pages < args.depth and found.next_cursor is not None:
            cursor, pages = found.next_cursor, pages + 1
            found = await lister(name, cursor)(default)
        calls[f"{name}/first"] = lister(name)
        calls |= {f"{name}/page {pages + 1}": lister(name, cursor)} if pages else {}
    count = inbox_totals.count  # what include_total adds to the first page
    calls |= {f"{name}/total": functools.partial(count, filters=LISTS[name][0]) for name in TOTALS}
    calls |= {f"search/{what}": finder(q) for what, q in SEARCHES.items()}
    hits = (await finder(SEARCHES["misspelt name"])(default)).items
    report["seed"]["misspelt name found"] = WHO.id in {hit.client_id for hit in hits}
    for r in range(args.rounds):  # every variant on both pools in turn, round by round
        plans = zip(("", " (generic)"), pools, strict=True)
        for (key, call), (plan, pool) in itertools.product(calls.items(), plans):
            await call(pool)  # its statements prepared
            times, deadline = list[float](), time.perf_counter() + args.budget
            for _ in range(args.requests):
                if (started := time.perf_counter()) > deadline and times:
                    break
                await call(pool)
                times.append((time.perf_counter() - started) * 1000)
            report["requests"].setdefault(key + plan, []).append(len(times))
            for q in (50, 99):
                figures = report[f"p{q}_ms"].setdefault(key + plan, [])
                figures.append(round(common.percentile(times, q), 3))
        common.log(f"round {r + 1}: plain first page p99 {report['p99_ms']['plain/first'][-1]} ms")


async def run(args: Any) -> common.Report:
    settings = {k: v for k, v in vars(args).items() if k not in ("json", "database_url", "reuse")}
    report = {k: v for k, v in common.facts().items() if k in ("date", "command")}
    report |= {"settings": settings, "seed": {}, "requests": {}, "p50_ms": {}, "p99_ms": {}}
    connect = functools.partial(asyncpg.create_pool, init=init_connection, server_settings=GENERIC)
    seeded = db.throwaway_database(args.database_url, "bench_read", migrated=True, keep=args.keep)
    async with (
        contextlib.nullcontext((args.reuse, None)) if args.reuse else seeded as (url, _),
        db.event_store(url, 1, 4) as (pool, store),  # 4 + 2 connections at most
        connect(url, min_size=1, max_size=2) as generic,
    ):
        if args.reuse:  # what the --keep run seeded (its report gave the times)
            report["seed"] |= dict.fromkeys(("fill_seconds", "rebuild_seconds", "vacuum_seconds"))
            report["seed"]["events"] = await store.head_position()
        else:
            await build(pool, store, args, report["seed"])
        await measure((pool, generic), args, report)
    return report


def kind(key: str) -> str:
    key = key.removesuffix(" (generic)")
    if key.startswith("search/") or key.endswith("/total"):
        return "search" if key.startswith("search/") else "totals"
    return "baseline" if key == "pk lookup" else "list pages"


def p99(report: common.Report) -> dict[str, float]:
    return {key: statistics.median(figures) for key, figures in report["p99_ms"].items()}


def targets(report: common.Report) -> common.Checks:
    checks, worst = [], p99(report)
    for (group, limit), generic in itertools.product(LIMITS.items(), (False, True)):
        keys = [k for k in worst if kind(k) == group and k.endswith(" (generic)") == generic]
        key = max(keys, key=worst.__getitem__)
        what = f"{group} p99 < {limit} ms, {'generic' if generic else 'default'} plans"
        checks.append((what, f"worst {key}: {worst[key]:.2f} ms", worst[key] < limit))
    return checks


def render(report: common.Report) -> str:
    s, f, p50, worst = report["settings"], report["seed"], report["p50_ms"], p99(report)
    rows = [[key, str(min(n)), f"{statistics.median(p50[key]):.2f}", f"{worst[key]:.2f}",
             f"{worst[key] / worst['pk lookup']:.1f}x"] for key, n in report["requests"].items()
    ]  # fmt: skip
    words = ", ".join(f"{k} {v:,}" for k, v in f.items() if k.startswith("messages with"))
    built = (
        "seeded by an earlier run (--reuse)"
        if f.get("fill_seconds") is None
        else (
            f"COPYed in {f['fill_seconds']} s; read models rebuilt in {f['rebuild_seconds']} s,"
            f" vacuumed and analyzed in {f['vacuum_seconds']} s; {words}"
        )
    )
    lines = [
        f"# Read path at scale, {report['date']}", f"`{report['command']}`", "",
        f"{s['conversations']:,} conversations of {s['messages']} messages: {f['events']:,}"
        f" events {built}; misspelt name found its client: {f['misspelt name found']}", "",
        f"Median over {s['rounds']} rounds of {s['requests']} requests per variant and pool"
        f" ({s['budget']:g} s at most: n, the fewest in a round); (generic): a pool with"
        " plan_cache_mode = force_generic_plan", "",
        *common.markdown_table(["request", "n", "p50 ms", "p99 ms", "p99 vs pk lookup"], rows), "",
        *common.targets_lines("Targets (issue 18, at 1M)", targets(report)),
        f"load average at the end: {common.load_average()}",
    ]  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    args = common.parser("bench.read", __doc__ or "", OPTIONS, nats=False).parse_args()
    return common.emit(common.run_main(run(args)), render, targets, args)


if __name__ == "__main__":
    sys.exit(main())
