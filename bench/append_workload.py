"""The append workloads: what one caller appends, the measured window, the figures."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID, uuid4

import msgspec

from bench.common import percentile
from events.catalogue import MessageSent, Side
from events.envelope import Metadata, NewEvent

# 200 characters: a typical customer message.
CONTENT = (
    "Hi, I ordered running shoes last Tuesday (order 48213) and the tracking page "
    "still says 'label created' after five days. Could you check with the courier "
    "and tell me when they will arrive? Thanks, Jo!"
)
assert len(CONTENT) == 200
TOPIC = "events.catalogue:MessageSent"
encode = msgspec.json.Encoder().encode


# -- workloads and results -----------------------------------------------------


@dataclass(frozen=True)
class Workload:
    events_per_append: int
    concurrency: int

    @property
    def name(self) -> str:
        return "single-event" if self.events_per_append == 1 else f"{self.events_per_append}-event"


@dataclass
class Stream:
    """One conversation stream, owned by exactly one caller."""

    conversation_id: UUID
    version: int = 0

    @property
    def stream_id(self) -> str:
        return f"conversation-{self.conversation_id}"


@dataclass
class CallerLog:
    """When each of one caller's appends completed, and how long it took."""

    done_at: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)


@dataclass
class Result:
    engine: str
    workload: str
    events_per_append: int
    concurrency: int
    seconds: float
    appends: int
    events: int
    events_per_s: float
    appends_per_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    verified: str


@dataclass(frozen=True)
class Settings:
    seconds: float
    warmup: float
    max_events: int
    streams: int
    track_versions: bool
    writers: int
    max_batch_events: int


def new_batch(stream: Stream, n: int) -> list[NewEvent]:
    """The next ``n`` messages of a conversation, as one command would produce them."""
    correlation = uuid4()
    metadata = Metadata(
        actor_id="client-1",
        actor_role="client",
        correlation_id=correlation,
        causation_id=correlation,
    )
    return [
        NewEvent(
            event_id=uuid4(),
            data=MessageSent(
                conversation_id=stream.conversation_id,
                message_id=uuid4(),
                seq=stream.version + k,
                sender=Side.CLIENT,
                sender_id="client-1",
                content=CONTENT,
            ),
            metadata=metadata,
        )
        for k in range(1, n + 1)
    ]


def split_streams(count: int, callers: int) -> list[list[Stream]]:
    streams = [Stream(uuid4()) for _ in range(count)]
    return [streams[i::callers] for i in range(callers)]


def completed(logs: Sequence[CallerLog]) -> int:
    return sum(len(log.done_at) for log in logs)


def wait_window(
    logs: Sequence[CallerLog], wl: Workload, settings: Settings, stop: threading.Event
) -> tuple[float, float]:
    """Sleep through the warm-up, then return the measured window (start, end).
    Ends early when ``stop`` is set (a caller failed, or Ctrl-C)."""
    stop.wait(settings.warmup)
    start = time.perf_counter()
    base = completed(logs)
    deadline = start + settings.seconds
    while not stop.is_set():
        now = time.perf_counter()
        if now >= deadline:
            break
        if (completed(logs) - base) * wl.events_per_append >= settings.max_events:
            break
        stop.wait(min(0.05, deadline - now))
    return start, time.perf_counter()


def summarise(
    engine: str,
    wl: Workload,
    logs: Sequence[CallerLog],
    window: tuple[float, float],
    verified: str,
) -> Result:
    start, end = window
    latencies = [
        lat * 1000
        for log in logs
        for done, lat in zip(log.done_at, log.latency, strict=True)
        if start <= done <= end
    ]
    seconds = max(end - start, 1e-9)
    appends = len(latencies)

    return Result(
        engine=engine,
        workload=wl.name,
        events_per_append=wl.events_per_append,
        concurrency=wl.concurrency,
        seconds=round(seconds, 3),
        appends=appends,
        events=appends * wl.events_per_append,
        events_per_s=round(appends * wl.events_per_append / seconds, 1),
        appends_per_s=round(appends / seconds, 1),
        latency_p50_ms=round(percentile(latencies, 50), 3),
        latency_p99_ms=round(percentile(latencies, 99), 3),
        verified=verified,
    )


# -- Parley ----------------------------------------------------------------------
