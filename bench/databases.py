"""Throwaway databases and streams, events written straight to a store, API conversations."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import UUID, uuid4

import asyncpg
import httpx
import msgspec
import nats
from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError

from bench.common import log
from events import catalogue as ev
from events.envelope import Metadata, NewEvent
from events.jetstream.relay import Topology
from events.postgres.keys import ClientKeys
from events.postgres.master_keys import MasterKey
from events.postgres.migrate import EVENT_STORE_MIGRATIONS, apply_migrations
from events.postgres.store import PostgresEventStore as Store
from events.postgres.store import create_pool
from projections import READ_MODEL_MIGRATIONS

STAFF_ID = "alice"
encode = msgspec.json.Encoder().encode  # as events.postgres.store and the relay encode


def started(cid: UUID, client_id: str, name: str, **facts: Any) -> ev.ConversationStarted:
    facts = {"channel": ev.Channel.WEB, "priority": ev.Priority.MEDIUM, **facts}
    client, facts["status"] = ev.Client(id=client_id, name=name), ev.Status.ACTIVE
    return ev.ConversationStarted(conversation_id=cid, client=client, **facts)


def sent(conversation_id: UUID, seq: int, side: ev.Side, sender_id: str, content: str) -> Any:
    ids: dict[str, Any] = {"conversation_id": conversation_id, "message_id": uuid4()}
    return ev.MessageSent(**ids, seq=seq, sender=side, sender_id=sender_id, content=content)


def new(data: Any, metadata: Metadata, subject: str | None = None) -> NewEvent:
    return NewEvent(event_id=uuid4(), data=data, metadata=metadata, subject=subject)


def conversation(
    cid: UUID, client_id: str, name: str, messages: int, content: str, reads_every: int | None = 0
) -> Iterator[NewEvent]:
    """ConversationStarted, then ``messages`` messages, the client's (odd seqs) and staff's
    (even seqs) in turn; with ``reads_every``, both sides read all after every that many;
    with ``reads_every=None``, every message is the client's, unread."""
    client = (ev.Side.CLIENT, client_id, Metadata(actor_id=client_id, actor_role="client"))
    staff = (ev.Side.ADMIN, STAFF_ID, Metadata(actor_id=STAFF_ID, actor_role="admin"))
    yield new(started(cid, client_id, name), staff[2])
    for seq in range(1, messages + 1):
        side, sender_id, meta = client if reads_every is None or seq % 2 else staff
        yield new(sent(cid, seq, side, sender_id, content), meta, client_id)
        if reads_every and seq % reads_every == 0:
            for reader, reader_id, m in (staff, client):
                read: dict[str, Any] = {"reader": reader, "reader_id": reader_id, "up_to_seq": seq}
                yield new(ev.MessagesRead(conversation_id=cid, **read), m)


def with_database(url: str, database: str, **params: str) -> str:
    """The same server URL, pointing at another database (and extra parameters)."""
    parts = urlsplit(url)
    query = urlencode({**dict(parse_qsl(parts.query)), **params})
    return urlunsplit(parts._replace(path=f"/{database}", query=query))


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@contextlib.asynccontextmanager
async def throwaway_database(
    admin_url: str, prefix: str, migrated: bool = False, keep: bool = False
) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A new database ``<prefix>_<hex>``, migrated if asked: its URL and server facts; dropped
    (unless ``keep``)."""
    name = f"{prefix}_{uuid4().hex[:8]}"
    try:
        conn = await asyncpg.connect(admin_url, timeout=10)
    except (OSError, asyncpg.PostgresError) as error:
        raise SystemExit(f"cannot connect to --database-url {admin_url}: {error}") from None
    settings = ("server_version", "synchronous_commit", "fsync", "wal_sync_method")
    facts = {s: str(await conn.fetchval(f"SHOW {s}")) for s in (*settings, "shared_buffers")}
    await conn.execute(f"CREATE DATABASE {quote(name)}")
    await conn.close()
    url = with_database(admin_url, name)
    try:
        if migrated:
            conn = await asyncpg.connect(url)
            await apply_migrations(conn, [EVENT_STORE_MIGRATIONS, READ_MODEL_MIGRATIONS])
            await conn.close()
        log(f"database {name} created" + (" and migrated" if migrated else ""))
        yield url, facts
    finally:
        if keep:
            log(f"database kept: {url}")
        else:
            conn = await asyncpg.connect(admin_url, timeout=10)
            await conn.execute(f"DROP DATABASE IF EXISTS {quote(name)} WITH (FORCE)")
            await conn.close()
            log(f"database {name} dropped")


@contextlib.asynccontextmanager
async def event_store(url: str, low: int, high: int, sealed: bool = False) -> AsyncIterator[Any]:
    """A pool and Parley's event store on ``url`` (``sealed``: a key per client), closed after."""
    pool = await create_pool(url, min_size=low, max_size=high)
    store = Store(pool, keys=ClientKeys(pool, MasterKey(bytes(32))) if sealed else None)
    try:
        yield pool, store
    finally:
        await store.close()
        await pool.close()


async def create_conversations(base_url: str, jwt: str, count: int) -> list[str]:
    """``count`` conversations through ``POST /api/conversations`` (8 at a time)."""
    gate, headers = asyncio.Semaphore(8), {"Authorization": f"Bearer {jwt}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=30, headers=headers) as client:

        async def one(i: int) -> str:
            async with gate:
                body = {"client": {"id": f"c-{i}", "name": f"Client {i}"}, "channel": "web"}
                answer = await client.post("/api/conversations", json=body)
            if answer.status_code != 201:
                raise RuntimeError(f"POST /api/conversations: {answer.status_code} {answer.text}")
            return str(answer.json()["conversation_id"])

        return list(await asyncio.gather(*(one(i) for i in range(count))))


class Streams:
    """Every JetStream stream this run creates, deleted at the end."""

    def __init__(self, nc: NATS, prefix: str) -> None:
        self.nc, self.js, self.prefix, self.names = nc, nc.jetstream(), prefix, list[str]()

    def topology(self, suffix: str) -> Topology:
        topology = Topology(prefix=f"{self.prefix}{suffix}")
        self.names.append(topology.stream)
        return topology

    async def check_and_delete(self, topology: Topology, expected: int, what: str) -> None:
        stored = (await self.js.stream_info(topology.stream)).state.messages
        if stored != expected:
            raise RuntimeError(f"{what}: {stored} messages in the stream, {expected} expected")
        await self.js.delete_stream(topology.stream)


@contextlib.asynccontextmanager
async def connect_nats(url: str) -> AsyncIterator[NATS]:
    try:
        nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=3)
    except Exception as error:
        raise SystemExit(f"cannot connect to --nats-url {url}: {error}") from None
    try:
        yield nc
    finally:
        await nc.close()


@contextlib.asynccontextmanager
async def throwaway_streams(url: str, prefix: str) -> AsyncIterator[Streams]:
    """A NATS connection, and every stream put in its ``Streams`` deleted on the way out."""
    async with connect_nats(url) as nc:
        streams = Streams(nc, prefix)
        try:
            yield streams
        finally:
            for name in streams.names:
                try:
                    with contextlib.suppress(NotFoundError):
                        await streams.js.delete_stream(name)
                except Exception as error:  # keep deleting the others
                    log(f"could not delete stream {name}: {error}")
            if streams.names:
                log(f"deleted streams {', '.join(streams.names)}")
