"""Display names for frames: who an agent id or a team id is, on this node.

Frames name people and teams where a name is known (ASSIGNED's
``agent_name``, MESSAGE_CREATED's ``sender_name`` for staff, STAFF_CHANGED's
``display_name``). The names come from the staff directory's events, which
reach every node through NATS: the hub tells the directory of each
(``heard``). An id the directory has not met yet is looked up once, lazily,
by reading its stream (``agent-<id>``, ``team-<id>``: a few events each);
the answer, "no such agent" included, is kept, and later changes arrive
through NATS. Nothing is read at start.

Looking a name up is I/O, so it happens before a frame is built
(``resolve``, awaited by the hub's NATS callback and by replays); building a
frame only asks (``agent_name``, ``team_name``) and never waits. A lookup
that fails (the store away) leaves the id unknown: frames go out without the
name, and the next event naming it tries again.

A note's ``@name`` mentions an agent by id or by display name
(``commands.notes``), so resolving them needs every agent: the first note
reads the roster (the staff read model, ``agent_roster``) once; the events
heard keep it current from then on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator

import asyncpg

from commands.staff import agent_stream, team_stream
from events.catalogue import (
    AgentAvailabilityChanged,
    AgentProfileChanged,
    AgentRegistered,
    ConversationAssigned,
    ConversationUnassigned,
    Event,
    MessageSent,
    NoteAdded,
    Side,
    TeamCreated,
    TeamMemberAdded,
    TeamMemberRemoved,
)
from events.store import EventStore, StoreUnavailable

log = logging.getLogger("parley.ws")

Key = tuple[str, str]
"""("agent", id) or ("team", id)."""
Roster = Callable[[], Awaitable[Iterable[tuple[str, str]]]]
"""Every agent's (id, display name)."""


def mentioned(event: Event) -> Iterator[Key]:
    """The agents and teams whose names ``event``'s frame shows."""
    match event:
        case MessageSent(sender=Side.ADMIN):
            yield ("agent", event.sender_id)
        case NoteAdded():
            yield ("agent", event.author_id)
        case ConversationAssigned() | ConversationUnassigned():
            if event.agent_id is not None:
                yield ("agent", event.agent_id)
            if event.team_id is not None:
                yield ("team", event.team_id)
        case AgentAvailabilityChanged() | AgentProfileChanged():
            yield ("agent", event.agent_id)
        case TeamMemberAdded() | TeamMemberRemoved():
            yield ("agent", event.agent_id)
            yield ("team", event.team_id)


class Directory:
    """Agent and team names, from the staff events heard and lazy lookups."""

    def __init__(self, store: EventStore | None = None, roster: Roster | None = None) -> None:
        self._store = store  # None: names only from what is heard
        self._roster = roster  # None: no roster (agents known as heard and looked up)
        self._names: dict[Key, str | None] = {}  # None: looked up, not in the directory
        self._looking: dict[Key, asyncio.Future[None]] = {}

    def agent_name(self, agent_id: str | None) -> str | None:
        return None if agent_id is None else self._names.get(("agent", agent_id))

    def team_name(self, team_id: str | None) -> str | None:
        return None if team_id is None else self._names.get(("team", team_id))

    def heard(self, event: Event) -> None:
        """A staff directory event, in log order."""
        match event:
            case AgentRegistered():
                self._names[("agent", event.agent_id)] = event.display_name
            case AgentProfileChanged(display_name=str(name)):
                self._names[("agent", event.agent_id)] = name
            case TeamCreated():
                self._names[("team", event.team_id)] = event.name

    def knows(self, events: Iterable[Event]) -> bool:
        """Can the frames of ``events`` be built without a lookup?"""
        return self._store is None or not self._unknown(events)

    def agents(self) -> dict[str, str]:
        """Every agent known here: id → display name."""
        names = self._names.items()
        return {id_: name for (kind, id_), name in names if kind == "agent" and name is not None}

    async def with_roster(self) -> dict[str, str]:
        """Every agent (the roster read once, then kept current): id → name."""
        if self._roster is not None:
            try:
                roster = await self._roster()
            except Exception as error:
                raise StoreUnavailable(f"cannot read the agents ({error!r})") from error
            self._roster = None
            for agent_id, name in roster:  # what was heard or looked up stands
                if self._names.get(("agent", agent_id)) is None:
                    self._names[("agent", agent_id)] = name
        return self.agents()

    async def look_up_agents(self, agent_ids: Iterable[str]) -> None:
        """Know whether each of ``agent_ids`` is an agent (``agents()``);
        StoreUnavailable when that cannot be told now. Ids found to be no
        agent's are not remembered (any ``@word`` of a note is looked up)."""
        keys = [
            key for key in dict.fromkeys(("agent", a) for a in agent_ids) if key not in self._names
        ]
        await self._resolve(keys)
        if self._store is not None and any(key not in self._names for key in keys):
            raise StoreUnavailable("cannot look up the agents")
        for key in keys:  # a note's words that are no agent's id are not kept
            if self._names.get(key) is None:
                self._names.pop(key, None)

    async def resolve(self, events: Iterable[Event]) -> None:
        """Look up the names ``events`` mention that are not known yet."""
        await self._resolve(self._unknown(events))

    async def _resolve(self, keys: list[Key]) -> None:
        if self._store is None:
            return
        for key in keys:
            looking = self._looking.get(key)
            if looking is None:
                looking = self._looking[key] = asyncio.ensure_future(self._look_up(key))
            await asyncio.shield(looking)

    def _unknown(self, events: Iterable[Event]) -> list[Key]:
        return list(
            dict.fromkeys(key for e in events for key in mentioned(e) if key not in self._names)
        )

    async def _look_up(self, key: Key) -> None:
        assert self._store is not None
        kind, id_ = key
        stream = agent_stream(id_) if kind == "agent" else team_stream(id_)
        try:
            page = await self._store.read_stream(stream)
        except Exception as error:  # a name is a nicety: the frame goes without it
            log.warning("directory: cannot look up %s %s (%r)", kind, id_, error)
            return
        finally:
            self._looking.pop(key, None)
        found = Directory()
        for event in page:
            found.heard(event.data)
        # What was heard meanwhile (through NATS, in log order) stands.
        self._names.setdefault(key, found._names.get(key))


def agent_roster(pool: asyncpg.Pool) -> Roster:
    """The roster as the staff read model (``projections.staff``) has it."""

    async def roster() -> list[tuple[str, str]]:
        rows = await pool.fetch("SELECT agent_id, display_name FROM agents")
        return [(row["agent_id"], row["display_name"]) for row in rows]

    return roster
