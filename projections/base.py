"""What a projection is: a name, the tables it owns, and how it applies one event.

A projection's SQL names its tables unqualified: the runner applies events
with the live tables on the search path, a rebuild with its shadow copies.
"""

from __future__ import annotations

from typing import Protocol

from events.checkpoints import Connection
from events.envelope import RecordedEvent


class Projection(Protocol):
    name: str
    """Its checkpoint's and its JetStream consumer's name."""
    tables: tuple[str, ...]
    """The read-model tables it owns (rebuilt and swapped together)."""

    async def apply(self, conn: Connection, event: RecordedEvent) -> None:
        """Apply one event, inside the caller's transaction."""
        ...
