"""The WebSocket endpoints: ``/ws/{conversation_id}`` and ``/ws/inbox``.

The token comes from ``?token=`` or from the ``Sec-WebSocket-Protocol``
header (offer ``parley.v1`` and ``bearer.<token>``; the server answers
``parley.v1``). A refused connection is accepted and closed at once with a
code saying why, before any frame (see ``ws_edge.codes``).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from litestar import WebSocket, get, websocket
from litestar.di import NamedDependency
from litestar.params import FromPath

from commands import access, errors
from commands.auth import AuthError, Principal, VerifiedTokens
from commands.handler import CommandHandler
from commands.model import Actor, stream_id_for
from events.store import EventStore
from read_api.queries import (
    DEFAULT_WAIT_SECONDS,
    ConversationView,
    conversations_by_id,
    wait_for_position,
)
from read_api.views import for_viewer, viewer_id
from ws_edge import codes
from ws_edge.config import EdgeConfig
from ws_edge.hub import Hub
from ws_edge.outages import OUTAGES, UNAVAILABLE
from ws_edge.owners import Owners
from ws_edge.presence import OnlineUser, Presence
from ws_edge.ratelimit import RateLimiter
from ws_edge.resume import BadStart, start_at
from ws_edge.session import Session
from ws_edge.sessions import open_session
from ws_edge.shared_reads import SharedReads, StreamReader

SUBPROTOCOL = "parley.v1"


class Edge:
    """Everything the sockets of this node share."""

    def __init__(
        self,
        hub: Hub,
        store: EventStore,
        handler: CommandHandler,
        jwt_secret: str,
        config: EdgeConfig,
        pool: asyncpg.Pool,
        tally: Counter[str] | None = None,
        allowed_origins: tuple[str, ...] = (),
        presence: Presence | None = None,
        replays_from: StreamReader | None = None,
    ) -> None:
        """``replays_from``: where replays' first pages are read (default: ``store``)."""
        self.hub = hub
        self.store = store
        self.replays = SharedReads(replays_from or store, may_lag=replays_from is not None)
        self.handler = handler
        self.jwt_secret = jwt_secret
        self.tokens = VerifiedTokens(jwt_secret)
        self.config = config
        self.limiter = RateLimiter(
            {"message": config.messages_per_minute, "typing": config.typing_per_minute}
        )
        self.connects = RateLimiter({"connect": config.connects_per_minute})
        self.sessions: set[Session] = set()
        self.sockets_per_user: Counter[str] = Counter()
        self.presence = presence
        self.pool = pool
        self.owners = Owners(store, pool)
        self.allowed_origins = frozenset(allowed_origins)
        self.tally: Counter[str] = Counter() if tally is None else tally
        """frames_in, frames_out, rate_limited_<kind>, refused_<reason>: read by the metrics."""

    async def inbox_rows(
        self, conversation_ids: list[UUID], position: int, actor: Actor
    ) -> list[ConversationView]:
        """The inbox rows as ``actor`` sees them (their own unread), once the
        inbox projection reached ``position`` (or after 2 s, as they are then)."""
        await wait_for_position(self.pool, ("inbox",), position, DEFAULT_WAIT_SECONDS)
        rows = await conversations_by_id(self.pool, conversation_ids, viewer=viewer_id(actor))
        return [for_viewer(row, actor) for row in rows]

    async def close_all(self) -> None:
        """Server shutdown: every socket gets 1001 (reconnect and resume)."""
        for session in list(self.sessions):
            with contextlib.suppress(Exception):
                await session.socket.close(code=codes.GOING_AWAY, reason="server shutting down")


def _token(socket: WebSocket[Any, Any, Any]) -> tuple[str | None, str | None]:
    """(token, subprotocol to answer with)."""
    offered = [p.strip() for p in socket.headers.get("sec-websocket-protocol", "").split(",")]
    from_header = next(
        (p.removeprefix("bearer.") for p in offered if p.startswith("bearer.")), None
    )
    answer = SUBPROTOCOL if SUBPROTOCOL in offered else None
    return socket.query_params.get("token") or from_header, answer


async def _refuse(
    socket: WebSocket[Any, Any, Any], subprotocol: str | None, code: int, why: str
) -> None:
    await socket.accept(subprotocols=subprotocol)
    await socket.close(code=code, reason=why)


def _origin_allowed(socket: WebSocket[Any, Any, Any], edge: Edge) -> bool:
    """Browsers send Origin; only the server's own and the allowed ones may
    connect (no cross-site WebSocket hijacking). Non-browser clients send none."""
    origin = socket.headers.get("origin")
    if origin is None:
        return True
    origin = origin.rstrip("/")
    own = {f"{scheme}://{socket.headers.get('host', '')}" for scheme in ("http", "https")}
    return origin in own or origin in edge.allowed_origins


async def _authenticate(
    socket: WebSocket[Any, Any, Any], edge: Edge
) -> tuple[Principal | None, str | None]:
    token, subprotocol = _token(socket)
    address = socket.client.host if socket.client else "unknown"
    wait = edge.connects.take(address, "connect")
    if wait is not None:
        edge.tally["refused_too_many_connects"] += 1
        why = f"too many connection attempts from {address}; retry in {wait:.0f} s"
        await _refuse(socket, subprotocol, codes.TOO_MANY_CONNECTS, why)
        return None, subprotocol
    if not _origin_allowed(socket, edge):
        await _refuse(socket, subprotocol, codes.ORIGIN_NOT_ALLOWED, "origin not allowed")
        return None, subprotocol
    if not token:
        await _refuse(socket, subprotocol, codes.UNAUTHENTICATED, "a token is required")
        return None, subprotocol
    try:
        return edge.tokens.principal(token), subprotocol
    except AuthError as error:
        await _refuse(socket, subprotocol, codes.UNAUTHENTICATED, f"invalid token: {error.reason}")
        return None, subprotocol


