"""The merge completer: finishes merges cut short between their two steps.

A merge request runs both steps (:mod:`commands.merge_service`); a crash,
an outage or a timeout between them leaves a source merged (closed, its
``ConversationMerged`` in the log) whose copies have not reached the target.
The ``merges`` read model (:mod:`projections.merges`) lists every merge and
whether its ``ConversationMergedIn`` has landed; every ``tick`` seconds the
completer runs step 2 for each merge that has waited longer than ``settle``
seconds (the request itself usually finishes first).

Step 2 is idempotent (one command id per source, and the decider ignores a
source already imported), so every worker runs a completer, with no leader:
two that race on one merge append once (the loser's append conflicts, it
folds the winner's events and has nothing left to do).
"""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

import asyncpg

from commands import errors
from commands.merge_service import MergeService
from events.tasks import pause

__all__ = ["MergeCompleter"]

log = logging.getLogger("parley.merges")

_PENDING = """
SELECT source_id FROM merges
WHERE NOT imported AND merged_at <= clock_timestamp() - make_interval(secs => $1)
ORDER BY merged_at
LIMIT $2
"""


class MergeCompleter:
    def __init__(
        self,
        service: MergeService,
        pool: asyncpg.Pool,
        *,
        settle: float = 1.0,
        tick: float = 1.0,
        batch: int = 100,
    ) -> None:
        self._service = service
        self._pool = pool
        self._settle = settle
        self._tick = tick
        self._batch = batch
        self._refused: set[UUID] = set()
        self.completed = 0
        """Merges this completer finished (or found finished) since it started."""

    async def run(self, stop: asyncio.Event) -> None:
        """Complete what is pending every ``tick`` seconds until ``stop``."""
        while not stop.is_set():
            await self.complete_pending()
            if not await pause(stop, self._tick):
                return

    async def complete_pending(self) -> int:
        """One round: step 2 for every merge waiting for it; how many were done."""
        rows = await self._pool.fetch(_PENDING, self._settle, self._batch)
        done = 0
        for row in rows:
            source_id: UUID = row["source_id"]
            try:
                result = await self._service.complete(source_id)
            except errors.Unavailable:
                return done  # the store is away: next round
            except errors.DomainError as error:  # a bug: say so once, keep going
                if source_id not in self._refused:
                    log.error("merge completer: %s refused (%s)", source_id, error)
                    self._refused.add(source_id)
                continue
            done += 1
            log.info(
                "merge completer: %s's %d messages are in %s",
                source_id,
                result.message_count,
                result.conversation_id,
            )
        self.completed += done
        return done
