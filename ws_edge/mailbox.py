"""One socket's way in from the hub: a bounded mailbox, and the fast path
around it.

Delivery to a socket never blocks: each subscriber has a bounded mailbox,
and one that is full is marked overflowed (its session closes it: slow
consumer; the client resumes).

The fast path: a conversation socket whose writer waits with nothing queued
does not need its writer woken for a live event. The hub holds the event for
it (``Subscriber.hold``) and, in the loop's next turn, sends it straight to
the socket (``Subscriber.send_held``, through ``send_now``). Anything offered
to the socket in between queues the held event first, so frames keep their
order.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

from events.envelope import RecordedEvent
from ws_edge import frames


@dataclass(frozen=True)
class Delivery:
    """An event and its frame, encoded once per node for all its sockets:
    ``text`` for staff, ``client_text`` for clients' sockets when they get
    it otherwise (an assignment, redacted: ``ws_edge.translate.for_client``)."""

    event: RecordedEvent
    text: str
    client_text: str | None = None

    def text_for(self, staff: bool) -> str:
        if staff or self.client_text is None:
            return self.text
        return self.client_text


_PROCESS = uuid.uuid4().hex[:16]
_numbers = itertools.count(1)


def _new_id() -> str:
    """A subscriber's id: unique across nodes (typing signals carry it), a
    counter rather than a random UUID per socket."""
    return f"{_PROCESS}-{next(_numbers)}"


Item = Delivery | frames.ServerFrame  # an event, or any other frame for the socket


class Mailbox:
    """One socket's frames waiting to go out: bounded, read by one task (the
    session's writer). Lighter than an ``asyncio.Queue``: a delivery to every
    socket of a conversation passes through one of these per socket."""

    def __init__(self, size: int) -> None:
        self._items: deque[Item] = deque()
        self._size = size
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: Item) -> bool:
        """Add ``item``; ``False`` (and nothing added) when the mailbox is full."""
        if len(self._items) >= self._size:
            return False
        self._items.append(item)
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return True

    async def take(self) -> Item:
        """The oldest item, waiting for one if there is none."""
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._items.popleft()


@dataclass(eq=False)
class Subscriber:
    """One socket's mailbox, and maybe a fast path around it."""

    conversation_id: UUID | None  # None: the inbox (every conversation)
    queue_size: int
    staff: bool = True
    """Staff get PRESENCE frames and assignments unredacted (``Delivery.text_for``)."""
    on_overflow: Callable[[], None] | None = None
    """Called once, when the mailbox is full (the session closes: slow consumer)."""
    typing_of: set[UUID] = field(default_factory=set)  # inbox: SUBSCRIBEd conversations
    send_now: Callable[[Delivery], bool] | None = None
    """The fast path (conversation sockets): send a live event at once,
    without waking the socket's writer task; False if the writer must have it."""
    id: str = field(default_factory=_new_id)
    mailbox: Mailbox = field(init=False)
    overflowed: bool = False
    _held: Delivery | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.mailbox = Mailbox(self.queue_size)

    def offer(self, item: Item) -> None:
        """Queue ``item`` for the writer, after a delivery held for the fast path."""
        if self._held is not None:
            held, self._held = self._held, None
            self._queue(held)
        self._queue(item)

    def hold(self, delivery: Delivery) -> bool:
        """Keep ``delivery`` for ``send_held`` (the hub calls it a moment
        later); False if it has to be queued (no fast path, frames waiting)."""
        if self.send_now is None or self.mailbox or self._held is not None or self.overflowed:
            return False
        self._held = delivery
        return True

    def send_held(self) -> None:
        """Send the held delivery now, unless ``offer`` queued it already."""
        held, self._held = self._held, None
        if held is not None and self.send_now is not None and not self.send_now(held):
            self._queue(held)

    def _queue(self, item: Item) -> None:
        if self.overflowed or self.mailbox.put(item):
            return
        self.overflowed = True
        if self.on_overflow is not None:
            self.on_overflow()


def send_held(subscribers: list[Subscriber]) -> None:
    """The fast path's second half, for every subscriber that held a delivery."""
    for subscriber in subscribers:
        subscriber.send_held()


def discard(index: dict[UUID, set[Subscriber]], key: UUID, subscriber: Subscriber) -> None:
    """Take ``subscriber`` out of ``index[key]``, and the key out once empty."""
    subscribers = index.get(key)
    if subscribers is not None:
        subscribers.discard(subscriber)
        if not subscribers:
            del index[key]
