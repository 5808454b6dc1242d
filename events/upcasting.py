"""Event schema evolution: old payloads are upcast when read; the log is never rewritten.

Each event type has a current version (``CURRENT_VERSIONS``, 1 unless listed);
the store writes it in ``events.schema_version``. An upcaster turns the JSON of
version N into version N+1; reading a row of an older version runs the chain.

MessageSent v1 -> v2: v1 payloads (written before attachments were
structured) kept the message type in ``kind`` and an attachment as a bare
``attachment_url``; v2 has ``message_type`` and ``attachment: {url, …}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import msgspec

from events.catalogue import AnyEvent

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]


def _message_sent_v1_to_v2(old: Payload) -> Payload:
    new = dict(old)
    new["message_type"] = new.pop("kind", "text")
    url = new.pop("attachment_url", None)
    new["attachment"] = {"url": url} if url else None
    return new


CURRENT_VERSIONS: Final[dict[str, int]] = {"MessageSent": 2}
UPCASTERS: Final[dict[tuple[str, int], Upcaster]] = {
    ("MessageSent", 1): _message_sent_v1_to_v2,
}

_decode_current = msgspec.json.Decoder(AnyEvent).decode


def current_version(event_type: str) -> int:
    return CURRENT_VERSIONS.get(event_type, 1)


def decode_event(event_type: str, version: int, data: bytes) -> AnyEvent:
    """The event a stored payload means today, whatever version it was written in."""
    if version >= current_version(event_type):
        event: AnyEvent = _decode_current(data)
        return event
    payload: Payload = msgspec.json.decode(data)
    for step in range(version, current_version(event_type)):
        payload = UPCASTERS[(event_type, step)](payload)
    upcast: AnyEvent = msgspec.convert(payload, AnyEvent)
    return upcast