async def _serve(
    socket: WebSocket[Any, Any, Any],
    subprotocol: str | None,
    edge: Edge,
    principal: Principal,
    conversation_id: UUID | None,
    after: int,
) -> None:
    """Accept, and run the session until it ends (unless the user has too
    many sockets open here already)."""
    user = principal.sub
    if edge.sockets_per_user[user] >= edge.config.max_sockets_per_user:
        edge.tally["refused_too_many_sockets"] += 1
        limit = edge.config.max_sockets_per_user
        why = f"at most {limit} open sockets per user on this node; close one first"
        await _refuse(socket, subprotocol, codes.TOO_MANY_SOCKETS, why)
        return
    edge.sockets_per_user[user] += 1  # before any await: the check above holds
    try:
        await socket.accept(subprotocols=subprotocol)
        await _run_session(socket, edge, principal, conversation_id, after)
    finally:
        edge.sockets_per_user[user] -= 1
        if edge.sockets_per_user[user] <= 0:
            del edge.sockets_per_user[user]


async def _run_session(
    socket: WebSocket[Any, Any, Any],
    edge: Edge,
    principal: Principal,
    conversation_id: UUID | None,
    after: int,
) -> None:
    session = open_session(
        socket,
        edge,
        actor=principal.actor(),
        expires_at=principal.expires_at,
        conversation_id=conversation_id,
        after=after,
    )
    edge.sessions.add(session)
    presence_key = None
    if edge.presence is not None and conversation_id is not None:
        actor = session.actor
        presence_key = edge.presence.join(conversation_id, actor.id, str(actor.role))
    try:
        await session.run()
    finally:
        edge.sessions.discard(session)
        if presence_key is not None and edge.presence is not None:
            edge.presence.leave(presence_key)


@websocket("/ws/{conversation_id:str}")
async def conversation_socket(
    socket: WebSocket[Any, Any, Any], conversation_id: FromPath[str], edge: NamedDependency[Edge]
) -> None:
    """One conversation's live events; SEND_MESSAGE, MARK_READ and typing in."""
    principal, subprotocol = await _authenticate(socket, edge)
    if principal is None:
        return
    actor = principal.actor()
    try:
        cid = UUID(conversation_id)
    except ValueError:
        await _refuse(socket, subprotocol, codes.NOT_FOUND, "no such conversation")
        return
    try:
        client_id = await edge.owners.client_of(cid)
    except OUTAGES:
        await _refuse(socket, subprotocol, codes.TRY_AGAIN_LATER, UNAVAILABLE)
        return
    if client_id is None:
        await _refuse(socket, subprotocol, codes.NOT_FOUND, "no such conversation")
        return
    if not access.can_see(actor, client_id):
        await _refuse(socket, subprotocol, codes.FORBIDDEN, "not your conversation")
        return
    raw = socket.query_params.get("after")
    try:
        after = await start_at(raw, "after", lambda: edge.store.stream_version(stream_id_for(cid)))
    except BadStart as error:
        await _refuse(socket, subprotocol, codes.BAD_REQUEST, str(error))
        return
    except OUTAGES:
        await _refuse(socket, subprotocol, codes.TRY_AGAIN_LATER, UNAVAILABLE)
        return
    await _serve(socket, subprotocol, edge, principal, cid, after)


@websocket("/ws/inbox")
async def inbox_socket(socket: WebSocket[Any, Any, Any], edge: NamedDependency[Edge]) -> None:
    """Staff only: every conversation's events, for a live inbox."""
    principal, subprotocol = await _authenticate(socket, edge)
    if principal is None:
        return
    actor = principal.actor()
    if not access.can_manage(actor):
        await _refuse(socket, subprotocol, codes.FORBIDDEN, "the inbox is for staff")
        return
    raw = socket.query_params.get("after_position")
    try:
        after = await start_at(raw, "after_position", edge.store.head_position)
    except BadStart as error:
        await _refuse(socket, subprotocol, codes.BAD_REQUEST, str(error))
        return
    except OUTAGES:
        await _refuse(socket, subprotocol, codes.TRY_AGAIN_LATER, UNAVAILABLE)
        return
    await _serve(socket, subprotocol, edge, principal, None, after)


class ConversationPresence(msgspec.Struct, frozen=True, kw_only=True):
    conversation_id: UUID
    online: list[OnlineUser]


@get(
    "/conversations/{conversation_id:uuid}/presence",
    summary="Who is connected to a conversation now (on any node)",
)
async def conversation_presence(
    conversation_id: FromPath[UUID], actor: NamedDependency[Actor], edge: NamedDependency[Edge]
) -> ConversationPresence:
    client_id = await edge.owners.client_of(conversation_id)
    if client_id is None:
        raise errors.ConversationNotFound("no such conversation")
    access.require_see(actor, client_id)
    online = [] if edge.presence is None else edge.presence.online(conversation_id)
    return ConversationPresence(conversation_id=conversation_id, online=online)


WEBSOCKET_HANDLERS = [inbox_socket, conversation_socket]
"""Mounted by the app, which provides ``edge`` (an :class:`Edge`)."""
PRESENCE_HANDLERS = [conversation_presence]
"""Mounted under ``/api``."""
