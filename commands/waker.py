"""The waker: the process manager that wakes each snoozed conversation when
its ``until`` comes (docs/OPERATIONS.md, "The waker").

- **Durable.** The due set is read from the log's projection, the inbox's
  ``conversations`` rows (``status = 'snoozed'``, ``snoozed_until``,
  ``snoozed_version``; migration ``006_snooze``), never kept in memory only:
  a waker started after a crash or a kill finds every snooze still due, and
  wakes the overdue ones at once.
- **On time.** It sleeps until the earliest ``until``, but never longer than
  ``tick`` (0.25 s) between two looks, so a new snooze is seen soon enough.
- **Exactly once, on every worker, without a leader.** A wake is the
  :class:`~commands.model.WakeConversation` command, run through a
  :class:`~commands.handler.CommandHandler` as the actor ``waker``: the
  decider wakes only a conversation that is snoozed and due, and the append
  expects the version it decided on, so of two wakers (or a waker and the
  client's message) one wins and the other finds nothing left to do. Its
  ``command_id`` names the snooze (``wake:<conversation>:<snooze version>``),
  so a retry after a lost answer is recognised as the same wake. No lock is
  needed, and no take-over delay follows a worker's death.
- **Fresh state.** Its handler caches nothing (``cache_size=0``): a state
  cached at an earlier wake would not know of a later snooze made by another
  process, and the decider would find nothing to wake.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from uuid import UUID

import asyncpg

from commands import errors
from commands.handler import Busy, CommandHandler
from commands.model import Actor, Role, WakeConversation
from events.store import EventStore
from events.tasks import pause

__all__ = ["WAKER_ACTOR", "Snoozed", "Waker", "next_round", "wake_command"]

log = logging.getLogger("parley.waker")

WAKER_ACTOR: Final = Actor(id="waker", role=Role.ADMIN, name="Waker")
TICK: Final = 0.25
"""Seconds, at most, between two looks at the due set."""
BATCH: Final = 100
"""Snoozes read per look; more due than this: the next look follows at once."""
CONCURRENCY: Final = 4
"""Wakes in flight at once (each is one command)."""

_DUE = """
SELECT conversation_id, snoozed_until, snoozed_version FROM conversations
WHERE status = 'snoozed' AND snoozed_until IS NOT NULL
ORDER BY snoozed_until
LIMIT $1
"""


@dataclass(frozen=True)
class Snoozed:
    """A snooze as the inbox shows it."""

    conversation_id: UUID
    until: datetime
    version: int
    """The stream position of its ConversationSnoozed."""

    @property
    def key(self) -> tuple[UUID, int]:
        return self.conversation_id, self.version


@dataclass(frozen=True)
class Round:
    due: list[Snoozed]
    """To wake now."""
    sleep: float
    """Seconds until the next look."""


def wake_command(snooze: Snoozed) -> WakeConversation:
    """The wake of one snooze: the same command (and ids) on every waker."""
    return WakeConversation(
        conversation_id=snooze.conversation_id,
        command_id=f"wake:{snooze.conversation_id}:{snooze.version}",
    )


def next_round(
    earliest: Sequence[Snoozed],
    now: datetime,
    done: Iterable[tuple[UUID, int]] = (),
    *,
    tick: float = TICK,
    batch: int = BATCH,
) -> Round:
    """Pure: of the ``earliest`` snoozes (the first ``batch`` by ``until``),
    the due ones not ``done`` yet, and how long to sleep after waking them:
    until the next ``until``, at most ``tick``; no sleep when a full batch
    was due (more may be)."""
    finished = set(done)
    due = [s for s in earliest if s.until <= now and s.key not in finished]
    later = [s.until for s in earliest if s.until > now]
    if later:
        return Round(due, min(tick, (later[0] - now).total_seconds()))
    return Round(due, 0.0 if due and len(earliest) >= batch else tick)


class Waker:
    """Wakes snoozed conversations whose time has come, until stopped."""

    def __init__(
        self,
        store: EventStore,
        pool: asyncpg.Pool,
        *,
        tick: float = TICK,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pool = pool
        self._tick = tick
        self._clock = clock
        self._handler = CommandHandler(store, cache_size=0, clock=clock)
        self._done: set[tuple[UUID, int]] = set()
        """Snoozes handled, kept while the inbox still shows them (it lags the log)."""
        self._gate = asyncio.Semaphore(CONCURRENCY)
        self.tally: Counter[str] = Counter()
        """Since start: ``woke`` (this waker did), ``already`` (another did, or
        the client's message, or a status change), ``refused`` (deleted, merged)."""

    async def run(self, stop: asyncio.Event) -> None:
        log.info("waker running")
        while not stop.is_set():
            rows = await self._pool.fetch(_DUE, BATCH)
            earliest = [
                Snoozed(r["conversation_id"], r["snoozed_until"], r["snoozed_version"])
                for r in rows
            ]
            this = next_round(earliest, self._clock(), self._done, tick=self._tick)
            self._done &= {s.key for s in earliest}  # what the inbox still shows as snoozed
            await asyncio.gather(*(self._wake(s) for s in this.due))
            if this.sleep > 0 and not await pause(stop, this.sleep):
                return

    async def _wake(self, snooze: Snoozed) -> None:
        async with self._gate:
            try:
                result = await self._handler.handle(wake_command(snooze), WAKER_ACTOR)
            except (errors.Unavailable, Busy) as error:
                log.warning("waker: %s not woken yet (%s)", snooze.conversation_id, error)
                return  # tried again at the next look
            except errors.DomainError as error:
                log.warning("waker: %s cannot be woken (%s)", snooze.conversation_id, error)
                self.tally["refused"] += 1
            else:
                woke = bool(result.events) and not result.replayed
                self.tally["woke" if woke else "already"] += 1
                if woke:
                    log.info(
                        "waker: woke %s (snoozed until %s) at position %d",
                        snooze.conversation_id,
                        snooze.until.isoformat(),
                        result.position,
                    )
            self._done.add(snooze.key)
