"""Snapshots of conversation states, for the command handler: where a
conversation that is not in a process's cache starts folding from.

- **A cache, nothing more.** The handler starts from the conversation's
  snapshot (if the store has one of this code's ``STATE_SCHEMA_VERSION``, at
  or below the stream's head) and folds only the events after it. A missing,
  unreadable, foreign-schema or failing snapshot means folding from the
  start: slower, never different. So snapshots may be deleted at any time.
- **Off the request path.** Once a command (or a catch-up) leaves a state
  ``every`` events past the stream's last snapshot, the state is encoded and
  saved by a background task; at most ``max_writes`` are in flight per
  process (more are skipped and tried at the next command). A failed write
  is logged and never fails a command.
- **Never ahead of the log.** Only a state whose version was read from the
  log or appended to it is saved, and the store checks the log holds it.
- **Lossless.** The state is encoded as msgspec JSON, decoded into the
  same types (tuples, frozensets, dicts, UUIDs, datetimes with their offsets).
"""

from __future__ import annotations

import asyncio
import logging

import msgspec

from commands.model import STATE_SCHEMA_VERSION, ConversationState
from commands.state_cache import Folded
from events.snapshots import Snapshot, SnapshotStore

__all__ = ["Snapshots", "decode_state", "encode_state"]

log = logging.getLogger("parley.snapshots")

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(ConversationState)


def encode_state(state: ConversationState) -> bytes:
    """The state's stored form (of ``STATE_SCHEMA_VERSION``)."""
    return _encoder.encode(state)


def decode_state(data: bytes) -> ConversationState:
    """The state ``encode_state`` encoded; raises ``msgspec.DecodeError``
    (or ``ValidationError``) when ``data`` is not one."""
    return _decoder.decode(data)


class Snapshots:
    """Loads a conversation's snapshot, and saves new ones in the background."""

    def __init__(self, store: SnapshotStore, *, every: int = 500, max_writes: int = 2) -> None:
        if every < 1:
            raise ValueError("snapshots are taken every 1 or more events")
        self._store = store
        self._every = every
        self._max_writes = max_writes
        self._writing: dict[str, asyncio.Task[None]] = {}

    async def load(self, stream_id: str) -> Folded:
        """Where to start folding ``stream_id``: its snapshot, or nothing."""
        try:
            snapshot = await self._store.load(stream_id, STATE_SCHEMA_VERSION)
            if snapshot is None:
                return Folded()
            state = decode_state(snapshot.state)
        except Exception as error:  # a cache miss, whatever went wrong
            log.warning("snapshot of %s not read (%r): folding it from the start", stream_id, error)
            return Folded()
        return Folded(state, snapshot.version, snapshot.position, snapshot.version)

    def consider(self, stream_id: str, folded: Folded) -> None:
        """Save ``folded`` (a state the log holds) in the background if it is
        ``every`` events past the stream's last snapshot."""
        if folded.version - folded.snapshot_at < self._every:
            return
        if stream_id in self._writing or len(self._writing) >= self._max_writes:
            return  # tried again at the stream's next command
        folded.snapshot_at = folded.version
        task = asyncio.create_task(
            self._save(stream_id, folded.state, folded.version, folded.position),
            name=f"snapshot {stream_id}",
        )
        self._writing[stream_id] = task
        task.add_done_callback(lambda _: self._writing.pop(stream_id, None))

    async def drain(self) -> None:
        """Wait for the saves in flight (a shutdown, a test's condition)."""
        while self._writing:
            await asyncio.gather(*self._writing.values(), return_exceptions=True)

    async def _save(
        self, stream_id: str, state: ConversationState, version: int, position: int
    ) -> None:
        try:
            snapshot = Snapshot(
                stream_id=stream_id,
                version=version,
                position=position,
                schema_version=STATE_SCHEMA_VERSION,
                state=encode_state(state),
            )
            saved = await self._store.save(snapshot)
        except Exception as error:
            log.warning("snapshot of %s at version %d not saved (%r)", stream_id, version, error)
            return
        if not saved:
            log.debug("snapshot of %s at version %d: a newer one is stored", stream_id, version)
