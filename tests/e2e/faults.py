"""What the fault tests share: HTTP writers that behave like a careful client
(retrying 503s with the same ids), the timing rules of issue 14, and the
checks after the faults (log vs. read models vs. JetStream).

The rules every command must follow while PostgreSQL or NATS fails:

- an answer within :data:`ANSWER_WITHIN` seconds: a success, or 503
  ``{"code": "unavailable", ...}`` with a ``Retry-After`` header; anything else
  (a 500, a timeout, a dropped connection) is a violation;
- a retry with the same ``command_id`` / ``client_message_id`` never
  duplicates anything.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from commands.auth import issue_token
from events.jetstream.relay import Topology
from events.postgres.store import create_pool
from tests.conftest import keyed_store
from tests.read_model_fold import fold

ANSWER_WITHIN = 5.0
"""Every command gets an answer within this many seconds."""
RECOVER_WITHIN = 5.0
"""Writes succeed, and /health/ready answers 200, within this many seconds."""
RETRY_CAP = 0.25
"""The most a writer waits before a retry, whatever Retry-After says (so the
test sees recovery as soon as it happens)."""
CATCH_UP_WITHIN = 10.0
"""After a recovery, every consumer of the log (the relay, each projection)
reaches the head as it was at the recovery within this many seconds: a
worker that never recovers is caught even before it counts as stalled."""
CONSUMERS = ("relay", "inbox", "timeline")


@dataclass
class Attempt:
    writer: int
    what: str
    sent: float  # time.monotonic()
    answered: float
    outcome: str  # "ok", "503", or what went wrong


@dataclass
class Writers:
    """``count`` concurrent writers against ``urls`` (round robin), each in a
    conversation of its own: the client and an admin take turns sending
    messages (each with a ``client_message_id``), and every tenth message
    someone marks the conversation read (with a ``command_id``)."""

    urls: list[str]
    secret: str
    count: int = 6
    pace: float = 0.02
    attempts: list[Attempt] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    """The client_message_ids whose command answered with a success."""
    tried: set[str] = field(default_factory=set)
    conversations: dict[int, str] = field(default_factory=dict)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _http: httpx.AsyncClient | None = None

    def start(self) -> None:
        limits = httpx.Limits(max_connections=4 * self.count)
        self._http = httpx.AsyncClient(limits=limits, timeout=ANSWER_WITHIN + 5)
        self._tasks = [asyncio.create_task(self._write(n)) for n in range(self.count)]

    async def finish(self, timeout: float = 3 * ANSWER_WITHIN) -> None:
        """Stop after the commands in flight got their success (bounded)."""
        self.stop.set()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*self._tasks)
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._http is not None:
                await self._http.aclose()

    def crashed(self) -> list[BaseException]:
        return [t.exception() for t in self._tasks if t.done() and t.exception() is not None]  # type: ignore[misc]

    def successes(self) -> int:
        return sum(a.outcome == "ok" for a in self.attempts)

    def first_success_sent_after(self, moment: float) -> Attempt | None:
        found = [a for a in self.attempts if a.outcome == "ok" and a.sent >= moment]
        return min(found, key=lambda a: a.answered, default=None)

    async def wait_for_success_after(self, moment: float, what: str) -> float:
        """When the first command sent after ``moment`` succeeded; fails unless
        that is within :data:`RECOVER_WITHIN` of ``moment``."""
        deadline = moment + RECOVER_WITHIN
        while True:
            first = self.first_success_sent_after(moment)
            if first is not None and first.answered <= deadline:
                return first.answered
            if time.monotonic() > deadline:
                recent = [a for a in self.attempts if a.sent >= moment][-10:]
                raise AssertionError(
                    f"{what}: no write sent after it succeeded within {RECOVER_WITHIN:g} s; "
                    f"the last attempts: {recent}; violations: {self.violations[:10]}"
                )
            assert not self.crashed(), self.crashed()
            await asyncio.sleep(0.02)

    async def wait_for_successes(self, count: int, timeout: float = 20) -> None:
        target = self.successes() + count
        deadline = time.monotonic() + timeout
        while self.successes() < target:
            assert time.monotonic() < deadline, (
                f"fewer than {count} successes in {timeout:g} s: {self.violations[:10]}"
            )
            assert not self.crashed(), self.crashed()
            await asyncio.sleep(0.02)

    # -- one writer -------------------------------------------------------------------

    def _token(self, sub: str, role: str, client_id: str | None = None) -> dict[str, str]:
        jwt = issue_token(
            self.secret,
            sub=sub,
            role=role,
            client_id=client_id,
            ttl=timedelta(hours=1),
            now=datetime.now(UTC),
        )
        return {"Authorization": f"Bearer {jwt}"}

    async def _write(self, n: int) -> None:
        url = self.urls[n % len(self.urls)]
        admin = self._token(f"admin-{n}", "admin")
        client = self._token(f"client-{n}", "client", f"c-{n}")
        cid = str(uuid.uuid4())
        start = {
            "conversation_id": cid,
            "client": {"id": f"c-{n}", "name": f"Client {n}"},
            "channel": "web",
            "command_id": f"start-{cid}",
        }
        await self._command(n, "start", url, "/api/conversations", start, admin)
        self.conversations[n] = cid
        for i in itertools.count(1):
            if self.stop.is_set():
                return
            message_id = f"w{n}-{cid[:8]}-m{i}"
            body = {
                "conversation_id": cid,
                "content": f"m{i} of {n}",
                "client_message_id": message_id,
            }
            self.tried.add(message_id)
            if await self._command(
                n, "send", url, "/api/messages", body, admin if i % 3 == 0 else client
            ):
                self.acknowledged.add(message_id)
            if i % 10 == 0:
                read = {"command_id": f"r{n}-{cid[:8]}-{i}"}
                path = f"/api/conversations/{cid}/mark-read"
                await self._command(n, "read", url, path, read, admin if i % 20 else client)
            await asyncio.sleep(self.pace)

    async def _command(
        self, n: int, what: str, url: str, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> bool:
        """Send until it succeeds (True), retrying with the same body; after
        ``stop``, give up (False) once the answer is not a success."""
        assert self._http is not None
        while True:
            sent = time.monotonic()
            outcome, wait = await self._once(url + path, body, headers)
            self.attempts.append(Attempt(n, what, sent, time.monotonic(), outcome))
            if outcome == "ok":
                return True
            if outcome != "503":
                self.violations.append(f"{what} by writer {n} at {sent:.2f}: {outcome}")
            if self.stop.is_set():
                return False
            await asyncio.sleep(wait)

    async def _once(
        self, url: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[str, float]:
        assert self._http is not None
        try:
            async with asyncio.timeout(ANSWER_WITHIN):
                response = await self._http.post(url, json=body, headers=headers)
        except TimeoutError:
            return f"no answer within {ANSWER_WITHIN:g} s", 0.0
        except httpx.HTTPError as error:
            return f"{type(error).__name__}: {error}", RETRY_CAP
        if response.is_success:
            return "ok", 0.0
        if response.status_code != 503:
            return f"HTTP {response.status_code} {response.text[:300]}", RETRY_CAP
        problems = []
        try:
            code = response.json().get("code")
        except ValueError:
            code = None
        if code != "unavailable":
            problems.append(f"code {code!r}, not 'unavailable'")
        retry_after = response.headers.get("retry-after", "")
        if not retry_after.isdigit():
            problems.append(f"Retry-After {retry_after!r}, not a number of seconds")
        if problems:
            return f"HTTP 503 with {', '.join(problems)}: {response.text[:300]}", RETRY_CAP
        return "503", min(float(retry_after), RETRY_CAP)


# -- readiness -----------------------------------------------------------------------


@dataclass
class Readiness:
    sent: float
    answered: float
    status: int | None  # None: no HTTP answer
    body: dict[str, Any] | None


async def ready(http: httpx.AsyncClient, url: str) -> Readiness:
    sent = time.monotonic()
    try:
        response = await http.get(f"{url}/health/ready", timeout=ANSWER_WITHIN)
    except httpx.HTTPError:
        return Readiness(sent, time.monotonic(), None, None)
    try:
        body = response.json()
    except ValueError:
        body = None
    return Readiness(sent, time.monotonic(), response.status_code, body)


async def wait_until_ready(
    http: httpx.AsyncClient, urls: list[str], since: float, what: str
) -> None:
    """Every node's /health/ready answers 200 within :data:`RECOVER_WITHIN` of ``since``."""
    deadline = since + RECOVER_WITHIN
    for url in urls:
        while True:
            answer = await ready(http, url)
            if answer.status == 200 and answer.answered <= deadline:
                break
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what}: {url}/health/ready not 200 within {RECOVER_WITHIN:g} s: "
                    f"{answer.status} {answer.body}"
                )
            await asyncio.sleep(0.05)


