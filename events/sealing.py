"""Sealing: a client's personal data is stored encrypted with that client's key.

An event that carries personal data (:func:`personal`) is stored *sealed*:
its JSON is the event with every personal field redacted (:func:`redact`),
plus a ``sealed`` member holding those fields' values, encrypted with the
data key of the client they are about (AES-256-GCM; the event id is the
associated data, so a box cannot be moved to another event)::

    {"type": "MessageSent", "content": "[erased]", …,
     "sealed": {"key": "<key id>", "version": 2, "fields": true,
                "box": "<base64 nonce|ciphertext of {"content": …, "attachment": …}>"}}

A reader holding the key opens the box and puts the fields back
(:func:`open_sealed`); a reader without it (the key was destroyed: the
client was erased) reads the redacted event. The hash chain covers these
stored bytes, so erasing a client (destroying its key) leaves the log
verifiable. Only the personal fields are sealed, not the whole event: a
third fewer bytes to store, digest and log (docs/BENCHMARKS.md, issue 19);
an empty optional field is left out of the box.

Which fields are personal is decided here, once (:data:`PERSONAL_FIELDS`):
what a client wrote or uploaded, their name, and what staff wrote about them
(notes, summaries). A box holds its fields in the schema of its event type's
``version``; every sealed event so far is at its type's current version, so
a schema change to a personal field must bring an upcaster for boxes too.
Boxes of the first format (``fields`` absent: the whole event sealed) still
open. Pure: keys, nonces and ids are arguments.
"""

from __future__ import annotations

from typing import Any, Final, Protocol, TypedDict
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
from events.upcasting import decode_event

ERASED: Final = "[erased]"
"""What a personal text reads as once its client is erased."""

NONCE_SIZE: Final = 12


class Cipher(Protocol):
    """An authenticated cipher (``cryptography``'s ``AESGCM``)."""

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


class Sealed(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """The sealed part of an event: ``box`` is the nonce then the ciphertext
    of the JSON of its personal fields (``fields``; the whole event in the
    first format) under data key ``key``, in schema ``version``."""

    key: UUID
    version: int
    box: bytes
    fields: bool = False


PERSONAL_FIELDS: Final[dict[type[Any], dict[str, Any]]] = {
    ConversationStarted: {"client": None, "summary": None},
    ConversationUpdated: {"summary": None},
    ConversationStatusChanged: {"reason": None},
    MessageSent: {"content": ERASED, "attachment": None},
    NoteAdded: {"content": ERASED},
    AttachmentUploaded: {"name": ERASED},
}
"""Per event type that carries personal data: its personal fields and what
each reads as without them (a start keeps its client's id: see :func:`redact`)."""


def _fields_dict(event_type: type[Any], names: dict[str, Any]) -> Any:
    """A TypedDict of ``event_type``'s personal fields: a box decodes straight
    into the keyword arguments that put them back (no Struct in between)."""
    info = {f.name: f for f in msgspec.structs.fields(event_type)}
    fields = {n: info[n].type for n in names}
    return TypedDict(f"{event_type.__name__}Box", fields, total=False)  # type: ignore[operator]


_BOX_DECODERS: Final = {
    t: msgspec.json.Decoder(_fields_dict(t, names)) for t, names in PERSONAL_FIELDS.items()
}
_encode = msgspec.json.Encoder().encode


def personal(event: AnyEvent) -> bool:
    """Does ``event`` carry personal data (so it is stored sealed)?"""
    return type(event) in PERSONAL_FIELDS


def subject_in(event: AnyEvent) -> str | None:
    """The client an event names itself (a conversation's start), if any."""
    return event.client.id if isinstance(event, ConversationStarted) else None


def redact(event: AnyEvent) -> AnyEvent:
    """``event`` with its personal texts replaced by :data:`ERASED` (optional
    ones left out); an event without personal data as it is."""
    erased = PERSONAL_FIELDS.get(type(event))
    if erased is None:
        return event
    if isinstance(event, ConversationStarted):
        erased = erased | {"client": Client(id=event.client.id, name=ERASED)}
    return msgspec.structs.replace(event, **erased)


def seal(
    event: AnyEvent, *, event_id: UUID, version: int, key_id: UUID, cipher: Cipher, nonce: bytes
) -> bytes:
    """The stored JSON of ``event``: redacted, with its personal fields sealed
    (an empty one, ``None``, left out of the box)."""
    fields = {
        name: value
        for name in PERSONAL_FIELDS[type(event)]
        if (value := getattr(event, name)) is not None
    }
    box = nonce + cipher.encrypt(nonce, _encode(fields), event_id.bytes)
    sealed = _encode(Sealed(key=key_id, version=version, box=box, fields=True))
    redacted = _encode(redact(event))
    return redacted[:-1] + b',"sealed":' + sealed + b"}"


class _Stored(msgspec.Struct, gc=False):
    """A stored event's JSON as far as its sealed part goes (the rest is skipped)."""

    sealed: Sealed | None = None


_decode_stored: Final = msgspec.json.Decoder(_Stored).decode


def sealed_part(stored: bytes) -> Sealed | None:
    """The sealed part of a stored event's JSON (its top-level ``sealed``
    member, as :func:`seal` writes it or as jsonb rendered it before
    migration 008), if it has
    one. A member of that name in a text or deeper down is not it."""
    return _decode_stored(stored).sealed


decode_sealed: Final = msgspec.json.Decoder(Sealed).decode


def open_box(sealed: Sealed, *, event_id: UUID, cipher: Cipher) -> bytes:
    """The JSON sealed in ``sealed`` (raises ``cryptography``'s ``InvalidTag``
    when the box was not sealed for ``event_id`` with this key)."""
    nonce, ciphertext = sealed.box[:NONCE_SIZE], sealed.box[NONCE_SIZE:]
    return cipher.decrypt(nonce, ciphertext, event_id.bytes)


def open_stored(
    event_type: str, version: int, stored: bytes, sealed: Sealed, *, event_id: UUID, cipher: Cipher
) -> AnyEvent:
    """The event as appended, from its stored JSON and its sealed part: the
    box's fields are written after the stored members, whose redacted values
    they repeat, and the whole is decoded once (msgspec keeps a repeated
    member's last value; tests/unit/test_sealing.py holds it to that). A box
    of another schema version, or of the first format, goes the long way."""
    if not sealed.fields or sealed.version != version:
        redacted = decode_event(event_type, version, stored)
        return open_sealed(redacted, sealed, event_id=event_id, cipher=cipher)
    plain = open_box(sealed, event_id=event_id, cipher=cipher)
    if plain == b"{}":  # every personal field empty: the stored event says it all
        return decode_event(event_type, version, stored)
    return decode_event(event_type, version, stored[:-1] + b"," + plain[1:])


def open_sealed(redacted: AnyEvent, sealed: Sealed, *, event_id: UUID, cipher: Cipher) -> AnyEvent:
    """The event as appended: ``redacted`` (as stored, or as JetStream
    carries it) with the personal fields in ``sealed`` put back."""
    plain = open_box(sealed, event_id=event_id, cipher=cipher)
    if not sealed.fields:  # the first format: the whole event
        return decode_event(type(redacted).__struct_config__.tag, sealed.version, plain)  # type: ignore[arg-type]
    return msgspec.structs.replace(redacted, **_BOX_DECODERS[type(redacted)].decode(plain))
