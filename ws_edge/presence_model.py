"""What presence knows and tells: a connection, a user online, a change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec


class Connection(msgspec.Struct, frozen=True, kw_only=True):
    """The value of one presence key: one socket on one conversation."""

    conversation_id: UUID
    user_id: str
    role: str
    since: datetime
    node: str


class OnlineUser(msgspec.Struct, frozen=True, kw_only=True):
    """Someone online in a conversation (GET .../presence)."""

    user_id: str
    role: str
    since: datetime
    """When their earliest open socket on it connected."""
    connections: int


@dataclass(frozen=True)
class Change:
    conversation_id: UUID
    user_id: str
    role: str
    state: Literal["joined", "left"]


Listener = Callable[[Change], None]
