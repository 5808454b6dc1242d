"""This node's presence keys on their way to the bucket, published together.

A socket's key is put when it opens and deleted when it closes, each a plain
publish on the key's subject (JetStream stores it as a put, or with the
``KV-Operation: DEL`` header as a delete); no ack is awaited, a round trip
and a reply to parse per handshake. nats-py writes what was published in one
turn of the loop with one write to its socket, but handshakes come one per
turn: held here for ``delay`` (10 ms), a connect storm's keys go out a batch
per write instead of a write per socket. A key put and deleted within the
same window is never published at all.

Each key's operations go out in the order they were made (put, then delete),
on the one connection, so JetStream stores them in that order. While NATS is
away, nats-py holds what is published for the reconnection; a put lost anyway
is put back by the upkeep within a TTL (``Upkeep._put_back_missing``), and a
delete lost anyway leaves a closed socket's user online until the node stops,
as a failed delete with an ack did before.
"""

from __future__ import annotations

import asyncio
import logging

from nats.aio.client import Client as NATS

log = logging.getLogger("parley.ws")

DELETE = {"KV-Operation": "DEL"}


class Outbox:
    def __init__(self, nats: NATS, bucket: str, *, delay: float = 0.010) -> None:
        self._nats = nats
        self._subject = f"$KV.{bucket}."
        self._delay = delay
        self._pending: dict[str, bytes | None] = {}  # key -> value to put; None: delete
        self._timer: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()

    def put(self, key: str, value: bytes) -> None:
        self._pending[key] = value
        self._soon()

    def delete(self, key: str) -> None:
        if self._pending.get(key) is not None:
            del self._pending[key]  # its put never went out: nothing to delete
            return
        self._pending[key] = None
        self._soon()

    def _soon(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._delay, self._send)

    def _send(self) -> None:
        self._timer = None
        batch, self._pending = self._pending, {}
        task = asyncio.create_task(self._publish(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _publish(self, batch: dict[str, bytes | None]) -> None:
        # No await inside yields to the loop while nats-py buffers: one write.
        for key, value in batch.items():
            try:
                if value is None:
                    await self._nats.publish(self._subject + key, b"", headers=DELETE)
                else:
                    await self._nats.publish(self._subject + key, value)
            except Exception as error:  # NATS closed for good (the node is stopping)
                log.warning("presence: could not publish %s: %s", key, error)

    async def close(self) -> None:
        """Drop what is held (the node purges its keys next) and wait for
        what is on its way."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending.clear()
        if self._sending:
            await asyncio.wait(list(self._sending))
