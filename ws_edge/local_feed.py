"""Events committed by this process reach this process's sockets at once.

The way every event reaches every socket is the relay: it tails the log and
publishes to NATS, and each node's hub fans out what it hears. That path
costs a wake-up of the relay, a read and a publish, so the command handler
also tells this feed of each of its own appends. The store says where the
events landed and when they were recorded, so the feed knows them exactly as
a read would return them and hands them to the hub at once; the hub then
ignores the copy that arrives through NATS.

Nothing depends on the feed: whatever it does not deliver (an append whose
store did not say when it was recorded, or whose frames name someone the
hub's directory has yet to look up), the NATS copy delivers, and a socket
that sees a hole fills it from the store as always.
"""

from __future__ import annotations

from collections.abc import Sequence

from events.catalogue import ConversationEvent
from events.envelope import AppendResult, NewEvent, RecordedEvent
from ws_edge.hub import Hub


def recorded(events: Sequence[NewEvent], result: AppendResult) -> list[RecordedEvent]:
    """``events`` as ``result`` says they were stored."""
    assert result.recorded_at is not None
    return [
        RecordedEvent(
            global_position=result.first_global_position + i,
            stream_id=result.stream_id,
            stream_position=result.first_stream_position + i,
            event_id=event.event_id,
            type=event.type,
            data=event.data,
            metadata=event.metadata,
            recorded_at=result.recorded_at,
        )
        for i, event in enumerate(events)
    ]


class LocalFeed:
    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def appended(self, events: Sequence[NewEvent], result: AppendResult) -> None:
        """The command handler's hook: called in each conversation's commit order."""
        if not events or result.recorded_at is None:
            return
        data = events[0].data
        if not isinstance(data, ConversationEvent) or not self._hub.watched(data.conversation_id):
            return
        if self._hub.directory.knows(event.data for event in events):
            for event in recorded(events, result):
                self._hub.deliver(event, local=True)
