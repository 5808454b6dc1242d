"""Which session a socket gets: the inbox's, or its conversation's."""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol
from uuid import UUID

from litestar import WebSocket

from commands.handler import CommandHandler
from commands.model import Actor
from events.store import EventStore
from read_api.queries import ConversationView
from ws_edge.config import EdgeConfig
from ws_edge.conversation_session import ConversationSession
from ws_edge.hub import Hub
from ws_edge.inbox_session import InboxSession
from ws_edge.ratelimit import RateLimiter
from ws_edge.session import Session
from ws_edge.shared_reads import SharedReads


class SessionParts(Protocol):
    """What sessions are made of: the node's parts (``ws_edge.http.Edge``)."""

    hub: Hub
    store: EventStore
    replays: SharedReads
    handler: CommandHandler
    limiter: RateLimiter
    config: EdgeConfig
    tally: Counter[str]

    async def inbox_rows(
        self, conversation_ids: list[UUID], position: int, actor: Actor
    ) -> list[ConversationView]: ...


def open_session(
    socket: WebSocket[Any, Any, Any],
    parts: SessionParts,
    *,
    actor: Actor,
    expires_at: float | None,
    conversation_id: UUID | None,
    after: int,
) -> Session:
    """The inbox socket's session (no ``conversation_id``), or a conversation's."""
    if conversation_id is None:
        return InboxSession(
            socket,
            actor=actor,
            expires_at=expires_at,
            after=after,
            hub=parts.hub,
            store=parts.store,
            config=parts.config,
            rows=parts.inbox_rows,
            handler=parts.handler,
            limiter=parts.limiter,
            tally=parts.tally,
        )
    return ConversationSession(
        socket,
        actor=actor,
        expires_at=expires_at,
        conversation_id=conversation_id,
        after=after,
        hub=parts.hub,
        store=parts.store,
        replays=parts.replays,
        handler=parts.handler,
        limiter=parts.limiter,
        config=parts.config,
        tally=parts.tally,
    )
