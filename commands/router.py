"""The router: the process manager that hands waiting conversations to agents
and takes them back from agents offline too long (the rules are pure, in
:mod:`commands.routing`; docs/ARCHITECTURE.md, "Routing").

- **One leader.** Every ``parley worker`` runs a router; one leads at a time,
  holding a PostgreSQL session advisory lock on a connection of its own. The
  others try for the lock every ``tick`` seconds and take over when the
  leader's session ends (its process died: PostgreSQL ends the session).
- **The leader's view** is a :class:`~commands.routing.Board` folded from the
  whole log, then tailed. Before each decision round it catches up to the
  head; every ``tick`` seconds (and whenever the log moves) it asks ``overdue``
  and ``route`` what to do.
- **Decisions are commands with expected versions**: each is decided by the
  conversation decider (actor ``router``, so the rules live in one place) on
  the conversation's state at the ticket's version, and appended with that
  version as the expected one. A conflict (someone changed the conversation
  meanwhile) folds the newer events and decides again.
- **Written on the locked connection** (:func:`events.postgres.append_on.append_on`):
  a deposed leader cannot write any more, and the next one takes the lock
  only after the old session's writes are committed or gone, so even across a
  change of leader no agent is pushed past capacity and no conversation is
  assigned twice by the router.
- After each append, if the log holds nothing but the router's own event past
  what it had folded, the leader folds it and goes on with the round; if
  anything else came in between, it catches up and decides again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from commands import errors
from commands.decider import decide, fold
from commands.model import INITIAL_STATE, Actor, AssignConversation, Role, stream_id_for
from commands.routing import Board, Decision, evolve_board, overdue, route
from events.catalogue import AssignReason
from events.envelope import Metadata, NewEvent, RecordedEvent
from events.postgres.append_on import append_on
from events.postgres.pool import holds_session_state
from events.store import ConcurrencyError, EventStore
from events.tasks import cancel_and_wait, pause, until_stopped

__all__ = ["ROUTER_ACTOR", "ROUTER_LOCK_KEY", "Router"]

log = logging.getLogger("parley.router")

ROUTER_LOCK_KEY = 0x5041524C_524F5554  # "PARLROUT"
ROUTER_ACTOR = Actor(id="router", role=Role.ADMIN, name="Router")
_METADATA = Metadata(actor_id=ROUTER_ACTOR.id, actor_role=ROUTER_ACTOR.role)
_PAGE = 5000

Lead = tuple[PoolConnectionProxy, asyncio.Event]


class Router:
    """``grace``: how long an agent may be offline before their team
    conversations go back to the queue; ``tick``: seconds between two looks
    at the clock (and between two tries for the lead)."""

    def __init__(
        self,
        store: EventStore,
        pool: asyncpg.Pool,
        *,
        grace: timedelta,
        tick: float = 1.0,
        new_id: Callable[[], UUID] = uuid4,
    ) -> None:
        self._store = store
        self._pool = pool
        self._grace = grace
        self._tick = tick
        self._new_id = new_id
        self.board = Board()
        self.leading = False
        self.tally: Counter[str] = Counter()
        """Decisions since start: ``assigned``, ``requeued``, ``conflicts``, ``refused``."""
        self._refused: set[tuple[UUID, int]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Route until ``stop`` is set or the lead is lost (its connection
        broke); waits for the lead first."""
        async with self._leadership(stop) as lead:
            if lead is None:
                return
            conn, halt = lead
            self.board = Board()  # a new leader trusts nothing it folded before
            await self._catch_up()
            log.info("router leading from position %d", self.board.position)
            self.leading = True
            try:
                while not halt.is_set():
                    await self._settle(conn, halt)
                    waiting = self._store.wait_for_events(self.board.position, self._tick)
                    await until_stopped(waiting, halt)
            finally:
                self.leading = False

    async def _settle(self, conn: PoolConnectionProxy, halt: asyncio.Event) -> None:
        """Decision rounds until there is nothing (more) to do."""
        while not halt.is_set():
            await self._catch_up()
            now: datetime = await conn.fetchval("SELECT clock_timestamp()")  # the log's clock
            decisions = [
                d
                for d in (*overdue(self.board, now, self._grace), *route(self.board))
                if (d.conversation_id, d.version) not in self._refused
            ]
            if not decisions:
                return
            before = self.tally.copy()
            for decision in decisions:
                if halt.is_set() or not await self._carry_out(conn, decision):
                    break  # the log moved under us: fold it and decide again
            done = self.tally - before
            log.info(
                "router: %d assigned, %d re-queued, %d conflicts",
                done["assigned"],
                done["requeued"],
                done["conflicts"],
            )

    async def _carry_out(self, conn: PoolConnectionProxy, decision: Decision) -> bool:
        """Decide ``decision`` on the conversation at its ticket's version and
        append the events on the leader's connection. False: the log moved
        (a conflict, or others' events came in first): decide again."""
        cid, version = decision.conversation_id, decision.version
        stream_id = stream_id_for(cid)
        recorded = await self._store.read_stream(stream_id, limit=version)
        state = fold(INITIAL_STATE, (e.data for e in recorded))
        command = AssignConversation(
            conversation_id=cid,
            agent_id=decision.agent_id,
            team_id=decision.team_id,
            reason=AssignReason.ROUTER if decision.agent_id else AssignReason.AGENT_OFFLINE,
        )
        try:
            decided = decide(state, command, ROUTER_ACTOR, self._new_id, datetime.now(UTC))
        except errors.DomainError as error:
            decided, refusal = [], str(error)
        else:
            refusal = "nothing to do"
        if not decided:  # the board and the decider disagree (a bug): skip it
            log.warning("router: %s refused at version %d (%s)", cid, version, refusal)
            self._refused.add((cid, version))  # until the conversation moves on
            self.tally["refused"] += 1
            return True
        new = [NewEvent(event_id=self._new_id(), data=e, metadata=_METADATA) for e in decided]
        try:
            appended = await append_on(conn, stream_id, new, version)
        except ConcurrencyError:
            log.debug("router: %s moved past version %d; deciding again", cid, version)
            self.tally["conflicts"] += 1
            return False
        self.tally["assigned" if decision.agent_id else "requeued"] += 1
        log.debug(
            "router: %s %s (team %s) at position %d",
            cid,
            f"to {decision.agent_id}" if decision.agent_id else "back to the queue",
            decision.team_id,
            appended.last_global_position,
        )
        if appended.first_global_position != self.board.position + 1:
            return False  # others wrote first: fold their events before going on
        at = appended.recorded_at or datetime.now(UTC)
        for event, global_position, stream_position in zip(
            new,
            appended.global_positions,
            range(appended.first_stream_position, appended.last_stream_position + 1),
            strict=True,
        ):
            recorded_event = RecordedEvent(
                global_position=global_position,
                stream_id=stream_id,
                stream_position=stream_position,
                event_id=event.event_id,
                type=event.type,
                data=event.data,
                metadata=event.metadata,
                recorded_at=at,
            )
            evolve_board(self.board, recorded_event)
        return True

    async def _catch_up(self) -> None:
        """Fold everything past the board's position, up to the head."""
        while page := await self._store.read_all(after=self.board.position, limit=_PAGE):
            for event in page:
                evolve_board(self.board, event)
            if len(page) < _PAGE:
                return

    @contextlib.asynccontextmanager
    async def _leadership(self, stop: asyncio.Event) -> AsyncIterator[Lead | None]:
        """Hold the router lock on a connection of our own (None: ``stop``
        came first). Yields the connection and an event set at ``stop`` or
        when that connection breaks (the lock went with it)."""
        async with self._pool.acquire() as conn:
            holds_session_state(conn)  # the lock, if it gets it
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", ROUTER_LOCK_KEY):
                if not await pause(stop, self._tick):
                    yield None
                    return
            halt = asyncio.Event()

            def lost(_: object) -> None:
                log.warning("router: lost its PostgreSQL session (and the lead)")
                halt.set()

            conn.add_termination_listener(lost)
            watching = asyncio.create_task(stop.wait())
            watching.add_done_callback(lambda _: halt.set())
            try:
                yield conn, halt
            finally:
                await cancel_and_wait(watching)
                with contextlib.suppress(Exception):
                    conn.remove_termination_listener(lost)
                    async with asyncio.timeout(1):
                        await conn.execute("SELECT pg_advisory_unlock($1)", ROUTER_LOCK_KEY)
