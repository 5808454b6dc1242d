"""The snapshot store port: a cache of folded states beside the event log.

A snapshot is a stream's state folded up to ``version`` (the stream position
of its last event, whose place in the whole log is ``position``), encoded by
whoever folds it (the store keeps opaque bytes) and tagged with the
``schema_version`` of that encoding. Snapshots are a cache: deleting any or
all of them changes no behaviour, only how much of a stream a reader folds.

Every backend keeps these promises (``tests/integration/snapshot_store_contract.py``):

- **Never ahead of the log.** ``save`` stores a snapshot only if the stream's
  event at ``version`` is stored with that global ``position``; ``load``
  returns only a snapshot at or below the stream's head.
- **Newest wins.** A stream keeps one snapshot per store: a save replaces it
  when it is older (a lower version) or of another schema, never otherwise.
- **Only the asked schema.** ``load`` ignores a snapshot of another schema
  version (an older or newer encoding of the state), which the next save
  replaces.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import msgspec


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A stream's state at ``version`` (global ``position``), as encoded bytes."""

    stream_id: str
    version: int
    position: int
    schema_version: int
    state: bytes


@runtime_checkable
class SnapshotStore(Protocol):
    """Where snapshots are kept (see the module's promises)."""

    async def load(self, stream_id: str, schema_version: int) -> Snapshot | None:
        """The stream's snapshot of ``schema_version``, if one is stored at or
        below the stream's head."""
        ...

    async def save(self, snapshot: Snapshot) -> bool:
        """Store ``snapshot`` unless the stream has a newer one of its schema
        or the log does not hold its version at its position; whether it was
        stored."""
        ...
