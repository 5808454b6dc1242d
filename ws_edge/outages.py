"""What a socket's I/O raises when the client has gone, or when PostgreSQL
or NATS is away (close 1013: the client comes back and resumes)."""

from __future__ import annotations

import logging

import asyncpg
from litestar.exceptions import WebSocketDisconnect
from nats.errors import Error as NatsError

from events.store import StoreUnavailable
from ws_edge import codes

log = logging.getLogger("parley.ws")

GONE = (OSError, WebSocketDisconnect)  # uvicorn: ClientDisconnected(OSError)
"""What sending to (or reading from) a socket whose client has gone raises."""
OUTAGES = (
    StoreUnavailable,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    NatsError,
)
"""What a session's reads raise while PostgreSQL or NATS is away (a plain
OSError is taken for the client gone): close 1013, the client comes back."""
UNAVAILABLE = "PostgreSQL or NATS is unavailable: reconnect shortly and resume"


def ended_by(error: BaseException | None) -> tuple[int, str] | None:
    """The close code and reason for a session whose task (or send) ended
    with ``error``; None: nothing to say (no error, or the client gone)."""
    if isinstance(error, OUTAGES):
        log.warning("websocket session ended by an outage: %r", error)
        return codes.TRY_AGAIN_LATER, UNAVAILABLE
    if error is not None and not isinstance(error, GONE):
        log.error("websocket session failed", exc_info=error)
        return codes.INTERNAL_ERROR, "internal error"
    return None
