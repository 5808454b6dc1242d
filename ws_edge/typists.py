"""Who is typing where on every node, and which inbox sockets follow it.

Typing travels on NATS core and is never stored. Each node keeps the
indicators it has heard (``Typists.heard``); a typist's node refreshes its
indicator while it lasts, and the sweeper ends the indicators nobody
refreshed within ``expiry`` seconds (their node died). What changes is told
through one callback: the hub fans it out to the sockets.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

import msgspec

from events.tasks import cancel_and_wait
from ws_edge import frames
from ws_edge.mailbox import Subscriber, discard


class TypingSignal(msgspec.Struct, frozen=True, kw_only=True):
    """What travels on NATS core (never stored): someone's typing state."""

    conversation_id: UUID
    user_id: str
    role: str
    state: Literal["started", "stopped"]
    session: str
    """The typist's socket, so that it is not echoed back to it."""


decode_signal = msgspec.json.Decoder(TypingSignal).decode
encode_signal = msgspec.json.Encoder().encode


@dataclass
class _Typist:
    signal: TypingSignal
    seen: float


class Typists:
    """This node's view of the typing indicators, and their inbox watchers."""

    def __init__(self, expiry: float, tell: Callable[[TypingSignal], None]) -> None:
        self._expiry = expiry
        self._tell = tell
        self._typists: dict[tuple[UUID, str], _Typist] = {}
        self._watchers: dict[UUID, set[Subscriber]] = defaultdict(set)
        self._sweeper: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep())

    async def stop(self) -> None:
        if self._sweeper is not None:
            await cancel_and_wait(self._sweeper)

    def heard(self, signal: TypingSignal) -> None:
        """A signal from some node: tell what changed (not keep-alives)."""
        key = (signal.conversation_id, signal.user_id)
        known = self._typists.get(key)
        if signal.state == "started":
            self._typists[key] = _Typist(signal, time.monotonic())
            if known is not None:
                return  # a keep-alive: the others know already
        else:
            if known is None:
                return
            del self._typists[key]
        self._tell(signal)

    def offer_to(self, subscriber: Subscriber, conversation_id: UUID) -> None:
        """Give ``subscriber`` who is typing in ``conversation_id`` now."""
        for typist in list(self._typists.values()):
            if typist.signal.conversation_id == conversation_id:
                subscriber.offer(typing_frame(typist.signal))

    def watch(self, subscriber: Subscriber, conversation_id: UUID) -> None:
        """An inbox subscriber also gets ``conversation_id``'s typing frames."""
        if conversation_id not in subscriber.typing_of:
            subscriber.typing_of.add(conversation_id)
            self._watchers[conversation_id].add(subscriber)
            self.offer_to(subscriber, conversation_id)

    def unwatch(self, subscriber: Subscriber, conversation_id: UUID) -> None:
        subscriber.typing_of.discard(conversation_id)
        discard(self._watchers, conversation_id, subscriber)

    def watchers(self, conversation_id: UUID) -> Iterable[Subscriber]:
        return self._watchers.get(conversation_id, ())

    async def _sweep(self) -> None:
        """End indicators whose typist's node stopped refreshing them (it died)."""
        while True:
            await asyncio.sleep(min(1.0, self._expiry / 3))
            now = time.monotonic()
            for key, typist in list(self._typists.items()):
                if now - typist.seen > self._expiry:
                    del self._typists[key]
                    self._tell(msgspec.structs.replace(typist.signal, state="stopped"))


def typing_frame(signal: TypingSignal) -> frames.Typing:
    return frames.Typing(
        conversation_id=signal.conversation_id,
        user_id=signal.user_id,
        role=signal.role,
        state=signal.state,
    )
