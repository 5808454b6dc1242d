"""What erasing a client does to each read-model table (docs/PRIVACY.md).

On ``ClientErased`` every projection rewrites its rows of the client's
conversations exactly as the events would have projected had they been
redacted from the start (:func:`events.sealing.redact`): personal texts
read ``[erased]``, optional ones are NULL, attachments are gone. So a
rebuild after an erasure (whose events then read redacted) gives the same
rows. One statement per table, all taking the conversation ids and the
marker; a projection asks for its own tables'.
"""

from __future__ import annotations

from typing import Final

from events.catalogue import ClientErased
from events.sealing import ERASED
from projections.base import Statement

_FORGET_IN_DETAILS = """
CASE WHEN details ? 'reason' THEN details || '{"reason": null}' ELSE details END
"""

_BY_TABLE: Final[dict[str, str]] = {
    "conversations": """
UPDATE conversations
SET client_name = $2::text, summary = NULL,
    last_message_preview = CASE WHEN last_message_preview IS NULL THEN NULL ELSE $2::text END
WHERE conversation_id = ANY($1::uuid[])
""",
    "messages": """
UPDATE messages SET content = $2::text, attachment = NULL WHERE conversation_id = ANY($1::uuid[])
""",
    "timeline_entries": f"""
UPDATE timeline_entries
SET content = CASE WHEN content IS NULL THEN NULL ELSE $2::text END,
    details = CASE WHEN details ? 'summary' THEN ({_FORGET_IN_DETAILS}) || '{{"summary": null}}'
                   ELSE {_FORGET_IN_DETAILS} END
WHERE conversation_id = ANY($1::uuid[])
""",
    "notifications": """
UPDATE notifications SET excerpt = $2::text WHERE conversation_id = ANY($1::uuid[])
""",
    "search_documents": """
UPDATE search_documents
SET client_name = CASE WHEN kind = 'conversation' THEN $2::text ELSE client_name END,
    body = CASE WHEN kind = 'conversation' THEN '' ELSE $2::text END
WHERE conversation_id = ANY($1::uuid[])
""",
    "attachments": """
UPDATE attachments SET name = $2::text WHERE conversation_id = ANY($1::uuid[])
""",
}


def erase(tables: tuple[str, ...], event: ClientErased) -> list[Statement]:
    """The statements that erase ``event``'s conversations from ``tables``."""
    ids = list(event.conversation_ids)
    return [(_BY_TABLE[t], (ids, ERASED)) for t in tables if t in _BY_TABLE]
