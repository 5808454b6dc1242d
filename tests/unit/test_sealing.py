"""Sealing personal data (events.sealing): what is stored, what a key opens,
what reads without one."""

from __future__ import annotations

import uuid

import msgspec
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from events import sealing
from events.attachment_events import AttachmentUploaded
from events.catalogue import (
    AnyEvent,
    ConversationAssigned,
    ConversationStarted,
    ConversationStatusChanged,
    ConversationUpdated,
    MessageSent,
    NoteAdded,
)
from events.fields import Attachment, Channel, Client, Priority, Side, Status
from events.upcasting import decode_event

CID = uuid.uuid4()
SECRET = "Marker-7f3a: my card is 4111 1111 1111 1111"
KEY_ID = uuid.uuid4()
CIPHER = AESGCM(bytes(range(32)))
NONCE = bytes(12)

PERSONAL: list[AnyEvent] = [
    ConversationStarted(
        conversation_id=CID,
        client=Client(id="c-1", name=SECRET),
        channel=Channel.WEB,
        priority=Priority.LOW,
        status=Status.ACTIVE,
        summary=SECRET,
    ),
    ConversationUpdated(conversation_id=CID, summary=SECRET),
    ConversationStatusChanged(
        conversation_id=CID, from_status=Status.ACTIVE, to_status=Status.CLOSED, reason=SECRET
    ),
    MessageSent(
        conversation_id=CID,
        message_id=uuid.uuid4(),
        seq=1,
        sender=Side.CLIENT,
        sender_id="c-1",
        content=SECRET,
        attachment=Attachment(url=f"https://files.example/{SECRET}", name=SECRET),
    ),
    NoteAdded(conversation_id=CID, note_id=uuid.uuid4(), author_id="alice", content=SECRET),
    AttachmentUploaded(
        attachment_id=uuid.uuid4(),
        conversation_id=CID,
        uploader_id="c-1",
        uploader_side=Side.CLIENT,
        sha256="ab" * 32,
        size=10,
        mime_type="application/pdf",
        name=SECRET,
    ),
]


def stored(event: AnyEvent, event_id: uuid.UUID) -> bytes:
    return sealing.seal(
        event, event_id=event_id, version=2, key_id=KEY_ID, cipher=CIPHER, nonce=NONCE
    )


@pytest.mark.parametrize("event", PERSONAL, ids=lambda e: type(e).__name__)
def test_a_personal_event_is_stored_without_its_personal_data(event: AnyEvent) -> None:
    assert sealing.personal(event)
    data = stored(event, uuid.uuid4())
    assert SECRET.encode() not in data
    # Spaced digits: a random uuid or the base64 box may hold "4111" by chance.
    assert b"Marker-7f3a" not in data and b"4111 1111" not in data


@pytest.mark.parametrize("event", PERSONAL, ids=lambda e: type(e).__name__)
def test_the_key_opens_the_event_as_it_was_appended(event: AnyEvent) -> None:
    event_id = uuid.uuid4()
    data = stored(event, event_id)
    sealed = sealing.sealed_part(data)
    assert sealed is not None and sealed.key == KEY_ID and sealed.version == 2
    redacted = decode_event(type(event).__struct_config__.tag, 2, data)  # type: ignore[arg-type]
    assert sealing.open_sealed(redacted, sealed, event_id=event_id, cipher=CIPHER) == event


@pytest.mark.parametrize("event", PERSONAL, ids=lambda e: type(e).__name__)
def test_the_stored_json_and_its_box_open_in_one_decode(event: AnyEvent) -> None:
    """The box's fields follow the stored ones they repeat: the last value is kept."""
    event_id = uuid.uuid4()
    data = stored(event, event_id)
    sealed = sealing.sealed_part(data)
    assert sealed is not None
    tag = type(event).__struct_config__.tag
    assert sealing.open_stored(tag, 2, data, sealed, event_id=event_id, cipher=CIPHER) == event  # type: ignore[arg-type]


@pytest.mark.parametrize("event", PERSONAL, ids=lambda e: type(e).__name__)
def test_only_the_personal_fields_are_sealed(event: AnyEvent) -> None:
    event_id = uuid.uuid4()
    sealed = sealing.sealed_part(stored(event, event_id))
    assert sealed is not None and sealed.fields
    boxed = msgspec.json.decode(sealing.open_box(sealed, event_id=event_id, cipher=CIPHER))
    assert boxed and set(boxed) <= set(sealing.PERSONAL_FIELDS[type(event)])
    assert SECRET in msgspec.json.encode(boxed).decode()


