"""Sealing: a client's personal data is stored encrypted with that client's key.

An event that carries personal data (:func:`personal`) is stored *sealed*:
its JSON is the event with every personal field redacted (:func:`redact`),
plus a ``sealed`` member holding the whole event, encrypted with the data
key of the client it is about (AES-256-GCM; the event id is the associated
data, so a box cannot be moved to another event)::

    {"type": "MessageSent", "content": "[erased]", …,
     "sealed": {"key": "<key id>", "version": 2, "box": "<base64 nonce|ciphertext>"}}

A reader holding the key opens the box and gets the event as appended; a
reader without it (the key was destroyed: the client was erased) decodes the
redacted event beside it. The hash chain covers these stored bytes, so
erasing a client (destroying its key) leaves the log verifiable.

Which fields are personal is decided here, once: what a client wrote or
uploaded, their name, and what staff wrote about them (notes, summaries).
Pure: keys, nonces and ids are arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Protocol
from uuid import UUID

import msgspec

from events.attachment_events import AttachmentUploaded
from events.catalogue import (
    AnyEvent,
    ConversationStarted,
    ConversationStatusChanged,
    ConversationUpdated,
    MessageSent,
    NoteAdded,
)
from events.fields import Client

ERASED: Final = "[erased]"
"""What a personal text reads as once its client is erased."""

NONCE_SIZE: Final = 12


class Cipher(Protocol):
    """An authenticated cipher (``cryptography``'s ``AESGCM``)."""

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


class Sealed(msgspec.Struct, frozen=True, kw_only=True):
    """The sealed copy of an event: ``box`` is the nonce then the ciphertext of
    the event's JSON (schema ``version``) under data key ``key``."""

    key: UUID
    version: int
    box: bytes


class _Stored(msgspec.Struct):
    sealed: Sealed | None = None


_REDACTORS: Final[dict[type[Any], Callable[[Any], Any]]] = {
    ConversationStarted: lambda e: msgspec.structs.replace(
        e, client=Client(id=e.client.id, name=ERASED), summary=None
    ),
    ConversationUpdated: lambda e: msgspec.structs.replace(e, summary=None),
    ConversationStatusChanged: lambda e: msgspec.structs.replace(e, reason=None),
    MessageSent: lambda e: msgspec.structs.replace(e, content=ERASED, attachment=None),
    NoteAdded: lambda e: msgspec.structs.replace(e, content=ERASED),
    AttachmentUploaded: lambda e: msgspec.structs.replace(e, name=ERASED),
}
"""Per event type that carries personal data: the event without it."""

_encode = msgspec.json.Encoder().encode
_decode_stored = msgspec.json.Decoder(_Stored).decode


def personal(event: AnyEvent) -> bool:
    """Does ``event`` carry personal data (so it is stored sealed)?"""
    return type(event) in _REDACTORS


def subject_in(event: AnyEvent) -> str | None:
    """The client an event names itself (a conversation's start), if any."""
    return event.client.id if isinstance(event, ConversationStarted) else None


def redact(event: AnyEvent) -> AnyEvent:
    """``event`` with its personal fields replaced by :data:`ERASED` (or
    left out); an event without personal data as it is."""
    redactor = _REDACTORS.get(type(event))
    return event if redactor is None else redactor(event)


def seal(
    event: AnyEvent, *, event_id: UUID, version: int, key_id: UUID, cipher: Cipher, nonce: bytes
) -> bytes:
    """The stored JSON of ``event``: redacted, with its sealed copy."""
    box = nonce + cipher.encrypt(nonce, _encode(event), event_id.bytes)
    sealed = _encode(Sealed(key=key_id, version=version, box=box))
    redacted = _encode(redact(event))
    return redacted[:-1] + b',"sealed":' + sealed + b"}"


def sealed_part(stored: bytes) -> Sealed | None:
    """The sealed copy in a stored event's JSON, if it has one."""
    if b'"sealed"' not in stored:  # fast path: most events carry no personal data
        return None
    return _decode_stored(stored).sealed


def open_box(sealed: Sealed, *, event_id: UUID, cipher: Cipher) -> bytes:
    """The event JSON sealed in ``sealed`` (raises ``cryptography``'s
    ``InvalidTag`` when the box was not sealed for ``event_id`` with this key)."""
    nonce, ciphertext = sealed.box[:NONCE_SIZE], sealed.box[NONCE_SIZE:]
    return cipher.decrypt(nonce, ciphertext, event_id.bytes)