async def wait_until_consumers_catch_up(conn: asyncpg.Connection, since: float, what: str) -> None:
    """Every consumer passes the head of the log (as it is now) within
    :data:`CATCH_UP_WITHIN` of ``since``."""
    head = await conn.fetchval("SELECT coalesce(max(global_position), 0) FROM events")
    deadline = since + CATCH_UP_WITHIN
    while True:
        rows = await conn.fetch("SELECT name, position FROM checkpoints")
        positions = {r["name"]: int(r["position"]) for r in rows}
        if all(positions.get(name, -1) >= head for name in CONSUMERS):
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{what}: the consumers did not reach {head} within {CATCH_UP_WITHIN:g} s: "
                f"{positions}"
            )
        await asyncio.sleep(0.05)


# -- after the faults ----------------------------------------------------------------


async def wait_for(condition: Callable[[], Awaitable[bool]], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"not {what} within {timeout:g} s"
        await asyncio.sleep(0.05)


async def check_the_log(database_url: str, writers: Writers, nats_url: str, prefix: str) -> int:
    """Once every consumer caught up: the read models equal an independent fold
    of the log; every acknowledged message is in the log exactly once and no
    message twice; each command_id wrote once; JetStream holds every event
    once, in commit order. Returns the number of events."""
    pool = await create_pool(database_url, min_size=1, max_size=4)
    store = keyed_store(pool)
    try:
        head = await store.head_position()

        async def caught_up() -> bool:
            rows = await pool.fetch("SELECT name, position FROM checkpoints")
            positions = {r["name"]: int(r["position"]) for r in rows}
            return all(positions.get(name) == head for name in CONSUMERS)

        await wait_for(caught_up, f"caught up with the head ({head})", timeout=30)
        log = await store.read_all(after=0, limit=head + 1)
        positions = [e.global_position for e in log]
        assert positions == list(range(1, head + 1)), f"a gap in the log: {positions[-10:]}"

        sent = Counter(
            getattr(e.data, "client_message_id", None) for e in log if e.type == "MessageSent"
        )
        doubled = {mid: count for mid, count in sent.items() if count > 1}
        assert doubled == {}, f"messages in the log more than once: {doubled}"
        assert None not in sent, "a message without its client_message_id"
        assert set(sent) <= writers.tried, set(sent) - writers.tried
        missing = writers.acknowledged - set(sent)
        assert missing == set(), f"acknowledged but not in the log: {sorted(missing)[:20]}"
        commands = Counter(
            (e.stream_id, e.type, e.metadata.command_id)
            for e in log
            if e.metadata.command_id is not None
        )
        repeated = {key: count for key, count in commands.items() if count > 1}
        assert repeated == {}, f"a command_id that wrote more than once: {repeated}"

        await assert_read_models_equal_the_fold(pool, log)
    finally:
        await store.close()
        await pool.close()

    # (This module is no test module: pytest does not explain its asserts.)
    topology = Topology(prefix)
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        messages = (await js.stream_info(topology.stream)).state.messages
    finally:
        await nc.close()
    assert messages == len(log), f"JetStream holds {messages} messages, the log {len(log)} events"
    in_stream = await stream_message_ids(nats_url, topology)
    doubled_in_stream = {i: n for i, n in Counter(in_stream).items() if n > 1}
    assert doubled_in_stream == {}, f"events twice in the stream: {doubled_in_stream}"
    expected = [str(e.event_id) for e in log]
    assert in_stream == expected, "the stream does not hold the log's events in commit order"
    return len(log)


async def assert_read_models_equal_the_fold(pool: asyncpg.Pool, log: list[Any]) -> None:
    conversations, messages = fold(log)
    rows = await pool.fetch("SELECT * FROM conversations")
    columns = next(iter(conversations.values())).keys()
    actual = {row["conversation_id"]: {k: row[k] for k in columns} for row in rows}

    def counts(table: dict[Any, dict[str, Any]]) -> dict[Any, tuple[Any, ...]]:
        keys = ("message_count", "unread_for_staff", "unread_for_client")
        return {cid: tuple(row[k] for k in keys) for cid, row in table.items()}

    # Counts first: a failure then says directly what was lost or counted twice.
    assert counts(actual) == counts(conversations), (counts(actual), counts(conversations))
    assert actual == conversations, "the inbox differs from the fold of the log"
    message_rows = await pool.fetch("SELECT * FROM messages")
    assert {
        (row["conversation_id"], row["seq"]): {
            "sender": row["sender"],
            "content": row["content"],
            "read_by_staff": row["read_by_staff_at"] is not None,
            "read_by_client": row["read_by_client_at"] is not None,
        }
        for row in message_rows
    } == messages, "the timeline differs from the fold of the log"


async def stream_message_ids(url: str, topology: Topology) -> list[str]:
    """The ``Nats-Msg-Id`` of every message in the events stream, in stream order."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        total = (await js.stream_info(topology.stream)).state.messages
        config = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL)
        reader = await js.pull_subscribe(
            topology.all_subjects, stream=topology.stream, config=config
        )
        ids: list[str] = []
        async with asyncio.timeout(30):
            while len(ids) < total:
                for message in await reader.fetch(500, timeout=5):
                    assert message.headers is not None
                    ids.append(message.headers["Nats-Msg-Id"])
        await reader.unsubscribe()
        return ids
    finally:
        await nc.close()
