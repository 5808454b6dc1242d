"""One conversation socket's own typing indicator.

Started by TYPING_START (rate-limited by the caller), refreshed for free by
the next ones, kept alive on every node (``typing_keepalive``) while the
client keeps refreshing it, and stopped by TYPING_STOP, a sent message, the
client's silence for ``typing_timeout`` or the socket's end. Only a typist
has a task of its own: the refresher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Literal
from uuid import UUID

from commands.model import Actor
from events.tasks import cancel_and_wait
from ws_edge.config import EdgeConfig
from ws_edge.hub import Hub
from ws_edge.typists import TypingSignal

log = logging.getLogger("parley.ws")


class TypingIndicator:
    def __init__(
        self, hub: Hub, conversation_id: UUID, actor: Actor, session: str, config: EdgeConfig
    ) -> None:
        self._hub = hub
        self._conversation_id = conversation_id
        self._actor = actor
        self._session = session  # the subscriber's id: not echoed back to this socket
        self._config = config
        self._until: float | None = None
        self._refresher: asyncio.Task[None] | None = None

    @property
    def active(self) -> bool:
        return self._until is not None

    def refresh(self) -> None:
        """The client still types: the indicator lasts another ``typing_timeout``."""
        self._until = time.monotonic() + self._config.typing_timeout

    async def start(self) -> None:
        self.refresh()
        await self._publish("started")
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.create_task(self._keep_alive())

    async def stop(self) -> None:
        if self._until is None:
            return
        self._until = None
        with contextlib.suppress(Exception):
            await self._publish("stopped")

    async def close(self) -> None:
        """The socket ends: no more refreshes, and the indicator stops."""
        if self._refresher is not None:
            await cancel_and_wait(self._refresher)
        await self.stop()

    async def _publish(self, state: Literal["started", "stopped"]) -> None:
        await self._hub.publish_typing(
            TypingSignal(
                conversation_id=self._conversation_id,
                user_id=self._actor.id,
                role=self._actor.role,
                state=state,
                session=self._session,
            )
        )

    async def _keep_alive(self) -> None:
        """While typing: refresh the indicator on every node; end it when the
        client stops refreshing. Ends with the indicator."""
        while self._until is not None:
            await asyncio.sleep(self._config.typing_keepalive)
            if self._until is None:
                return
            if time.monotonic() > self._until:
                await self.stop()
            else:
                try:
                    await self._publish("started")
                except Exception:  # the other nodes end it after typing_expiry
                    log.warning("could not refresh a typing indicator", exc_info=True)
