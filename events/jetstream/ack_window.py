"""The relay's window of publishes awaiting JetStream's acknowledgement.

``send`` publishes one event with reply subject ``<inbox>.<n>``; acks come
back on one wildcard subscription (``<inbox>.*``).

Why not ``js.publish``
----------------------
``JetStreamContext.publish`` is a request/reply: for every message nats-py
mints a reply inbox, a future and an ``asyncio.wait_for`` timer, and gathering
500 of them costs several times the CPU of the publishing itself. The relay
instead publishes with plain ``nc.publish`` and a reply subject
``<inbox>.<n>``, receives every ack on *one* wildcard subscription
(``<inbox>.*``) and keeps a sliding window of at most ``window`` messages
unacknowledged (the window never waits for a whole batch: publishing goes on
while acks come back). Each reply number maps to the event it acknowledges;
after a failure the numbers in flight are forgotten, so a late ack of an
abandoned send is ignored and only the resend's acks count.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from types import TracebackType

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError

from events.envelope import RecordedEvent
from events.jetstream.topology import Topology
from events.sealing import redact

_encode = msgspec.json.Encoder().encode


class _PubAck(msgspec.Struct):
    """JetStream's reply to a publish: ``{"stream": …, "seq": …}`` (and
    ``"duplicate": true`` for a repeat it dropped), or ``{"error": {…}}``."""

    seq: int = 0
    error: dict[str, object] | None = None


_decode_ack = msgspec.json.Decoder(_PubAck).decode


def sealed_only(event: RecordedEvent) -> RecordedEvent:
    """``event`` as JetStream gets it: personal data only in its sealed part
    (so erasing the client, destroying its key, leaves nothing readable there)."""
    if event.sealed is None:
        return event
    return msgspec.structs.replace(event, data=redact(event.data))


def _refusal(reply: Msg) -> str | None:
    """Why ``reply`` is not JetStream acknowledging a stored message (None: it is)."""
    try:
        ack = _decode_ack(reply.data)
    except msgspec.DecodeError:  # e.g. an empty "503 no responders" status message
        status = (reply.headers or {}).get("Status", "none")
        return f"no JetStream ack (status {status}, reply {reply.data[:200]!r})"
    if ack.error is not None:
        return f"JetStream refused: {ack.error}"
    if ack.seq <= 0:
        return f"no JetStream ack: {reply.data[:200]!r}"
    return None


class Failed(Exception):
    """Publishing failed: resend from the first unacknowledged event."""


class Stopped(Exception):
    """``stop`` was set while waiting for acks."""


class _Flight:
    __slots__ = ("acked", "event", "sent")

    def __init__(self, event: RecordedEvent, sent: float) -> None:
        self.event = event
        self.sent = sent
        self.acked = False


def _wake(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


class AckWindow:
    """Events published and not yet known to be stored, in publish (= commit) order.

    ``send`` publishes one event with reply subject ``<inbox>.<n>``; when
    ``size`` events are unacknowledged it first waits until a quarter of them
    are acknowledged (waking once per many acks, not once per ack). Acks come
    to ``_on_ack`` on one wildcard subscription. ``acked`` is the frontier: the
    position up to which every event is acknowledged. A refused or overdue ack
    raises ``Failed`` from the next ``send``/``settle``; ``take_unacked`` then
    hands back every event from the first unacknowledged on, for a resend.
    """

    def __init__(
        self,
        nc: NATS,
        topology: Topology,
        stop: asyncio.Event,
        *,
        size: int,
        ack_timeout: float,
        acked: int,
        progress_every: int,
    ) -> None:
        self._nc = nc
        self._topology = topology
        self._stop = stop
        self._size = size
        self._resume_at = size - max(1, size // 4)
        self._ack_timeout = ack_timeout
        self._progress_every = progress_every
        self._loop = asyncio.get_running_loop()
        self._flights: deque[_Flight] = deque()
        self._pending: dict[int, _Flight] = {}  # reply number -> its event, until its ack
        self._numbers = itertools.count()
        self._failure: str | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._wake_at = 0
        self._inbox = nc.new_inbox()
        self._number_at = len(self._inbox) + 1
        self._subscription: Subscription | None = None
        self._stop_watch: asyncio.Task[bool] | None = None
        self._reported = acked
        self.refused: set[int] = set()
        """Positions JetStream explicitly refused (not stored) since the last
        ``take_unacked``."""
        self.acked = acked
        """Every event at or below this position is acknowledged."""
        self.progress = asyncio.Event()
        """Set when ``acked`` moved ``progress_every`` past its last report, or
        when nothing is left unacknowledged: time to save the checkpoint."""

    async def __aenter__(self) -> AckWindow:
        self._subscription = await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_ack)
        self._stop_watch = watch = asyncio.create_task(self._stop.wait())
        watch.add_done_callback(lambda _: _wake(self._waiter))
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._stop_watch is not None:
            self._stop_watch.cancel()
        if self._subscription is not None:
            with contextlib.suppress(NatsError):
                await self._subscription.unsubscribe()

    async def send(self, event: RecordedEvent) -> None:
        """Publish ``event`` (after waiting for room); raises ``Failed``/``Stopped``."""
        if self._failure is not None:
            raise Failed(self._failure)
        if len(self._flights) >= self._size:
            await self._wait_until_at_most(self._resume_at)
        number = next(self._numbers)
        flight = _Flight(event, self._loop.time())
        self._flights.append(flight)
        self._pending[number] = flight
        try:
            await self._nc.publish(
                self._topology.subject(event),
                _encode(sealed_only(event)),
                reply=f"{self._inbox}.{number}",
                headers={
                    "Nats-Msg-Id": str(event.event_id),
                    "Nats-Expected-Stream": self._topology.stream,
                },
            )
        except (NatsError, OSError) as error:
            # Not sent (or not known to be): the caller sends it again.
            self._pending.pop(number, None)
            if self._flights and self._flights[-1] is flight:
                self._flights.pop()
            raise Failed(f"publish refused: {error!r}") from error

    async def settle(self) -> None:
        """Wait until every event sent is acknowledged; raises ``Failed``/``Stopped``."""
        await self._wait_until_at_most(0)

    def take_unacked(self) -> list[RecordedEvent]:
        """Every event from the first unacknowledged on, in order, for a resend.
        Acks still to come for them are ignored from now on."""
        events = [flight.event for flight in self._flights]
        self._flights.clear()
        self._pending.clear()
        self._failure = None
        self.refused = set()
        return events

    def mark_stored(self, position: int) -> None:
        """The stream holds ``position`` (found by reconciliation, its ack was
        lost): the frontier moves there. Only with nothing in flight."""
        assert not self._flights
        if position > self.acked:
            self.acked = position
            self._reported = position
            self.progress.set()

    async def _wait_until_at_most(self, count: int) -> None:
        while True:
            if self._stop.is_set():
                raise Stopped
            if self._failure is not None:
                raise Failed(self._failure)
            if len(self._flights) <= count:
                return
            left = self._flights[0].sent + self._ack_timeout - self._loop.time()
            if left <= 0:
                raise Failed(f"no ack within {self._ack_timeout:g} s")
            self._wake_at = count
            self._waiter = waiter = self._loop.create_future()
            timer = self._loop.call_later(left, _wake, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None

    async def _on_ack(self, reply: Msg) -> None:
        try:
            number = int(reply.subject[self._number_at :])
        except ValueError:
            return
        flight = self._pending.pop(number, None)
        if flight is None:
            return  # the ack of a send abandoned after a failure
        refusal = _refusal(reply)
        if refusal is not None:
            self.refused.add(flight.event.global_position)
            if self._failure is None:
                self._failure = refusal
            _wake(self._waiter)
            return
        flight.acked = True
        flights = self._flights
        if flights[0] is not flight:
            return  # an earlier event is still unacknowledged: the frontier stays
        while flights and flights[0].acked:
            self.acked = flights.popleft().event.global_position
        if not flights or self.acked >= self._reported + self._progress_every:
            self._reported = self.acked
            self.progress.set()
        if len(flights) <= self._wake_at:
            _wake(self._waiter)
