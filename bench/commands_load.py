"""bench.commands' measurements: wrk against each server, seeds, the length comparison."""

import asyncio
import string
import time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx

from bench import common
from bench import databases as db
from commands import model as m
from commands.handler import CommandHandler
from commands.snapshots import Snapshots
from events import catalogue as ev
from events.envelope import Metadata
from events.postgres.snapshots import PostgresSnapshotStore

# ~120 characters, JSON-safe as it is (the Lua script pastes it into bodies).
CONTENT = "Hello, my parcel (order 48213) still shows label created after five days. Could you "
CONTENT += "check with the courier, please? Thanks!"
STAFF_ID = db.STAFF_ID


async def run_wrk(server: common.Proc, lua: Path, seconds: float, round_: int, args: Any) -> Any:
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds:g}s"]
    command += ["--latency", "--timeout", "10s", "-s", str(lua), f"{server.base_url}/api/messages"]
    cpu_before, machine = common.process_cpu_seconds(server.pid), dict[str, float]()
    with common.machine_busy(machine, "cpu"):
        pipes: Any = {"stdout": asyncio.subprocess.PIPE, "stderr": asyncio.subprocess.STDOUT}
        process = await asyncio.create_subprocess_exec(*command, **pipes)
        try:
            out, _ = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    cpu, text = common.process_cpu_seconds(server.pid) - cpu_before, out.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{text}")
    f: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("BENCH "):
            f.update((k, float(v)) for k, _, v in (i.partition("=") for i in line.split()[1:]))
        elif line.strip().startswith("Requests/sec:"):
            f["requests_per_s"] = float(line.split(":", 1)[1])
    if "requests" not in f or "requests_per_s" not in f:
        raise RuntimeError(f"cannot read wrk's output:\n{text}")
    duration, requests = f["duration_us"] / 1e6, int(f["requests"])
    r = {"endpoint": server.name, "round": round_, "requests_per_s": f["requests_per_s"]}
    r |= {"requests": requests, "seconds": round(duration, 2)}
    r |= {f"{k}_ms": f[f"{k}_us"] / 1000 for k in ("p50", "p90", "p99", "max")}
    errors = int(f["connect"] + f["read"] + f["write"] + f["timeout"])
    r |= {"non_2xx": int(f["status"]), "socket_errors": errors}
    r |= {"server_cpu_percent": 100 * cpu / duration}
    r |= {"server_cpu_us_per_request": 1e6 * cpu / max(requests, 1)}
    return r | {"machine_cpu_percent": machine["cpu"], "stored_events": None, "transactions": None}


def commits(r: dict[str, Any]) -> str:
    """Parley's group commits during a wrk run: how many per second, of how many appends."""
    per_second, size = r["transactions"] / r["seconds"], r["stored_events"] / r["transactions"]
    return f"{per_second:,.0f}/s of {size:.1f} appends"


async def fetchrow(url: str, sql: str, *args: Any) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(sql, *args)
    finally:
        await conn.close()
    assert row is not None
    return {k: int(v) for k, v in row.items()}


HEAD = "SELECT coalesce(max(global_position), 0) AS head FROM events"
# Events stored after a position, and the transactions (``xmin``) that stored them.
COMMITS = """SELECT count(*) AS events, count(DISTINCT xmin::text) AS transactions
             FROM events WHERE global_position > $1"""
# Messages stored in the load-tested conversations; how many have seqs other than 1..n.
STORED = """SELECT count(*) AS conversations, coalesce(sum(n), 0) AS messages,
    count(*) FILTER (WHERE n <> max_seq OR n <> distinct_seqs) AS broken
    FROM (SELECT count(*) AS n, count(DISTINCT (data->>'seq')::int) AS distinct_seqs,
          max((data->>'seq')::int) AS max_seq FROM events
          WHERE type = 'MessageSent' AND stream_id = ANY($1::text[]) GROUP BY stream_id) AS s"""


async def seed_all(url: str, args: Any) -> dict[str, tuple[UUID, str, int]]:
    """The conversations the length comparison sends to: label -> (id, described, events)."""
    plans: list[tuple[str, str, int, int | None]] = [("long", "c-long", args.long_messages, 10)]
    plans.append(("short", "c-short", args.short_messages, 10))
    if args.worst_messages > 0:
        plans.append(("worst", "c-worst", args.worst_messages, None))
        plans.append(("worst-short", "c-worst", args.short_messages, None))
    async with db.event_store(url, 2, 4) as (pool, store):

        async def seed(label: str, client_id: str, messages: int, every: int | None) -> Any:
            cid, version = uuid4(), 0
            events = list(db.conversation(cid, client_id, "Bench Client", messages, CONTENT, every))
            for start in range(0, len(events), 2000):
                chunk = events[start : start + 2000]
                result = await store.append(m.stream_id_for(cid), chunk, version)
                version = result.last_stream_position
            read = f"messages, read every {every}" if every else "unread client messages"
            return label, (cid, f"{messages:,} {read}", len(events))

        started = time.perf_counter()
        seeded = await asyncio.gather(*(seed(*plan) for plan in plans))
        total = sum(s[1][2] for s in seeded)
        common.log(f"seeded {total:,} events in {time.perf_counter() - started:.1f} s")
        await pool.execute("VACUUM (ANALYZE) events")  # as autovacuum would have by now
    return dict(seeded)