def test_a_personal_field_left_empty_is_left_out_of_the_box_and_reads_empty() -> None:
    message, event_id = msgspec.structs.replace(PERSONAL[3], attachment=None), uuid.uuid4()
    data = stored(message, event_id)
    sealed = sealing.sealed_part(data)
    assert sealed is not None
    boxed = msgspec.json.decode(sealing.open_box(sealed, event_id=event_id, cipher=CIPHER))
    assert boxed == {"content": SECRET}
    redacted = decode_event("MessageSent", 2, data)
    assert sealing.open_sealed(redacted, sealed, event_id=event_id, cipher=CIPHER) == message


def test_a_box_of_the_first_format_the_whole_event_still_opens() -> None:
    event, event_id = PERSONAL[3], uuid.uuid4()
    box = NONCE + CIPHER.encrypt(NONCE, msgspec.json.encode(event), event_id.bytes)
    sealed = sealing.Sealed(key=KEY_ID, version=2, box=box)
    data = msgspec.json.encode(sealing.redact(event))[:-1] + b',"sealed":'
    data += msgspec.json.encode(sealed) + b"}"
    assert b'"fields"' not in data
    part = sealing.sealed_part(data)
    assert part == sealed and not part.fields
    redacted = decode_event("MessageSent", 2, data)
    assert sealing.open_sealed(redacted, part, event_id=event_id, cipher=CIPHER) == event


@pytest.mark.parametrize("event", PERSONAL, ids=lambda e: type(e).__name__)
def test_without_the_key_it_reads_redacted(event: AnyEvent) -> None:
    tag = type(event).__struct_config__.tag
    read = decode_event(tag, 2, stored(event, uuid.uuid4()))  # type: ignore[arg-type]
    assert read == sealing.redact(event)
    assert SECRET not in msgspec.json.encode(read).decode()
    assert type(read) is type(event)


def test_redaction_marks_texts_and_drops_what_is_optional() -> None:
    started, updated, status, message, note, upload = (sealing.redact(e) for e in PERSONAL)
    assert isinstance(started, ConversationStarted)
    assert started.client == Client(id="c-1", name=sealing.ERASED) and started.summary is None
    assert isinstance(updated, ConversationUpdated) and updated.summary is None
    assert isinstance(status, ConversationStatusChanged) and status.reason is None
    assert isinstance(message, MessageSent)
    assert message.content == sealing.ERASED and message.attachment is None
    assert isinstance(note, NoteAdded) and note.content == sealing.ERASED
    assert isinstance(upload, AttachmentUploaded) and upload.name == sealing.ERASED


def test_a_box_opens_only_for_its_own_event_and_key() -> None:
    event_id = uuid.uuid4()
    sealed = sealing.sealed_part(stored(PERSONAL[3], event_id))
    assert sealed is not None
    with pytest.raises(InvalidTag):
        sealing.open_box(sealed, event_id=uuid.uuid4(), cipher=CIPHER)
    with pytest.raises(InvalidTag):
        sealing.open_box(sealed, event_id=event_id, cipher=AESGCM(bytes(32)))


def test_events_without_personal_data_are_stored_as_they_are() -> None:
    assigned = ConversationAssigned(conversation_id=CID, agent_id="alice", by="bob")
    assert not sealing.personal(assigned)
    assert sealing.redact(assigned) is assigned
    assert sealing.sealed_part(msgspec.json.encode(assigned)) is None


def test_a_content_that_says_sealed_is_not_taken_for_a_sealed_event() -> None:
    message = msgspec.structs.replace(PERSONAL[3], content='"sealed": {"key": 1}')
    assert sealing.sealed_part(msgspec.json.encode(message)) is None


def test_a_start_names_its_own_client() -> None:
    assert sealing.subject_in(PERSONAL[0]) == "c-1"
    assert sealing.subject_in(PERSONAL[3]) is None


def test_the_stored_json_is_jsonb_safe_and_keeps_the_type_tag() -> None:
    data = msgspec.json.decode(stored(PERSONAL[3], uuid.uuid4()))
    assert data["type"] == "MessageSent" and data["content"] == sealing.ERASED
    assert set(data["sealed"]) == {"key", "version", "box", "fields"}
