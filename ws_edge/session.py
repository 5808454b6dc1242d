"""One WebSocket connection: replay, then live events; frames in, commands out.

A session runs two tasks, the writer (replay from the store, READY, then
everything in the socket's mailbox: live events from the hub, and the
reader's answers) and the reader (client frames), and ends when either
ends or when a timer or the hub ends it: a missed heartbeat, the token's
expiry, a full mailbox (slow consumer). Timers are plain loop callbacks, not
tasks, so an idle socket costs no wake-ups between heartbeats; only a typist
has a third task, which refreshes the indicator while it lasts. The close
code says why (see ``ws_edge.codes``).

While the writer waits with nothing queued, the hub sends live events to the
socket itself (``_send_now``, see ``ws_edge.hub``); a send that has to wait
for the socket finishes in a task of its own, and the writer lets it finish
before it sends anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import asyncpg
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from nats.errors import Error as NatsError

from commands import errors
from commands.handler import CommandHandler
from commands.model import Actor, MarkRead, SendMessage, stream_id_for
from events.envelope import RecordedEvent
from events.store import EventStore, StoreUnavailable
from events.tasks import cancel_and_wait, run_eagerly
from read_api.queries import ConversationView
from ws_edge import codes, frames, inbound
from ws_edge.config import EdgeConfig
from ws_edge.hub import Hub
from ws_edge.mailbox import Delivery, Subscriber
from ws_edge.ratelimit import RateLimiter
from ws_edge.translate import event_frame
from ws_edge.typists import TypingSignal

log = logging.getLogger("parley.ws")

_GONE = (OSError, WebSocketDisconnect)  # uvicorn: ClientDisconnected(OSError)
OUTAGES = (
    StoreUnavailable,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    NatsError,
)
"""What a session's reads raise while PostgreSQL or NATS is away (a plain
OSError is taken for the client gone): close 1013, the client comes back."""
UNAVAILABLE = "PostgreSQL or NATS is unavailable: reconnect shortly and resume"
"""What sending to (or reading from) a socket whose client has gone raises."""

RowSource = Callable[[list[UUID], int], Awaitable[list[ConversationView]]]
"""Inbox rows of these conversations, once the read model reached this position."""
_PAGE = 500


class Session:
    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        *,
        actor: Actor,
        expires_at: float | None,
        conversation_id: UUID | None,
        after: int,
        hub: Hub,
        store: EventStore,
        handler: CommandHandler,
        limiter: RateLimiter,
        config: EdgeConfig,
        rows: RowSource | None = None,
        tally: Counter[str] | None = None,
    ) -> None:
        self.socket = socket
        self.actor = actor
        self.expires_at = expires_at
        self.conversation_id = conversation_id
        self.last = after  # stream position (conversation) or global position (inbox)
        self.hub = hub
        self.store = store
        self.handler = handler
        self.limiter = limiter
        self.config = config
        self.subscriber = Subscriber(
            conversation_id,
            config.queue_size,
            staff=actor.is_staff,
            on_overflow=lambda: self.end(
                codes.SLOW_CONSUMER, "too far behind: reconnect with after"
            ),
            send_now=self._send_now if conversation_id is not None else None,
        )
        self.rows = rows
        self.tally: Counter[str] = Counter() if tally is None else tally
        self._touched: dict[UUID, int] = {}  # inbox: conversation -> last position sent
        self._last_heard = time.monotonic()
        self._typing_until: float | None = None
        self._typing_refresher: asyncio.Task[None] | None = None
        self._ended: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._parked = False  # the writer waits for frames, with none queued
        self._sending: asyncio.Task[None] | None = None  # a fast-path send that had to wait

    # -- the life of a session ------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.hub.add(self.subscriber)
        tasks = [asyncio.create_task(self._write()), asyncio.create_task(self._read())]
        self._timers["heartbeat"] = loop.call_later(self.config.heartbeat_seconds, self._heartbeat)
        if self.expires_at is not None:
            self._timers["expiry"] = loop.call_later(
                max(0.0, self.expires_at - time.time()),
                self.end,
                codes.UNAUTHENTICATED,
                "the token expired",
            )
        code, reason = codes.NORMAL, ""
        try:
            waiting: list[asyncio.Future[Any]] = [*tasks, self._ended]
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if self._ended.done():
                code, reason = self._ended.result()
            for task in tasks:
                if task not in done:
                    continue
                error = task.exception()
                if isinstance(error, OUTAGES):
                    log.warning("websocket session ended by an outage: %r", error)
                    code, reason = codes.TRY_AGAIN_LATER, UNAVAILABLE
                elif error is not None and not isinstance(error, _GONE):
                    log.error("websocket session failed", exc_info=error)
                    code, reason = codes.INTERNAL_ERROR, "internal error"
        finally:
            for timer in self._timers.values():
                timer.cancel()
            for extra in (self._typing_refresher, self._sending):
                if extra is not None:
                    tasks.append(extra)
            await cancel_and_wait(*tasks)
            self.hub.remove(self.subscriber)
            await self._stop_typing()
            # The close frame waits behind whatever the client has not read:
            # a client that reads nothing would hold the session for ever.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.config.close_timeout):
                    await self.socket.close(code=code, reason=reason)

    def end(self, code: int, reason: str) -> None:
        """Close the session with ``code`` (the first reason given wins)."""
        if not self._ended.done():
            self._ended.set_result((code, reason))

    def _reply(self, frame: frames.ServerFrame) -> None:
        """Answer a client frame: through the mailbox, so that the writer is
        the only task that writes to the socket, and the answer follows what
        was queued before it (an ACK comes after its MESSAGE_CREATED)."""
        self.subscriber.offer(frame)

    # Only the writer calls these, and the fast path (_send_now) while the writer is parked.
    async def _send(self, frame: frames.ServerFrame) -> None:
        await self._send_text(frames.encode_frame(frame).decode())

    async def _send_text(self, text: str) -> None:
        await self.socket.send_data(text)
        self.tally["frames_out"] += 1

    # -- writer: replay, then live ----------------------------------------------------

    async def _write(self) -> None:
        await self._replay()
        await self._send(self._ready())
        while True:
            if self._touched and not self.subscriber.mailbox:
                await self._send_rows()
            self._parked = True
            try:
                item = await self.subscriber.mailbox.take()
            finally:
                self._parked = False
            if self._sending is not None:  # a fast-path send still going: it goes first
                await asyncio.wait([self._sending])
            if not isinstance(item, Delivery):  # replies, TYPING, PRESENCE, HEARTBEAT
                await self._send(item)
                continue
            event = item.event
            where = self._where(event)
            if where <= self.last:
                continue  # replayed already, or delivered twice
            if where > self.last + 1:
                await self._replay()  # a gap: fill it (and more) from the store
                continue
            await self._send_text(item.text)  # encoded once for every socket
            self.last = where
            if self.rows is not None:
                self._touched[event.data.conversation_id] = event.global_position

    def _send_now(self, item: Delivery) -> bool:
        """The hub's fast path: while the writer waits with nothing queued, a
        live event is sent at once, in the hub's turn of the loop, instead of
        waking this socket's writer task (one wake-up per socket and event
        saved). False: the writer must have it (it is busy, or there is a gap
        to fill from the store first)."""
        if self._ended.done():
            return True  # closing: nothing more goes out
        if not self._parked or self._sending is not None:
            return False
        where = item.event.stream_position
        if where > self.last + 1:
            return False
        if where <= self.last:
            return True  # replayed already, or delivered twice
        self.last = where
        try:
            self._sending = run_eagerly(self._send_text(item.text))
        except Exception as error:
            self._send_failed(error)
        else:
            if self._sending is not None:  # the socket could not take it at once
                self._sending.add_done_callback(self._sent)
        return True

    def _sent(self, task: asyncio.Task[None]) -> None:
        if self._sending is task:
            self._sending = None
        if not task.cancelled() and (error := task.exception()) is not None:
            self._send_failed(error)

    def _send_failed(self, error: BaseException) -> None:
        """A fast-path send failed: end the session, as the writer's failure would."""
        if isinstance(error, _GONE):
            self.end(codes.NORMAL, "")
            return
        log.error("websocket session failed", exc_info=error)
        self.end(codes.INTERNAL_ERROR, "internal error")

    async def _send_rows(self) -> None:
        """Inbox: the rows of the conversations just changed, read-model fresh."""
        assert self.rows is not None
        touched, self._touched = self._touched, {}
        for row in await self.rows(list(touched), max(touched.values())):
            await self._send(frames.ConversationRow(conversation=row))

    def _where(self, event: RecordedEvent) -> int:
        return event.global_position if self.conversation_id is None else event.stream_position

    async def _replay(self) -> None:
        """Send every stored event after ``self.last``, up to the head."""
        while page := await self._page():
            for event in page:
                await self._send(event_frame(event))
                self.last = self._where(event)
            if len(page) < _PAGE:
                return

    async def _page(self) -> list[RecordedEvent]:
        if self.conversation_id is None:
            return await self.store.read_all(after=self.last, limit=_PAGE)
        stream = stream_id_for(self.conversation_id)
        return await self.store.read_stream(stream, after=self.last, limit=_PAGE)

    def _ready(self) -> frames.Ready:
        if self.conversation_id is None:
            return frames.Ready(position=self.last)
        return frames.Ready(
            conversation_id=self.conversation_id, stream_position=self.last, position=0
        )

    # -- reader: frames in ---------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            message: dict[str, Any] = dict(await self.socket.receive())
            if message["type"] == "websocket.disconnect":
                return
            self._last_heard = time.monotonic()
            self.tally["frames_in"] += 1
            text = message.get("text")
            if not isinstance(text, str):
                self._reply(
                    frames.Error(code="binary_not_supported", message="send text frames (JSON)")
                )
                continue
            await self._handle_text(text)

    async def _handle_text(self, text: str) -> None:
        frame = inbound.decode(text, self.config.max_frame_bytes)
        if isinstance(frame, frames.Error):
            self._reply(frame)
            return
        try:
            await self._dispatch(frame)
        except Exception:  # a bug or an outage: this frame fails, the socket lives on
            log.exception("a websocket frame failed")
            self.tally["frames_failed"] += 1
            self._reply(inbound.internal_error(frame.ref))

    async def _dispatch(self, frame: frames.AnyClientFrame) -> None:
        if isinstance(frame, frames.PingFrame):
            self._reply(frames.Pong(ref=frame.ref))
            return
        if isinstance(frame, frames.SubscribeFrame | frames.UnsubscribeFrame):
            await self._subscription(frame)
            return
        if self.conversation_id is None:
            self._reply(
                frames.Error(code="not_here", message="the inbox only listens", ref=frame.ref)
            )
            return
        match frame:
            case frames.SendMessageFrame():
                await self._limited("message", frame.ref, lambda: self._send_message(frame))
            case frames.MarkReadFrame():
                await self._command(
                    MarkRead(conversation_id=self.conversation_id, up_to_seq=frame.up_to_seq),
                    frame.ref,
                )
            case frames.TypingStartFrame():
                if self._typing_until is not None:  # a refresh: free
                    self._typing_until = time.monotonic() + self.config.typing_timeout
                    return
                await self._limited("typing", frame.ref, self._start_typing)
            case frames.TypingStopFrame():  # never refused, never counted
                await self._stop_typing()

    async def _subscription(self, frame: frames.SubscribeFrame | frames.UnsubscribeFrame) -> None:
        """Inbox: follow (or stop following) a conversation's typing indicators."""
        if self.conversation_id is not None:
            self._reply(
                frames.Error(
                    code="not_here",
                    message="SUBSCRIBE is for the inbox socket; this one follows its conversation",
                    ref=frame.ref,
                )
            )
            return
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

    async def _limited(
        self, kind: str, ref: str | None, action: Callable[[], Awaitable[None]]
    ) -> None:
        wait = self.limiter.take(self.actor.id, kind)
        if wait is not None:
            self.tally[f"rate_limited_{kind}"] += 1
            self._reply(
                frames.Error(
                    code="rate_limited",
                    message=f"too many {kind} frames; try again later",
                    ref=ref,
                    retry_after=round(wait, 3),
                )
            )
            return
        await action()

    async def _send_message(self, frame: frames.SendMessageFrame) -> None:
        assert self.conversation_id is not None
        command = SendMessage(
            conversation_id=self.conversation_id,
            content=frame.content,
            message_type=frame.message_type,
            attachment=frame.attachment,
            client_message_id=frame.client_message_id,
        )
        await self._command(command, frame.ref, client_message_id=frame.client_message_id)
        await self._stop_typing()

    async def _command(
        self, command: SendMessage | MarkRead, ref: str | None, client_message_id: str | None = None
    ) -> None:
        try:
            result = await self.handler.handle(command, self.actor)
        except (errors.DomainError, StoreUnavailable) as error:
            self._reply(inbound.refused(error, ref))
            return
        self._reply(
            frames.Ack(
                ref=ref,
                client_message_id=client_message_id,
                message_id=result.message_id,
                seq=result.seq,
                position=result.position,
                replayed=result.replayed,
            )
        )

    # -- typing --------------------------------------------------------------------------

    async def _start_typing(self) -> None:
        self._typing_until = time.monotonic() + self.config.typing_timeout
        await self._publish_typing("started")
        if self._typing_refresher is None or self._typing_refresher.done():
            self._typing_refresher = asyncio.create_task(self._keep_typing_alive())

    async def _stop_typing(self) -> None:
        if self._typing_until is None:
            return
        self._typing_until = None
        with contextlib.suppress(Exception):
            await self._publish_typing("stopped")

    async def _publish_typing(self, state: str) -> None:
        assert self.conversation_id is not None
        await self.hub.publish_typing(
            TypingSignal(
                conversation_id=self.conversation_id,
                user_id=self.actor.id,
                role=self.actor.role,
                state="started" if state == "started" else "stopped",
                session=self.subscriber.id,
            )
        )

    async def _keep_typing_alive(self) -> None:
        """While typing: refresh the indicator on every node; end it when the
        client stops refreshing. Ends with the indicator."""
        while self._typing_until is not None:
            await asyncio.sleep(self.config.typing_keepalive)
            if self._typing_until is None:
                return
            if time.monotonic() > self._typing_until:
                await self._stop_typing()
            else:
                try:
                    await self._publish_typing("started")
                except Exception:  # the other nodes end it after typing_expiry
                    log.warning("could not refresh a typing indicator", exc_info=True)

    # -- liveness ------------------------------------------------------------------------

    def _heartbeat(self) -> None:
        """Every interval: end a socket silent for two, else send a HEARTBEAT
        (through the mailbox, after what is queued)."""
        interval = self.config.heartbeat_seconds
        if time.monotonic() - self._last_heard > 2 * interval:
            self.end(codes.MISSED_HEARTBEAT, "no frame for two heartbeats")
            return
        self.subscriber.offer(frames.Heartbeat())
        self._timers["heartbeat"] = asyncio.get_running_loop().call_later(interval, self._heartbeat)
