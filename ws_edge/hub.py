"""The node's fan-out hub: one NATS subscription for events, one for typing,
and the sockets connected to this node, by conversation.

Events reach every node through NATS (the relay's JetStream publishes are
also delivered to plain subscribers of the same subjects), so a socket gets
its conversation's events whichever node it is connected to. Delivery to a
socket never blocks: each subscriber has a bounded mailbox, and one that is
full is marked overflowed (its session closes it; the client resumes).

The fast path: a conversation socket whose writer waits with nothing queued
(nearly all of them, nearly always) does not need its writer woken for a
live event. The hub holds the event for it and, in the loop's next turn
(after whoever appended has sent its reply), sends it straight to the
socket (``Subscriber.send_now``): one pass over the sockets instead of a
task wake-up per socket. Anything offered to a socket in between queues
the held event first, so frames keep their order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal
from uuid import UUID

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from events.envelope import RecordedEvent
from events.relay import Topology
from events.tasks import cancel_and_wait
from ws_edge import frames
from ws_edge.presence import Change, Presence
from ws_edge.translate import event_frame

log = logging.getLogger("parley.ws")

_decode_event = msgspec.json.Decoder(RecordedEvent).decode


class TypingSignal(msgspec.Struct, frozen=True, kw_only=True):
    """What travels on NATS core (never stored): someone's typing state."""

    conversation_id: UUID
    user_id: str
    role: str
    state: Literal["started", "stopped"]
    session: str
    """The typist's socket, so that it is not echoed back to it."""


_decode_typing = msgspec.json.Decoder(TypingSignal).decode
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class Delivery:
    """An event and its frame, encoded once per node for all its sockets."""

    event: RecordedEvent
    text: str


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
    staff: bool = True  # staff get PRESENCE frames
    on_overflow: Callable[[], None] | None = None
    """Called once, when the mailbox is full (the session closes: slow consumer)."""
    typing_of: set[UUID] = field(default_factory=set)  # inbox: SUBSCRIBEd conversations
    send_now: Callable[[Delivery], bool] | None = None
    """The fast path (conversation sockets): send a live event at once,
    without waking the socket's writer task; False if the writer must have it."""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
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


@dataclass
class _Typist:
    signal: TypingSignal
    seen: float


