"""Which agents a note mentions, looked up in the staff directory as the
staff projection keeps it (the ``agents`` table): the edges (HTTP, WebSocket)
call :func:`resolve_mentions` before they send :class:`~commands.model.AddNote`.
The matching itself is pure (:func:`commands.notes.mentioned`)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from commands import errors
from commands.notes import mentioned

_KNOWN = "SELECT agent_id FROM agents WHERE agent_id = ANY($1::text[])"
_DIRECTORY = "SELECT agent_id, display_name FROM agents"


async def resolve_mentions(
    pool: asyncpg.Pool, content: str, explicit: Sequence[str]
) -> tuple[str, ...]:
    """The agents ``content``'s ``@name``s mention, united with the
    ``explicit`` ids: the explicit ones first, then those named, each once.
    Raises :class:`~commands.errors.AgentNotFound` (field ``mentions``) for
    an explicit id that is no registered agent. An ``@name`` that names
    nobody is plain text."""
    wanted = tuple(dict.fromkeys(explicit))
    if wanted:
        known = {r["agent_id"] for r in await pool.fetch(_KNOWN, list(wanted))}
        if unknown := [a for a in wanted if a not in known]:
            raise errors.AgentNotFound(f"no agent {unknown[0]!r} to mention", field="mentions")
    named: tuple[str, ...] = ()
    if "@" in content:
        rows = await pool.fetch(_DIRECTORY)
        named = mentioned(content, {r["agent_id"]: r["display_name"] for r in rows})
    return tuple(dict.fromkeys((*wanted, *named)))