async def measure_load(
    args: Any, url: str, admin: str, servers: list[common.Proc], workdir: Path, report: Any
) -> None:
    """wrk against each server alone, bare then Parley, ``--rounds`` times."""
    parley, bare = servers
    created = await db.create_conversations(parley.base_url, admin, args.conversations)
    conversation_ids = [UUID(c) for c in created]
    common.log(f"created {len(conversation_ids)} conversations through the API")
    ids, lua = ", ".join(f'"{c}"' for c in conversation_ids), workdir / "send_message.lua"
    template = string.Template((Path(__file__).parent / lua.name).read_text())
    lua.write_text(template.substitute(ids=ids, token=admin, content=CONTENT))
    for server in (bare, parley) if args.warmup > 0 else ():
        await run_wrk(server, lua, args.warmup, 0, args)
    for round_ in range(1, args.rounds + 1):
        for server in (bare, parley):
            head = (await fetchrow(url, HEAD))["head"]
            r = await run_wrk(server, lua, args.seconds, round_, args)
            grouped = ""
            if server is parley:
                await asyncio.sleep(0.5)  # the last answered appends
                stored = await fetchrow(url, COMMITS, head)
                r["stored_events"], r["transactions"] = stored["events"], stored["transactions"]
                if stored["transactions"] and stored["events"]:
                    grouped = f", {commits(r)}"
            report["throughput"].append(r)
            common.log(
                f"round {round_} {server.name:>6}: {r['requests_per_s']:,.0f} req/s, p50 "
                f"{r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, non-2xx {r['non_2xx']}, server "
                f"CPU {r['server_cpu_percent']:.0f}% ({r['server_cpu_us_per_request']:.0f} µs/"
                f"request), machine CPU {r['machine_cpu_percent']:.0f}%{grouped}"
            )
    report["stored"] = await fetchrow(url, STORED, [m.stream_id_for(c) for c in conversation_ids])


async def measure_length(args: Any, secret: str, base_url: str, seeded: Any, report: Any) -> None:
    """Sequential sends, alternating between a long and a short conversation."""
    admin = common.token(secret, STAFF_ID)
    plans = [("realistic", "admin", admin, "long", "short", True)]
    if args.worst_messages > 0:
        worst_client = common.token(secret, "c-worst", "client", client_id="c-worst")
        plans.append(("worst case", "client", worst_client, "worst", "worst-short", True))
        plans.append(("worst case", "admin", admin, "worst", "worst-short", False))
    for name, sender, jwt, long_label, short_label, cold in plans:
        pair = {"long": seeded[long_label], "short": seeded[short_label]}
        failures, timings = list[str](), {"long": list[float](), "short": list[float]()}
        headers = {"Authorization": f"Bearer {jwt}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=600) as client:
            await client.get("/health/live")  # open the connection first
            for _ in range(args.requests + 1):  # the first request to each, then the warm ones
                for side, (conversation_id, _, _) in pair.items():  # a SendMessage, timed
                    body = {"conversation_id": str(conversation_id), "content": CONTENT}
                    started = time.perf_counter()
                    response = await client.post("/api/messages", json=body)
                    timings[side].append((time.perf_counter() - started) * 1000)
                    if response.status_code != 201:
                        failures.append(f"{response.status_code} {response.text[:200]}")
        first = {side: times.pop(0) for side, times in timings.items()}
        if failures:
            common.log(f"  {len(failures)} requests failed, e.g. {failures[0]}")
        r = {"name": name, "sender": sender, "first_is_cold": cold, "requests_each": args.requests}
        for side, (_, described, events) in pair.items():
            r |= {f"{side}_label": described, f"{side}_events": events}
            r |= {f"first_{side}_ms": first[side]}
            r |= {f"{side}_p{q}_ms": common.percentile(timings[side], q) for q in (50, 99)}
        r |= {"ratio_p50": r["long_p50_ms"] / r["short_p50_ms"], "non_201": len(failures)}
        report["length"].append(r)
        common.log(f"{name}, as {sender}: first {first['long']:,.1f} / {first['short']:,.1f} ms, "
                   f"p50 {r['long_p50_ms']:.2f} / {r['short_p50_ms']:.2f} ms (ratio "
                   f"{r['ratio_p50']:.2f})")  # fmt: skip


async def measure_uncached(args: Any, url: str, seeded: Any, report: Any, label: str) -> None:
    """A new handler's first SendMessage on a long conversation, in-process (no answer bound):
    with no snapshot, one just taken, one ``--snapshot-every`` events (MessagesRead) behind."""
    (cid, described, events), n, every = seeded[label], args.uncached, args.snapshot_every
    admin, meta, stream = m.Actor(id=STAFF_ID, role=m.Role.ADMIN), Metadata(), m.stream_id_for(cid)
    read = ev.MessagesRead(conversation_id=cid, reader=ev.Side.ADMIN, reader_id="a", up_to_seq=1)
    cases = [("none", args.uncached_bare, None), (f"1 to {n} events before", n, 0)]
    cases.append((f"{every:,}+ events before", n, every - 1))  # the first: n more
    async with db.event_store(url, 2, 4) as (pool, store):
        taker = Snapshots(PostgresSnapshotStore(pool), every=every)
        for case, runs, behind in cases:
            timings = []
            for _ in range(runs):  # the last command left a snapshot 1 event before the head
                if behind is None:
                    await pool.execute("DELETE FROM snapshots")
                elif behind:
                    await store.append(stream, [db.new(read, meta) for _ in range(behind)], None)
                handler = CommandHandler(store, snapshots=taker, answer_within=600)
                started = time.perf_counter()
                await handler.handle(m.SendMessage(conversation_id=cid, content=CONTENT), admin)
                timings.append((time.perf_counter() - started) * 1000)
                await taker.drain()  # the snapshot a long fold leaves, off the clock
            r = {"conversation": described, "snapshot": case, "events": events}  # as seeded
            report["uncached"].append(r := r | common.summary(timings))
            common.log(f"uncached {label}, snapshot {case}: p50 {r['p50']:,.1f} ms")
