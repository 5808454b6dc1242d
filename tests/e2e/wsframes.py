"""Reading frames from a real socket in the support-workflow WebSocket tests:
collect what comes until a condition holds (with a deadline), and the
agents and commands those tests need."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection

from commands.model import Actor, Role
from commands.staff import SetAvailability
from commands.staff_handler import StaffHandler
from events.catalogue import Availability
from events.postgres.store import PostgresEventStore

Frame = dict[str, Any]
Wanted = Callable[[Frame], bool]

STAFF_ONLY = {"NOTE_ADDED", "LABELLED", "UNLABELLED", "NOTIFICATION", "NOTIFICATIONS_READ"}
"""Frames a client's socket never gets (nor CATALOGUE_CHANGED, STAFF_CHANGED:
inbox only, which clients cannot open)."""


def of(kind: str, **fields: object) -> Wanted:
    """A frame of type ``kind`` whose ``fields`` have these values."""
    return lambda frame: frame["type"] == kind and all(frame.get(k) == v for k, v in fields.items())


async def collect(ws: ClientConnection, *wanted: Wanted, timeout: float = 10) -> list[Frame]:
    """Every frame (HEARTBEATs included) until each of ``wanted`` has
    matched one, in the order they came. Fails after ``timeout`` seconds."""
    got: list[Frame] = []
    missing = list(wanted)
    async with asyncio.timeout(timeout):
        while missing:
            frame: Frame = json.loads(await ws.recv())
            got.append(frame)
            missing = [want for want in missing if not want(frame)]
    return got


def first(frames: list[Frame], want: Wanted) -> Frame:
    return next(frame for frame in frames if want(frame))


async def barrier(ws: ClientConnection) -> list[Frame]:
    """PING, then every frame before its PONG: all that was queued for the
    socket before (the server answers in order)."""
    ref = f"barrier-{uuid.uuid4()}"
    await ws.send(json.dumps({"type": "PING", "ref": ref}))
    return (await collect(ws, of("PONG", ref=ref)))[:-1]


async def send(ws: ClientConnection, frame_type: str, ref: str, **fields: object) -> None:
    await ws.send(json.dumps({"type": frame_type, "ref": ref, **fields}))


def answered(ref: str) -> Wanted:
    """The ACK or ERROR for the frame sent with ``ref``."""
    return lambda frame: frame["type"] in ("ACK", "ERROR") and frame.get("ref") == ref


async def register(store: PostgresEventStore, name: str) -> str:
    """A new agent (online), with a display name unique to this run: its id."""
    agent_id = f"ws-{''.join(name.lower().split())}-{uuid.uuid4().hex[:8]}"
    actor = Actor(id=agent_id, role=Role.AGENT, name=name)
    await StaffHandler(store).handle(
        SetAvailability(agent_id=agent_id, availability=Availability.ONLINE), actor
    )
    return agent_id
