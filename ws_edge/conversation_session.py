"""A conversation's socket: its stream replayed and followed (stream
positions), SEND_MESSAGE, MARK_READ, typing and (staff) ADD_NOTE in; the
fast path out."""

from __future__ import annotations

from collections import Counter
from typing import Any
from uuid import UUID

from litestar import WebSocket

from commands import access
from commands.handler import CommandHandler
from commands.model import Actor, MarkRead, SendMessage, stream_id_for
from events.envelope import RecordedEvent
from events.store import EventStore
from ws_edge import frames
from ws_edge.config import EdgeConfig
from ws_edge.hub import Hub
from ws_edge.mailbox import Subscriber
from ws_edge.notes import add_note
from ws_edge.ratelimit import RateLimiter
from ws_edge.reader import Commands
from ws_edge.session import PAGE, Session
from ws_edge.shared_reads import SharedReads
from ws_edge.typing_indicator import TypingIndicator


class ConversationSession(Session):
    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        *,
        actor: Actor,
        expires_at: float | None,
        conversation_id: UUID,
        after: int,
        hub: Hub,
        store: EventStore,
        handler: CommandHandler,
        limiter: RateLimiter,
        config: EdgeConfig,
        replays: SharedReads | None = None,
        tally: Counter[str] | None = None,
    ) -> None:
        self.conversation_id = conversation_id
        self.replays = replays or SharedReads(store)
        self._opening = True  # the replay's first page: shared with sockets opening with it
        super().__init__(
            socket,
            actor=actor,
            expires_at=expires_at,
            after=after,  # a stream position
            hub=hub,
            store=store,
            config=config,
            tally=tally,
        )
        self.commands = Commands(handler, limiter, actor, reply=self._reply, tally=self.tally)
        self.typing = TypingIndicator(hub, conversation_id, actor, self.subscriber.id, config)

    def _subscriber(self) -> Subscriber:
        return Subscriber(
            self.conversation_id,
            self.config.queue_size,
            staff=access.can_see_staff(self.actor),
            on_overflow=self._overflowed,
            send_now=self._send_now,
        )

    async def _page(self) -> list[RecordedEvent]:
        stream = stream_id_for(self.conversation_id)
        if not self._opening:
            return await self.store.read_stream(stream, after=self.last, limit=PAGE)
        self._opening = False
        page = await self.replays.read_stream(stream, after=self.last, limit=PAGE)
        end = page[-1].stream_position if page else self.last
        lagging = self.replays.may_lag or self.hub.delivered(self.conversation_id) > end
        if len(page) < PAGE and lagging:
            # The shared read began before this socket joined the hub, which
            # fanned out more before it joined, or it read a replica that may
            # not hold the newest events yet: read the rest here.
            page = [*page, *await self.store.read_stream(stream, after=end, limit=PAGE - len(page))]
        return page

    def _where(self, event: RecordedEvent) -> int:
        return event.stream_position

    def _ready(self) -> frames.Ready:
        online = self.hub.online(self.conversation_id) if self.subscriber.staff else None
        return frames.Ready(
            conversation_id=self.conversation_id,
            stream_position=self.last,
            position=0,
            online=online,
        )

    async def _before_waiting(self) -> None:
        pass  # nothing to add: live events go out as they come

    def _sent_live(self, event: RecordedEvent) -> None:
        pass

    async def _closing(self) -> None:
        await self.typing.close()

    async def _handle(self, frame: frames.AnyClientFrame) -> None:
        match frame:
            case frames.SubscribeFrame() | frames.UnsubscribeFrame():
                self._reply(
                    frames.Error(
                        code="not_here",
                        message="SUBSCRIBE is for the inbox socket; "
                        "this one follows its conversation",
                        ref=frame.ref,
                    )
                )
            case frames.SendMessageFrame():
                await self.commands.limited("message", frame.ref, lambda: self._send_message(frame))
            case frames.MarkReadFrame():
                await self.commands.run(
                    MarkRead(
                        conversation_id=self.conversation_id,
                        up_to_seq=frame.up_to_seq,
                        seen_version=frame.seen_version,
                    ),
                    frame.ref,
                )
            case frames.TypingStartFrame():
                if self.typing.active:  # a refresh: free
                    self.typing.refresh()
                    return
                await self.commands.limited("typing", frame.ref, self.typing.start)
            case frames.TypingStopFrame():  # never refused, never counted
                await self.typing.stop()
            case frames.AddNoteFrame():
                directory = self.hub.directory
                await add_note(frame, self.conversation_id, self.actor, directory, self.commands)

    async def _send_message(self, frame: frames.SendMessageFrame) -> None:
        command = SendMessage(
            conversation_id=self.conversation_id,
            content=frame.content,
            message_type=frame.message_type,
            attachment=frame.attachment,
            client_message_id=frame.client_message_id,
            seen_version=frame.seen_version,
        )
        await self.commands.run(command, frame.ref, client_message_id=frame.client_message_id)
        await self.typing.stop()
