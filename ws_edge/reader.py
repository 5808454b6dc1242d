"""A socket's frames in: read, decode, dispatch; and the rate limits and
commands that a conversation socket's frames turn into.

Nothing a client sends may end its socket: a frame that cannot be decoded
(``ws_edge.inbound``) or that fails on our side is answered with an ERROR
carrying the frame's ``ref``, and the reader goes on. Answers go through the
session's ``reply`` (its mailbox), so that its writer is the only task that
writes to the socket.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import WebSocket

from commands import errors
from commands.handler import CommandHandler
from commands.model import Actor, AddNote, MarkRead, SendMessage
from events.store import StoreUnavailable
from ws_edge import frames, inbound
from ws_edge.ratelimit import RateLimiter

log = logging.getLogger("parley.ws")

Reply = Callable[[frames.ServerFrame], None]
Dispatch = Callable[[frames.AnyClientFrame], Awaitable[None]]


class Reader:
    """Reads client frames until the client disconnects; each decoded frame
    goes to ``dispatch``. ``last_heard`` is when the client last sent one."""

    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        *,
        max_frame_bytes: int,
        reply: Reply,
        dispatch: Dispatch,
        tally: Counter[str],
    ) -> None:
        self._socket = socket
        self._max_frame_bytes = max_frame_bytes
        self._reply = reply
        self._dispatch = dispatch
        self._tally = tally
        self.last_heard = time.monotonic()

    async def run(self) -> None:
        while True:
            message: dict[str, Any] = dict(await self._socket.receive())
            if message["type"] == "websocket.disconnect":
                return
            self.last_heard = time.monotonic()
            self._tally["frames_in"] += 1
            text = message.get("text")
            if not isinstance(text, str):
                self._reply(
                    frames.Error(code="binary_not_supported", message="send text frames (JSON)")
                )
                continue
            await self._handle_text(text)

    async def _handle_text(self, text: str) -> None:
        frame = inbound.decode(text, self._max_frame_bytes)
        if isinstance(frame, frames.Error):
            self._reply(frame)
            return
        try:
            await self._dispatch(frame)
        except Exception:  # a bug or an outage: this frame fails, the socket lives on
            log.exception("a websocket frame failed")
            self._tally["frames_failed"] += 1
            self._reply(inbound.internal_error(frame.ref))


class Commands:
    """One socket's rate limits, and its commands to the handler: each is
    answered with an ACK, or with the ERROR of its refusal."""

    def __init__(
        self,
        handler: CommandHandler,
        limiter: RateLimiter,
        actor: Actor,
        *,
        reply: Reply,
        tally: Counter[str],
    ) -> None:
        self._handler = handler
        self._limiter = limiter
        self._actor = actor
        self._reply = reply
        self._tally = tally

    async def limited(
        self, kind: str, ref: str | None, action: Callable[[], Awaitable[None]]
    ) -> None:
        """Run ``action`` unless the actor is over its ``kind`` limit (then an ERROR)."""
        wait = self._limiter.take(self._actor.id, kind)
        if wait is not None:
            self._tally[f"rate_limited_{kind}"] += 1
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

    def refuse(self, error: errors.DomainError | StoreUnavailable, ref: str | None) -> None:
        """Answer a frame with the ERROR of its refusal."""
        self._reply(inbound.refused(error, ref))

    async def run(
        self,
        command: SendMessage | MarkRead | AddNote,
        ref: str | None,
        client_message_id: str | None = None,
    ) -> None:
        try:
            result = await self._handler.handle(command, self._actor)
        except (errors.DomainError, StoreUnavailable) as error:
            self.refuse(error, ref)
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
