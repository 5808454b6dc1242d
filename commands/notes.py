"""Mentions in private notes: ``@name`` names an agent by their id or by
their display name written without spaces (``@bob``, ``@BobStone`` for
"Bob Stone"), case-insensitively. Pure: the edge passes the directory."""

from __future__ import annotations

import re
from collections.abc import Mapping

_MENTION = re.compile(r"(?<![\w@])@([^\s@,;:!?()\[\]{}<>\"']+)")


def mentioned(content: str, directory: Mapping[str, str]) -> tuple[str, ...]:
    """The ids of the agents of ``directory`` (id → display name) that
    ``content`` mentions, in the order first mentioned, each once."""
    by_key: dict[str, str] = {}
    for agent_id, display_name in directory.items():
        by_key.setdefault("".join(display_name.split()).casefold(), agent_id)
    for agent_id in directory:  # an id wins over another agent's name
        by_key[agent_id.casefold()] = agent_id
    found: dict[str, None] = {}
    for match in _MENTION.finditer(content):
        token = match.group(1).rstrip(".").casefold()
        if token in by_key:
            found[by_key[token]] = None
    return tuple(found)
