"""The event catalogue: stable tags, lossless JSON round trips, validation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
import pytest

from events.attachment_events import AttachmentUploaded, ImageChecked
from events.catalogue import (
    EVENT_TYPES,
    MAX_CONTENT_LENGTH,
    AgentAvailabilityChanged,
    AgentProfileChanged,
    AgentRegistered,
    AnyEvent,
    AssignReason,
    Availability,
    CannedResponseChanged,
    CannedResponseCreated,
    CannedResponseDeleted,
    Channel,
    Client,
    ClientErased,
    ConversationAssigned,
    ConversationDeleted,
    ConversationLabelled,
    ConversationMerged,
    ConversationMergedIn,
    ConversationSnoozed,
    ConversationStarted,
    ConversationStatusChanged,
    ConversationUnassigned,
    ConversationUnlabelled,
    ConversationUpdated,
    ConversationWoke,
    LabelChanged,
    LabelCreated,
    LabelDeleted,
    MergedFrom,
    MessageSent,
    MessagesRead,
    NoteAdded,
    NotificationsRead,
    Priority,
    Side,
    Status,
    TeamCreated,
    TeamMemberAdded,
    TeamMemberRemoved,
    WakeReason,
    event_type,
)
from events.envelope import Metadata, NewEvent

CID = uuid.UUID("00000000-0000-4000-8000-000000000001")
NID = uuid.UUID("00000000-0000-4000-8000-000000000002")
AT = datetime(2026, 12, 3, 18, 30, tzinfo=UTC)

ONE_OF_EACH = [
    ConversationStarted(
        conversation_id=CID,
        client=Client(id="c1", name="Ada"),
        channel=Channel.WHATSAPP,
        priority=Priority.HIGH,
        status=Status.ACTIVE,
        summary="refund",
    ),
    ConversationUpdated(conversation_id=CID, priority=Priority.LOW),
    ConversationStatusChanged(
        conversation_id=CID, from_status=Status.ACTIVE, to_status=Status.CLOSED, reason="done"
    ),
    ConversationDeleted(conversation_id=CID),
    MessageSent(
        conversation_id=CID,
        message_id=uuid.uuid4(),
        seq=1,
        sender=Side.ADMIN,
        sender_id="alice",
        content="Hi!",
        client_message_id="m-1",
    ),
    MessagesRead(conversation_id=CID, reader=Side.CLIENT, reader_id="c1", up_to_seq=1),
    ConversationAssigned(conversation_id=CID, agent_id="ann", team_id="billing", by="bob"),
    ConversationUnassigned(
        conversation_id=CID, agent_id="ann", by="router", reason=AssignReason.AGENT_OFFLINE
    ),
    AgentRegistered(agent_id="ann", display_name="Ann Lee", capacity=10),
    AgentProfileChanged(agent_id="ann", capacity=5),
    AgentAvailabilityChanged(agent_id="ann", availability=Availability.AWAY),
    TeamCreated(team_id="billing", name="Billing"),
    TeamMemberAdded(team_id="billing", agent_id="ann"),
    TeamMemberRemoved(team_id="billing", agent_id="ann"),
    NoteAdded(
        conversation_id=CID, note_id=NID, author_id="ann", content="@bob?", mentions=("bob",)
    ),
    ConversationLabelled(conversation_id=CID, label_id="vip", by="ann"),
    ConversationUnlabelled(conversation_id=CID, label_id="vip", by="ann"),
    ConversationSnoozed(conversation_id=CID, until=AT, from_status=Status.PENDING, by="ann"),
    ConversationWoke(conversation_id=CID, reason=WakeReason.CLIENT_MESSAGE),
    ConversationMerged(conversation_id=CID, into=NID, up_to_seq=3, by="ann"),
    ConversationMergedIn(conversation_id=NID, source_id=CID, message_count=1, by="ann"),
    NotificationsRead(agent_id="bob", up_to_position=42),
    LabelCreated(label_id="vip", name="VIP", colour="#ff0000"),
    LabelChanged(label_id="vip", colour="#00ff00"),
    LabelDeleted(label_id="vip"),
    CannedResponseCreated(response_id=NID, code="thanks", content="Thank you!", owner_id="ann"),
    CannedResponseChanged(response_id=NID, content="Thanks!"),
    CannedResponseDeleted(response_id=NID),
    AttachmentUploaded(
        attachment_id=NID,
        conversation_id=CID,
        uploader_id="c1",
        uploader_side=Side.CLIENT,
        sha256="ab" * 32,
        size=1234,
        mime_type="image/png",
        name="parcel.png",
    ),
    ImageChecked(
        attachment_id=NID,
        conversation_id=CID,
        width=640,
        height=480,
        thumbnail_sha256="cd" * 32,
        thumbnail_size=999,
    ),
    ClientErased(client_id="c1", key_ids=(NID,), conversation_ids=(CID,), by="admin-1"),
]
COPY = MessageSent(
    conversation_id=NID,
    message_id=uuid.uuid4(),
    seq=1,
    sender=Side.CLIENT,
    sender_id="c1",
    content="Hi!",
    merged_from=MergedFrom(
        conversation_id=CID, seq=1, message_id=uuid.uuid4(), sent_at=AT, read_by_staff=True
    ),
)


def test_the_catalogue_has_every_event_of_the_design_once() -> None:
    assert set(EVENT_TYPES) == {
        "ConversationStarted",
        "ConversationUpdated",
        "ConversationStatusChanged",
        "ConversationDeleted",
        "MessageSent",
        "MessagesRead",
        "ConversationAssigned",
        "ConversationUnassigned",
        "AgentRegistered",
        "AgentProfileChanged",
        "AgentAvailabilityChanged",
        "TeamCreated",
        "TeamMemberAdded",
        "TeamMemberRemoved",
        "NoteAdded",
        "ConversationLabelled",
        "ConversationUnlabelled",
        "ConversationSnoozed",
        "ConversationWoke",
        "ConversationMerged",
        "ConversationMergedIn",
        "NotificationsRead",
        "LabelCreated",
        "LabelChanged",
        "LabelDeleted",
        "CannedResponseCreated",
        "CannedResponseChanged",
        "CannedResponseDeleted",
        "AttachmentUploaded",
        "ImageChecked",
        "ClientErased",
    }
    assert {event_type(e) for e in ONE_OF_EACH} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", [*ONE_OF_EACH, COPY], ids=event_type)
def test_every_event_survives_a_json_round_trip(event: AnyEvent) -> None:
    encoded = msgspec.json.encode(event)
    assert msgspec.json.decode(encoded, type=AnyEvent) == event
    assert msgspec.json.decode(encoded)["type"] == event_type(event)


def test_status_change_is_stored_with_the_design_field_names() -> None:
    encoded = msgspec.json.decode(msgspec.json.encode(ONE_OF_EACH[2]))
    assert (encoded["from"], encoded["to"]) == ("active", "closed")


@pytest.mark.parametrize(
    ("field", "value"),
    [("sender", "robot"), ("message_type", "video"), ("content", ""), ("content", "x" * 4001)],
)
def test_message_payloads_outside_the_rules_do_not_decode(field: str, value: str) -> None:
    raw = msgspec.to_builtins(ONE_OF_EACH[4]) | {field: value}
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(raw, type=AnyEvent)


def test_content_may_be_as_long_as_the_documented_bound() -> None:
    raw = msgspec.to_builtins(ONE_OF_EACH[4]) | {"content": "x" * MAX_CONTENT_LENGTH}
    assert isinstance(msgspec.convert(raw, type=AnyEvent), MessageSent)


def test_a_new_event_knows_its_type_and_keeps_its_metadata() -> None:
    new = NewEvent(
        event_id=uuid.uuid4(),
        data=ONE_OF_EACH[3],
        metadata=Metadata(actor_id="alice", actor_role="admin", correlation_id=uuid.uuid4()),
    )
    assert new.type == "ConversationDeleted"
    decoded = msgspec.json.decode(msgspec.json.encode(new.metadata), type=Metadata)
    assert decoded == new.metadata
