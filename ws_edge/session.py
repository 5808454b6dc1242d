"""One WebSocket connection's life: replay, then live events; the parts
shared by the two kinds of socket (``ws_edge.conversation_session``,
``ws_edge.inbox_session``).

A session runs two tasks, the writer (replay from the store, READY, then
everything in the socket's mailbox: live events from the hub, and the
reader's answers) and the reader (client frames, ``ws_edge.reader``), and
ends when either ends or when a timer or the hub ends it: a missed
heartbeat, the token's expiry, a full mailbox (slow consumer). Timers are
plain loop callbacks, not tasks, so an idle socket costs no wake-ups between
heartbeats. The close code says why (see ``ws_edge.codes``).

While the writer waits with nothing queued, the hub may send live events to
the socket itself (``_send_now``, see ``ws_edge.mailbox``); a send that has
to wait for the socket finishes in a task of its own, and the writer lets it
finish before it sends anything else. Replayed, live or fast, an event's
frame goes out only if ``ws_edge.audience`` says this socket's viewer gets it.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import time
from collections import Counter
from typing import Any

from litestar import WebSocket

from commands.model import Actor
from events.envelope import RecordedEvent
from events.store import EventStore
from events.tasks import cancel_and_wait, run_eagerly
from ws_edge import codes, frames
from ws_edge.audience import for_viewer, visible
from ws_edge.config import EdgeConfig
from ws_edge.hub import Hub
from ws_edge.mailbox import Delivery, Subscriber
from ws_edge.outages import ended_by
from ws_edge.reader import Reader
from ws_edge.translate import event_frame

PAGE = 500
"""Events read from the store at a time, while replaying."""


class Session(abc.ABC):
    """The lifecycle and the writer of a socket; its kind says what it
    replays and follows (``_page``, ``_where``) and what its frames do
    (``_handle``)."""

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
        tally: Counter[str] | None = None,
    ) -> None:
        self.socket = socket
        self.actor = actor
        self.expires_at = expires_at
        self.last = after  # the position (of the kind's ``_where``) sent last
        self.hub = hub
        self.store = store
        self.config = config
        self.tally: Counter[str] = Counter() if tally is None else tally
        self.subscriber = self._subscriber()
        self.reader = Reader(
            socket,
            max_frame_bytes=config.max_frame_bytes,
            reply=self._reply,
            dispatch=self._dispatch,
            tally=self.tally,
        )
        self._ended: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._parked = False  # the writer waits for frames, with none queued
        self._sending: asyncio.Task[None] | None = None  # a fast-path send that had to wait

    # -- what the kinds of socket say -------------------------------------------------

    @abc.abstractmethod
    def _subscriber(self) -> Subscriber:
        """This socket's mailbox at the hub (``_overflowed`` when it is full)."""

    @abc.abstractmethod
    async def _page(self) -> list[RecordedEvent]:
        """Up to ``PAGE`` stored events after ``self.last``."""

    @abc.abstractmethod
    def _where(self, event: RecordedEvent) -> int:
        """An event's position, as ``self.last`` counts."""

    @abc.abstractmethod
    def _ready(self) -> frames.Ready: ...

    @abc.abstractmethod
    async def _handle(self, frame: frames.AnyClientFrame) -> None:
        """A client frame other than PING."""

    @abc.abstractmethod
    async def _before_waiting(self) -> None:
        """The writer is about to wait for its mailbox."""

    @abc.abstractmethod
    def _sent_live(self, event: RecordedEvent) -> None:
        """The writer sent ``event`` live."""

    @abc.abstractmethod
    async def _closing(self) -> None:
        """The session ends: its tasks are stopped and the hub forgot it."""

    def _also(self, event: RecordedEvent) -> frames.ServerFrame | None:
        """A frame that follows ``event``'s for this socket (the inbox's NOTIFICATION)."""
        return None

    # -- the life of a session ------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.hub.add(self.subscriber)
        tasks = [asyncio.create_task(self._write()), asyncio.create_task(self.reader.run())]
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
                if task in done and (why := ended_by(task.exception())) is not None:
                    code, reason = why
        finally:
            for timer in self._timers.values():
                timer.cancel()
            if self._sending is not None:
                tasks.append(self._sending)
            await cancel_and_wait(*tasks)
            self.hub.remove(self.subscriber)
            await self._closing()
            # The close frame waits behind whatever the client has not read:
            # a client that reads nothing would hold the session for ever.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.config.close_timeout):
                    await self.socket.close(code=code, reason=reason)

    def end(self, code: int, reason: str) -> None:
        """Close the session with ``code`` (the first reason given wins)."""
        if not self._ended.done():
            self._ended.set_result((code, reason))

    def _overflowed(self) -> None:
        self.end(codes.SLOW_CONSUMER, "too far behind: reconnect with after")

    def _heartbeat(self) -> None:
        """Every interval: end a socket silent for two, else send a HEARTBEAT
        (through the mailbox, after what is queued)."""
        interval = self.config.heartbeat_seconds
        if time.monotonic() - self.reader.last_heard > 2 * interval:
            self.end(codes.MISSED_HEARTBEAT, "no frame for two heartbeats")
            return
        self.subscriber.offer(frames.Heartbeat())
        self._timers["heartbeat"] = asyncio.get_running_loop().call_later(interval, self._heartbeat)

    async def _dispatch(self, frame: frames.AnyClientFrame) -> None:
        if isinstance(frame, frames.PingFrame):
            self._reply(frames.Pong(ref=frame.ref))
            return
        await self._handle(frame)

    def _reply(self, frame: frames.ServerFrame) -> None:
        """Answer a client frame: through the mailbox, so that the writer is
        the only task that writes to the socket, and the answer follows what
        was queued before it (an ACK comes after its MESSAGE_CREATED)."""
        self.subscriber.offer(frame)

    # -- writer: replay, then live ----------------------------------------------------

    # Only the writer calls these, and the fast path (_send_now) while the writer is parked.
    async def _send(self, frame: frames.ServerFrame) -> None:
        await self._send_text(frames.encode_frame(frame).decode())

    async def _send_text(self, text: str) -> None:
        await self.socket.send_data(text)
        self.tally["frames_out"] += 1

    async def _write(self) -> None:
        await self._replay()
        await self._send(self._ready())
        while True:
            await self._before_waiting()
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
            text = self._text(item)
            await self._send_event(event, text)
            if text is not None:
                self._sent_live(event)

    async def _send_event(self, event: RecordedEvent, text: str | None) -> None:
        """An event's frame (None: not for this socket) and any that follows
        it; the socket's position moves on past the event either way."""
        if text is not None:
            await self._send_text(text)
            if (also := self._also(event)) is not None:
                await self._send(also)
        self.last = self._where(event)

    def _text(self, item: Delivery) -> str | None:
        """``item``'s frame as this socket gets it (None: not at all), encoded once per node."""
        if not visible(self.actor, item.event.data):
            return None
        return item.text_for(self.subscriber.staff)

    async def _replay(self) -> None:
        """Send every stored event after ``self.last``, up to the head."""
        directory = self.hub.directory
        while page := await self._page():
            await directory.resolve(event.data for event in page)
            for event in page:
                frame = for_viewer(self.actor, event, event_frame(event, directory))
                text = None if frame is None else frames.encode_frame(frame).decode()
                await self._send_event(event, text)
            if len(page) < PAGE:
                return

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
        where = self._where(item.event)
        if where > self.last + 1:
            return False
        if where <= self.last:
            return True  # replayed already, or delivered twice
        if self._also(item.event) is not None:
            return False  # two frames: the writer's job
        self.last = where
        if (text := self._text(item)) is None:
            return True  # not for this socket: its position moved on
        try:
            self._sending = run_eagerly(self._send_text(text))
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
        self.end(*(ended_by(error) or (codes.NORMAL, "")))
