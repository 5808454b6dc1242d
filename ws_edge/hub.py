"""The node's fan-out hub: one NATS subscription for events, one for typing,
and the sockets connected to this node, by conversation.

Events reach every node through NATS (the relay's JetStream publishes are
also delivered to plain subscribers of the same subjects), so a socket gets
its conversation's events whichever node it is connected to. Delivery goes
through each socket's bounded mailbox (``ws_edge.mailbox``), or, for an idle
conversation socket, the fast path: the hub holds the event for it and, in
the loop's next turn (after whoever appended has sent its reply), sends it
straight to the socket: one pass over the sockets instead of a task wake-up
per socket. Typing indicators are kept in ``ws_edge.typists``; the hub fans
out what changes, and presence changes too.

Frames name agents and teams (``ws_edge.directory``): the hub tells the
directory of every staff event it hears, and looks up a name it does not
know before it fans the event out. An event's frame is encoded once for
staff and, when a client's socket follows the conversation and the frame
tells clients less (an assignment), once more for clients. Which sockets
get an event at all (not a client's: a private note, a label) each session
asks ``ws_edge.audience``, live and in replays alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from uuid import UUID

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from events.catalogue import ClientErased, ConversationEvent
from events.envelope import RecordedEvent
from events.jetstream.relay import Topology
from events.postgres.key_ring import Keys, NoKeys
from events.store import StoreUnavailable
from ws_edge import frames
from ws_edge.directory import Directory
from ws_edge.mailbox import Delivery, Subscriber, discard, send_held
from ws_edge.presence import Change, OnlineUser, Presence
from ws_edge.translate import event_frame, for_client, redacts
from ws_edge.typists import TypingSignal, Typists, decode_signal, encode_signal, typing_frame

log = logging.getLogger("parley.ws")

_decode_event = msgspec.json.Decoder(RecordedEvent).decode


class Hub:
    def __init__(
        self,
        nats: NATS,
        topology: Topology,
        *,
        typing_expiry: float,
        presence: Presence | None = None,
        directory: Directory | None = None,
        keys: Keys | None = None,
    ) -> None:
        self._nats = nats
        self._keys: Keys = keys or NoKeys()
        """Opens the sealed events NATS brings (docs/PRIVACY.md)."""
        self.directory = Directory() if directory is None else directory
        """Display names for the frames (without a store: only the names heard)."""
        self._presence = presence
        if presence is not None:
            presence.listen(self._on_presence)
        self._topology = topology
        self._by_conversation: dict[UUID, set[Subscriber]] = defaultdict(set)
        self._inbox: set[Subscriber] = set()
        self._typists = Typists(typing_expiry, self._tell)
        self._delivered: dict[UUID, int] = {}  # conversation -> last stream position fanned out
        self._subscriptions: list[Subscription] = []

    @property
    def typing_subject_prefix(self) -> str:
        return f"{self._topology.prefix}.typing"

    async def start(self) -> None:
        self._subscriptions = [
            await self._nats.subscribe(self._topology.all_subjects, cb=self._on_event),
            await self._nats.subscribe(f"{self.typing_subject_prefix}.>", cb=self._on_typing),
        ]
        self._typists.start()

    async def stop(self) -> None:
        for subscription in self._subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        await self._typists.stop()

    def add(self, subscriber: Subscriber) -> None:
        """Start delivering; a conversation's subscriber first gets who is
        typing there now (who is online comes with its READY: ``online``)."""
        cid = subscriber.conversation_id
        if cid is None:
            self._inbox.add(subscriber)
            return
        self._by_conversation[cid].add(subscriber)
        self._typists.offer_to(subscriber, cid)

    def delivered(self, conversation_id: UUID) -> int:
        """The last stream position fanned out to ``conversation_id``'s sockets here (0: none)."""
        return self._delivered.get(conversation_id, 0)

    def online(self, conversation_id: UUID) -> list[OnlineUser] | None:
        """Who is connected to ``conversation_id`` now (None: no presence here)."""
        return None if self._presence is None else self._presence.online(conversation_id)

    def remove(self, subscriber: Subscriber) -> None:
        for cid in list(subscriber.typing_of):
            self.unwatch_typing(subscriber, cid)
        if subscriber.conversation_id is None:
            self._inbox.discard(subscriber)
            return
        discard(self._by_conversation, subscriber.conversation_id, subscriber)
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
        self._typists.watch(subscriber, conversation_id)

    def unwatch_typing(self, subscriber: Subscriber, conversation_id: UUID) -> None:
        self._typists.unwatch(subscriber, conversation_id)

    async def publish_typing(self, signal: TypingSignal) -> None:
        subject = f"{self.typing_subject_prefix}.{signal.conversation_id}"
        await self._nats.publish(subject, encode_signal(signal))

    async def _on_event(self, message: Msg) -> None:
        if not self._inbox and not self._listens_to(message.subject):
            return  # every node hears every event: most are for other nodes' sockets
        try:
            event = _decode_event(message.data)
        except msgspec.DecodeError:
            log.warning("undecodable event on %s", message.subject)
            return
        if event.sealed is not None or isinstance(event.data, ClientErased):
            try:
                [event] = await self._keys.open([event])  # NATS waits: events stay in order
            except StoreUnavailable as error:  # never shown redacted as if erased
                log.warning(
                    "cannot open event %d (%s): not fanned out", event.global_position, error
                )
                return
        if not self.directory.knows([event.data]):  # NATS waits: events stay in order
            await self.directory.resolve([event.data])
        self.deliver(event)

    def deliver(self, event: RecordedEvent, *, local: bool = False) -> None:
        """Fan ``event`` out: to its conversation's sockets once (whichever of
        NATS and the local feed brings it first), to the inbox sockets from
        NATS (in log order)."""
        if not isinstance(event.data, ConversationEvent):  # the staff directory
            self._deliver_to_staff(event)
            return
        cid = event.data.conversation_id
        subscribers = self._by_conversation.get(cid)
        fresh = subscribers is not None and event.stream_position > self._delivered.get(cid, 0)
        inbox = () if local else self._inbox
        if not fresh and not inbox:
            return
        frame = event_frame(event, self.directory)
        client_text = None
        if fresh and redacts(frame) and any(not s.staff for s in subscribers or ()):
            client_text = frames.encode_frame(for_client(frame)).decode()
        delivery = Delivery(event, frames.encode_frame(frame).decode(), client_text)
        if fresh and subscribers is not None:
            self._delivered[cid] = event.stream_position
            held: list[Subscriber] = []
            for subscriber in subscribers:
                if subscriber.hold(delivery):
                    held.append(subscriber)
                else:
                    subscriber.offer(delivery)
            if held:  # sent in the loop's next turn: after the reply of whoever appended
                asyncio.get_running_loop().call_soon(send_held, held)
        for subscriber in inbox:
            subscriber.offer(delivery)

    def _deliver_to_staff(self, event: RecordedEvent) -> None:
        """A change of the staff directory, the catalogues or an agent's
        notifications: the directory hears it, then the inbox sockets (all
        staff; not conversation sockets), in log order; each session keeps
        what is for it (``ws_edge.audience``)."""
        self.directory.heard(event.data)
        if not self._inbox:
            return
        delivery = Delivery(event, frames.encode_frame(event_frame(event, self.directory)).decode())
        for subscriber in self._inbox:
            subscriber.offer(delivery)

    async def _on_typing(self, message: Msg) -> None:
        try:
            signal = decode_signal(message.data)
        except msgspec.DecodeError:
            return
        self._typists.heard(signal)

    def _tell(self, signal: TypingSignal) -> None:
        frame = typing_frame(signal)
        for subscriber in self._by_conversation.get(signal.conversation_id, ()):
            if subscriber.id != signal.session:
                subscriber.offer(frame)
        for subscriber in self._typists.watchers(signal.conversation_id):
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
