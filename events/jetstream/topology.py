"""Where Parley's events live in NATS: the stream and subject names every
NATS adapter shares (the relay publishes there, projections and the WebSocket
hub read there)."""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from events.catalogue import ConversationEvent
from events.envelope import RecordedEvent

DUPLICATE_WINDOW = 120.0
"""Seconds JetStream remembers a ``Nats-Msg-Id`` and drops a repeat."""


@dataclass(frozen=True)
class Topology:
    """Stream ``<PREFIX>_EVENTS`` on subjects
    ``<prefix>.events.<conversation_id>.<EventType>`` (a conversation's) and
    ``<prefix>.events.staff.<EventType>`` (agents' and teams')."""

    prefix: str = "parley"
    duplicate_window: float = DUPLICATE_WINDOW
    """The stream's de-duplication window (``PARLEY_JETSTREAM_DUPLICATE_WINDOW_SECONDS``)."""
    replicas: int = 1
    """Servers keeping each stream and bucket Parley creates (``PARLEY_NATS_REPLICAS``)."""

    @property
    def stream(self) -> str:
        return f"{self.prefix.upper()}_EVENTS"

    @property
    def all_subjects(self) -> str:
        return f"{self.prefix}.events.>"

    def subject(self, event: RecordedEvent) -> str:
        """A conversation's events under its id, the staff directory's under ``staff``."""
        data = event.data
        key = data.conversation_id if isinstance(data, ConversationEvent) else "staff"
        return f"{self.prefix}.events.{key}.{event.type}"


async def ensure_stream(js: JetStreamContext, topology: Topology) -> None:
    """Create the events stream (file storage, the topology's replicas) if it is
    missing; its de-duplication window and replicas are set anew if they changed."""
    try:
        info = await js.stream_info(topology.stream)
    except NotFoundError:
        await js.add_stream(
            StreamConfig(
                name=topology.stream,
                subjects=[topology.all_subjects],
                storage=StorageType.FILE,
                duplicate_window=topology.duplicate_window,
                num_replicas=topology.replicas,
            )
        )
        return
    config = info.config
    if (config.duplicate_window, config.num_replicas) != (
        topology.duplicate_window,
        topology.replicas,
    ):
        config.duplicate_window = topology.duplicate_window
        config.num_replicas = topology.replicas  # a cluster moves the copies itself
        await js.update_stream(config)
