"""The inbox socket: every conversation the user may see, replayed and
followed in log order (global positions), each change followed by the
conversation's inbox row, and a NOTIFICATION after each note that mentions
the user; it listens, but for SUBSCRIBE/UNSUBSCRIBE (a conversation's
typing indicators) and ADD_NOTE (a note on any conversation)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from litestar import WebSocket

from commands.handler import CommandHandler
from commands.model import Actor
from events.catalogue import ConversationEvent
from events.envelope import RecordedEvent
from events.store import EventStore
from read_api.queries import ConversationView
from ws_edge import frames
from ws_edge.audience import notification
from ws_edge.config import EdgeConfig
from ws_edge.hub import Hub
from ws_edge.mailbox import Subscriber
from ws_edge.notes import add_note
from ws_edge.ratelimit import RateLimiter
from ws_edge.reader import Commands
from ws_edge.session import PAGE, Session

RowSource = Callable[[list[UUID], int, Actor], Awaitable[list[ConversationView]]]
"""Inbox rows of these conversations as this actor sees them (their own
unread), once the read model reached this position."""


class InboxSession(Session):
    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        *,
        actor: Actor,
        expires_at: float | None,
        after: int,
        hub: Hub,
        store: EventStore,
        config: EdgeConfig,
        rows: RowSource,
        handler: CommandHandler,
        limiter: RateLimiter,
        tally: Counter[str] | None = None,
    ) -> None:
        super().__init__(
            socket,
            actor=actor,
            expires_at=expires_at,
            after=after,  # a global position
            hub=hub,
            store=store,
            config=config,
            tally=tally,
        )
        self.rows = rows
        self.commands = Commands(handler, limiter, actor, reply=self._reply, tally=self.tally)
        self._touched: dict[UUID, int] = {}  # conversation -> last position sent

    def _subscriber(self) -> Subscriber:
        return Subscriber(
            None, self.config.queue_size, staff=self.actor.is_staff, on_overflow=self._overflowed
        )

    async def _page(self) -> list[RecordedEvent]:
        return await self.store.read_all(after=self.last, limit=PAGE)

    def _where(self, event: RecordedEvent) -> int:
        return event.global_position

    def _ready(self) -> frames.Ready:
        return frames.Ready(position=self.last)

    def _also(self, event: RecordedEvent) -> frames.ServerFrame | None:
        return notification(self.actor, event, self.hub.directory)

    def _sent_live(self, event: RecordedEvent) -> None:
        if isinstance(event.data, ConversationEvent):
            self._touched[event.data.conversation_id] = event.global_position

    async def _before_waiting(self) -> None:
        """The rows of the conversations just changed, read-model fresh."""
        if not self._touched or self.subscriber.mailbox:
            return
        touched, self._touched = self._touched, {}
        for row in await self.rows(list(touched), max(touched.values()), self.actor):
            await self._send(frames.ConversationRow(conversation=row))

    async def _closing(self) -> None:
        pass  # the hub forgot the typing it followed

    async def _handle(self, frame: frames.AnyClientFrame) -> None:
        match frame:
            case frames.SubscribeFrame() | frames.UnsubscribeFrame():
                self._subscription(frame)
            case frames.AddNoteFrame():
                directory = self.hub.directory
                await add_note(frame, None, self.actor, directory, self.commands)
            case _:
                self._reply(
                    frames.Error(
                        code="not_here",
                        message="the inbox takes SUBSCRIBE, UNSUBSCRIBE and ADD_NOTE only",
                        ref=frame.ref,
                    )
                )

    def _subscription(self, frame: frames.SubscribeFrame | frames.UnsubscribeFrame) -> None:
        """Follow (or stop following) a conversation's typing indicators."""
        watching = self.subscriber.typing_of
        cid = frame.conversation_id
        if isinstance(frame, frames.UnsubscribeFrame):
            self.hub.unwatch_typing(self.subscriber, cid)
        elif cid not in watching and len(watching) >= self.config.max_subscriptions:
            self.tally["refused_too_many_subscriptions"] += 1
            limit = self.config.max_subscriptions
            self._reply(
                frames.Error(
                    code="too_many_subscriptions",
                    message=f"a socket follows at most {limit} conversations; UNSUBSCRIBE first",
                    ref=frame.ref,
                )
            )
            return
        else:
            self.hub.watch_typing(self.subscriber, cid)
        self._reply(frames.Subscriptions(ref=frame.ref, conversation_ids=sorted(watching, key=str)))