class Hub:
    def __init__(
        self,
        nats: NATS,
        topology: Topology,
        *,
        typing_expiry: float,
        presence: Presence | None = None,
    ) -> None:
        self._nats = nats
        self._presence = presence
        if presence is not None:
            presence.listen(self._on_presence)
        self._topology = topology
        self._typing_expiry = typing_expiry
        self._by_conversation: dict[UUID, set[Subscriber]] = defaultdict(set)
        self._inbox: set[Subscriber] = set()
        self._typists: dict[tuple[UUID, str], _Typist] = {}
        self._typing_watchers: dict[UUID, set[Subscriber]] = defaultdict(set)
        self._delivered: dict[UUID, int] = {}  # conversation -> last stream position fanned out
        self._subscriptions: list[Subscription] = []
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def typing_subject_prefix(self) -> str:
        return f"{self._topology.prefix}.typing"

    async def start(self) -> None:
        self._subscriptions = [
            await self._nats.subscribe(self._topology.all_subjects, cb=self._on_event),
            await self._nats.subscribe(f"{self.typing_subject_prefix}.>", cb=self._on_typing),
        ]
        self._sweeper = asyncio.create_task(self._sweep_typists())

    async def stop(self) -> None:
        for subscription in self._subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        if self._sweeper is not None:
            await cancel_and_wait(self._sweeper)

    def add(self, subscriber: Subscriber) -> None:
        """Start delivering; a conversation's subscriber first gets who is
        typing and (staff) who is online there now."""
        cid = subscriber.conversation_id
        if cid is None:
            self._inbox.add(subscriber)
            return
        self._by_conversation[cid].add(subscriber)
        self._offer_typists(subscriber, cid)
        if subscriber.staff and self._presence is not None:
            for user in self._presence.online(cid):
                subscriber.offer(
                    frames.Presence(
                        conversation_id=cid, user_id=user.user_id, role=user.role, state="joined"
                    )
                )

    def remove(self, subscriber: Subscriber) -> None:
        for cid in list(subscriber.typing_of):
            self.unwatch_typing(subscriber, cid)
        if subscriber.conversation_id is None:
            self._inbox.discard(subscriber)
            return
        _discard(self._by_conversation, subscriber.conversation_id, subscriber)
        if subscriber.conversation_id not in self._by_conversation:
            self._delivered.pop(subscriber.conversation_id, None)

    def _listens_to(self, subject: str) -> bool:
        """Has this node a socket on the conversation of an event subject
        (``<prefix>.events.<conversation_id>.<EventType>``)?"""
        try:
            return UUID(subject.rsplit(".", 2)[-2]) in self._by_conversation
        except ValueError:
            return True  # not ours to judge: decode it and let it be logged

    def watched(self, conversation_id: UUID) -> bool:
        """Has this node a socket on ``conversation_id``?"""
        return conversation_id in self._by_conversation

    def watch_typing(self, subscriber: Subscriber, conversation_id: UUID) -> None:
        """An inbox subscriber also gets ``conversation_id``'s typing frames."""
        if conversation_id not in subscriber.typing_of:
            subscriber.typing_of.add(conversation_id)
            self._typing_watchers[conversation_id].add(subscriber)
            self._offer_typists(subscriber, conversation_id)

    def unwatch_typing(self, subscriber: Subscriber, conversation_id: UUID) -> None:
        subscriber.typing_of.discard(conversation_id)
        _discard(self._typing_watchers, conversation_id, subscriber)

    def _offer_typists(self, subscriber: Subscriber, conversation_id: UUID) -> None:
        for typist in list(self._typists.values()):
            if typist.signal.conversation_id == conversation_id:
                subscriber.offer(_typing_frame(typist.signal))

    async def publish_typing(self, signal: TypingSignal) -> None:
        subject = f"{self.typing_subject_prefix}.{signal.conversation_id}"
        await self._nats.publish(subject, _encode(signal))

    async def _on_event(self, message: Msg) -> None:
        if not self._inbox and not self._listens_to(message.subject):
            return  # every node hears every event: most are for other nodes' sockets
        try:
            event = _decode_event(message.data)
        except msgspec.DecodeError:
            log.warning("undecodable event on %s", message.subject)
            return
        self.deliver(event)

    def deliver(self, event: RecordedEvent, *, local: bool = False) -> None:
        """Fan ``event`` out: to its conversation's sockets once (whichever of
        NATS and the local feed brings it first), to the inbox sockets from
        NATS (in log order)."""
        cid = event.data.conversation_id
        subscribers = self._by_conversation.get(cid)
        fresh = subscribers is not None and event.stream_position > self._delivered.get(cid, 0)
        inbox = () if local else self._inbox
        if not fresh and not inbox:
            return
        delivery = Delivery(event, frames.encode_frame(event_frame(event)).decode())
        if fresh and subscribers is not None:
            self._delivered[cid] = event.stream_position
            held: list[Subscriber] = []
            for subscriber in subscribers:
                if subscriber.hold(delivery):
                    held.append(subscriber)
                else:
                    subscriber.offer(delivery)
            if held:  # sent in the loop's next turn: after the reply of whoever appended
                asyncio.get_running_loop().call_soon(_send_held, held)
        for subscriber in inbox:
            subscriber.offer(delivery)

    async def _on_typing(self, message: Msg) -> None:
        try:
            signal = _decode_typing(message.data)
        except msgspec.DecodeError:
            return
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

    def _tell(self, signal: TypingSignal) -> None:
        frame = _typing_frame(signal)
        for subscriber in self._by_conversation.get(signal.conversation_id, ()):
            if subscriber.id != signal.session:
                subscriber.offer(frame)
        for subscriber in self._typing_watchers.get(signal.conversation_id, ()):
            subscriber.offer(frame)

    def _on_presence(self, change: Change) -> None:
        frame = frames.Presence(
            conversation_id=change.conversation_id,
            user_id=change.user_id,
            role=change.role,
            state=change.state,
        )
        for subscriber in self._by_conversation.get(change.conversation_id, ()):
            if subscriber.staff:
                subscriber.offer(frame)
        for subscriber in self._inbox:
            subscriber.offer(frame)

    async def _sweep_typists(self) -> None:
        """End indicators whose typist's node stopped refreshing them (it died)."""
        while True:
            await asyncio.sleep(min(1.0, self._typing_expiry / 3))
            now = time.monotonic()
            for key, typist in list(self._typists.items()):
                if now - typist.seen > self._typing_expiry:
                    del self._typists[key]
                    self._tell(msgspec.structs.replace(typist.signal, state="stopped"))


def _send_held(subscribers: list[Subscriber]) -> None:
    for subscriber in subscribers:
        subscriber.send_held()


def _discard(index: dict[UUID, set[Subscriber]], key: UUID, subscriber: Subscriber) -> None:
    subscribers = index.get(key)
    if subscribers is not None:
        subscribers.discard(subscriber)
        if not subscribers:
            del index[key]


def _typing_frame(signal: TypingSignal) -> frames.Typing:
    return frames.Typing(
        conversation_id=signal.conversation_id,
        user_id=signal.user_id,
        role=signal.role,
        state=signal.state,
    )
