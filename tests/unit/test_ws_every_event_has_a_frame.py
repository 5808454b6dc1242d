"""Every event type has a WebSocket frame, and each socket gets only what
its viewer may see: private notes and labels never reach a client's socket,
a read mark of notifications only its own agent's, a NOTIFICATION only the
mentioned agent's inbox."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.model import Actor, Role
from events.attachment_events import AttachmentUploaded, ImageChecked
from events.catalogue import (
    EVENT_TYPES,
    STAFF_ONLY_EVENTS,
    AgentAvailabilityChanged,
    AgentProfileChanged,
    AgentRegistered,
    AnyEvent,
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
from events.envelope import Metadata, RecordedEvent
from ws_edge import audience, frames
from ws_edge.directory import Directory
from ws_edge.translate import event_frame

CID, SOURCE = uuid.uuid4(), uuid.uuid4()
NOW = datetime(2026, 1, 1, tzinfo=UTC)
NOTE_ID, RESPONSE_ID, ATTACHMENT_ID = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

ADMIN = Actor(id="alice", role=Role.ADMIN)
BOB = Actor(id="bob", role=Role.AGENT)
CAROL = Actor(id="carol", role=Role.CLIENT, client_id="c-1")

NOTE = NoteAdded(
    conversation_id=CID,
    note_id=NOTE_ID,
    author_id="alice",
    content="Refund approved,\n  @bob please   send the label",
    mentions=("bob",),
)
COPY = MessageSent(
    conversation_id=CID,
    message_id=uuid.uuid4(),
    seq=4,
    sender=Side.CLIENT,
    sender_id="c-1",
    content="my parcel?",
    merged_from=MergedFrom(conversation_id=SOURCE, seq=1, message_id=uuid.uuid4(), sent_at=NOW),
)

SAMPLES: dict[str, tuple[AnyEvent, str]] = {
    "ConversationStarted": (
        ConversationStarted(
            conversation_id=CID,
            client=Client(id="c-1", name="Carol"),
            channel=Channel.WEB,
            priority=Priority.MEDIUM,
            status=Status.ACTIVE,
        ),
        "CONVERSATION_UPDATED",
    ),
    "ConversationUpdated": (
        ConversationUpdated(conversation_id=CID, priority=Priority.HIGH),
        "CONVERSATION_UPDATED",
    ),
    "ConversationStatusChanged": (
        ConversationStatusChanged(
            conversation_id=CID, from_status=Status.ACTIVE, to_status=Status.PENDING
        ),
        "STATUS_CHANGED",
    ),
    "ConversationDeleted": (ConversationDeleted(conversation_id=CID), "CONVERSATION_UPDATED"),
    "MessageSent": (COPY, "MESSAGE_CREATED"),
    "MessagesRead": (
        MessagesRead(conversation_id=CID, reader=Side.CLIENT, reader_id="c-1", up_to_seq=1),
        "MESSAGES_READ",
    ),
    "ConversationAssigned": (
        ConversationAssigned(conversation_id=CID, agent_id="bob", by="alice"),
        "ASSIGNED",
    ),
    "ConversationUnassigned": (
        ConversationUnassigned(conversation_id=CID, agent_id="bob", by="alice"),
        "UNASSIGNED",
    ),
    "NoteAdded": (NOTE, "NOTE_ADDED"),
    "ConversationLabelled": (
        ConversationLabelled(conversation_id=CID, label_id="vip", by="alice"),
        "LABELLED",
    ),
    "ConversationUnlabelled": (
        ConversationUnlabelled(conversation_id=CID, label_id="vip", by="alice"),
        "UNLABELLED",
    ),
    "ConversationSnoozed": (
        ConversationSnoozed(
            conversation_id=CID,
            until=NOW + timedelta(hours=2),
            from_status=Status.PENDING,
            by="alice",
        ),
        "STATUS_CHANGED",
    ),
    "ConversationWoke": (
        ConversationWoke(conversation_id=CID, reason=WakeReason.CLIENT_MESSAGE),
        "STATUS_CHANGED",
    ),
    "ConversationMerged": (
        ConversationMerged(conversation_id=SOURCE, into=CID, up_to_seq=3, by="alice"),
        "MERGED",
    ),
    "ConversationMergedIn": (
        ConversationMergedIn(conversation_id=CID, source_id=SOURCE, message_count=3, by="alice"),
        "MERGED_IN",
    ),
    "AgentRegistered": (
        AgentRegistered(agent_id="bob", display_name="Bob Stone", capacity=5),
        "STAFF_CHANGED",
    ),
    "AgentProfileChanged": (AgentProfileChanged(agent_id="bob", capacity=3), "STAFF_CHANGED"),
    "AgentAvailabilityChanged": (
        AgentAvailabilityChanged(agent_id="bob", availability=Availability.AWAY),
        "STAFF_CHANGED",
    ),
    "TeamCreated": (TeamCreated(team_id="billing", name="Billing"), "STAFF_CHANGED"),
    "TeamMemberAdded": (TeamMemberAdded(team_id="billing", agent_id="bob"), "STAFF_CHANGED"),
    "TeamMemberRemoved": (TeamMemberRemoved(team_id="billing", agent_id="bob"), "STAFF_CHANGED"),
    "NotificationsRead": (
        NotificationsRead(agent_id="bob", up_to_position=7, note_ids=(NOTE_ID,)),
        "NOTIFICATIONS_READ",
    ),
    "LabelCreated": (
        LabelCreated(label_id="vip", name="VIP", colour="#ff0000"),
        "CATALOGUE_CHANGED",
    ),
    "LabelChanged": (LabelChanged(label_id="vip", colour="#00ff00"), "CATALOGUE_CHANGED"),
    "LabelDeleted": (LabelDeleted(label_id="vip"), "CATALOGUE_CHANGED"),
    "CannedResponseCreated": (
        CannedResponseCreated(
            response_id=RESPONSE_ID, code="thanks", content="Thank you!", owner_id="bob"
        ),
        "CATALOGUE_CHANGED",
    ),
    "CannedResponseChanged": (
        CannedResponseChanged(response_id=RESPONSE_ID, content="Many thanks!"),
        "CATALOGUE_CHANGED",
    ),
    "CannedResponseDeleted": (CannedResponseDeleted(response_id=RESPONSE_ID), "CATALOGUE_CHANGED"),
    "AttachmentUploaded": (
        AttachmentUploaded(
            attachment_id=ATTACHMENT_ID,
            conversation_id=CID,
            uploader_id="carol",
            uploader_side=Side.CLIENT,
            sha256="ab" * 32,
            size=1234,
            mime_type="image/png",
            name="parcel.png",
        ),
        "ATTACHMENT_CHANGED",
    ),
    "ImageChecked": (
        ImageChecked(attachment_id=ATTACHMENT_ID, conversation_id=CID, problem="truncated"),
        "ATTACHMENT_CHANGED",
    ),
    "ClientErased": (
        ClientErased(client_id="c1", key_ids=(NOTE_ID,), conversation_ids=(CID,), by="alice"),
        "CLIENT_ERASED",
    ),
}

STAFF_ONLY_FRAMES = {"NOTE_ADDED", "LABELLED", "UNLABELLED"}
INBOX_ONLY_FRAMES = {
    "STAFF_CHANGED",
    "CATALOGUE_CHANGED",
    "NOTIFICATIONS_READ",
    "ATTACHMENT_CHANGED",
    "CLIENT_ERASED",
}


def recorded(data: AnyEvent, position: int = 7) -> RecordedEvent:
    return RecordedEvent(
        global_position=position,
        stream_id="some-stream",
        stream_position=position,
        event_id=uuid.uuid4(),
        type=event_type(data),
        data=data,
        metadata=Metadata(actor_id="alice", actor_role="admin"),
        recorded_at=NOW,
    )


def as_json(frame: frames.ServerFrame) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(frames.encode_frame(frame))
    return decoded


def named() -> Directory:
    directory = Directory()
    directory.heard(AgentRegistered(agent_id="alice", display_name="Alice Martin", capacity=5))
    directory.heard(AgentRegistered(agent_id="bob", display_name="Bob Stone", capacity=5))
    return directory


# -- a frame for every event ---------------------------------------------------------


def test_every_event_type_of_the_catalogue_has_a_sample_here() -> None:
    """A new event type fails here until it has a sample (and so a frame,
    checked below; mypy checks the translation's match is exhaustive)."""
    assert set(SAMPLES) == set(EVENT_TYPES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_event_becomes_its_frame_and_round_trips(name: str) -> None:
    data, tag = SAMPLES[name]
    frame = event_frame(recorded(data), named())
    encoded = frames.encode_frame(frame)
    assert json.loads(encoded)["type"] == tag
    assert frames.decode_server_frame(encoded) == frame


# -- the new frames, field by field --------------------------------------------------


def test_a_note_names_its_author_and_lists_its_mentions() -> None:
    assert as_json(event_frame(recorded(NOTE), named())) == {
        "type": "NOTE_ADDED",
        "conversation_id": str(CID),
        "stream_position": 7,
        "position": 7,
        "at": "2026-01-01T00:00:00Z",
        "note_id": str(NOTE_ID),
        "author_id": "alice",
        "author_name": "Alice Martin",
        "content": NOTE.content,
        "mentions": ["bob"],
    }


def test_snoozing_and_waking_are_status_changes() -> None:
    snoozed = as_json(event_frame(recorded(SAMPLES["ConversationSnoozed"][0])))
    assert (snoozed["from"], snoozed["to"], snoozed["reason"]) == ("pending", "snoozed", None)
    assert snoozed["until"] == "2026-01-01T02:00:00Z"
    woke = as_json(event_frame(recorded(SAMPLES["ConversationWoke"][0])))
    assert (woke["from"], woke["to"], woke["reason"]) == ("snoozed", "active", "client_message")
    assert woke["until"] is None
    plain = as_json(event_frame(recorded(SAMPLES["ConversationStatusChanged"][0])))
    assert plain["until"] is None and (plain["from"], plain["to"]) == ("active", "pending")


def test_a_merge_names_the_target_on_the_source_and_the_source_on_the_target() -> None:
    merged = as_json(event_frame(recorded(SAMPLES["ConversationMerged"][0])))
    assert (merged["conversation_id"], merged["into"], merged["up_to_seq"]) == (
        str(SOURCE),
        str(CID),
        3,
    )
    merged_in = as_json(event_frame(recorded(SAMPLES["ConversationMergedIn"][0])))
    assert (merged_in["source_id"], merged_in["message_count"]) == (str(SOURCE), 3)
    copy = as_json(event_frame(recorded(COPY)))
    assert copy["merged_from"]["conversation_id"] == str(SOURCE)
    assert copy["merged_from"]["seq"] == 1
    own = as_json(event_frame(recorded(SAMPLES["MessagesRead"][0])))
    assert "merged_from" not in own  # a MESSAGES_READ has none
    plain = MessageSent(
        conversation_id=CID,
        message_id=uuid.uuid4(),
        seq=1,
        sender=Side.CLIENT,
        sender_id="c-1",
        content="hi",
    )
    assert as_json(event_frame(recorded(plain)))["merged_from"] is None


def test_an_upload_and_an_image_check_are_attachment_changes() -> None:
    uploaded = as_json(event_frame(recorded(SAMPLES["AttachmentUploaded"][0])))
    assert uploaded == {
        "type": "ATTACHMENT_CHANGED",
        "position": 7,
        "at": "2026-01-01T00:00:00Z",
        "change": "AttachmentUploaded",
        "attachment_id": str(ATTACHMENT_ID),
        "conversation_id": str(CID),
        "name": "parcel.png",
        "mime_type": "image/png",
        "size": 1234,
        "thumbnail": None,
        "problem": None,
    }
    checked = as_json(event_frame(recorded(SAMPLES["ImageChecked"][0])))
    assert (checked["change"], checked["thumbnail"], checked["problem"]) == (
        "ImageChecked",
        False,
        "truncated",
    )


def test_labels_and_catalogue_changes() -> None:
    labelled = as_json(event_frame(recorded(SAMPLES["ConversationLabelled"][0])))
    assert (labelled["label_id"], labelled["by"]) == ("vip", "alice")
    created = as_json(event_frame(recorded(SAMPLES["LabelCreated"][0])))
    assert (created["change"], created["label_id"], created["name"], created["colour"]) == (
        "LabelCreated",
        "vip",
        "VIP",
        "#ff0000",
    )
    changed = as_json(event_frame(recorded(SAMPLES["LabelChanged"][0])))
    assert (changed["name"], changed["colour"]) == (None, "#00ff00")


def test_a_canned_responses_frame_says_which_changed_never_its_content() -> None:
    for name in ("CannedResponseCreated", "CannedResponseChanged", "CannedResponseDeleted"):
        frame = as_json(event_frame(recorded(SAMPLES[name][0])))
        assert frame["response_id"] == str(RESPONSE_ID) and frame["change"] == name
        assert "Thank" not in json.dumps(frame) and "thanks" not in json.dumps(frame)
    created = as_json(event_frame(recorded(SAMPLES["CannedResponseCreated"][0])))
    assert created["owner_id"] == "bob"


def test_notifications_read() -> None:
    frame = as_json(event_frame(recorded(SAMPLES["NotificationsRead"][0], position=9)))
    assert frame == {
        "type": "NOTIFICATIONS_READ",
        "position": 9,
        "at": "2026-01-01T00:00:00Z",
        "agent_id": "bob",
        "up_to_position": 7,
        "note_ids": [str(NOTE_ID)],
    }


# -- who gets what -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_client_never_gets_a_staff_only_frame_and_staff_get_every_conversation_frame(
    name: str,
) -> None:
    data, tag = SAMPLES[name]
    event = recorded(data)
    frame = event_frame(event, named())
    for_client = audience.for_viewer(CAROL, event, frame)
    if tag in STAFF_ONLY_FRAMES:
        assert for_client is None
    elif tag not in INBOX_ONLY_FRAMES:  # (clients cannot open the inbox)
        assert for_client is not None and for_client.__struct_config__.tag == tag
    if tag != "NOTIFICATIONS_READ":
        assert audience.for_viewer(ADMIN, event, frame) == frame
        assert audience.for_viewer(BOB, event, frame) == frame


def test_a_read_mark_of_notifications_goes_to_its_own_agent_only() -> None:
    event = recorded(SAMPLES["NotificationsRead"][0])
    frame = event_frame(event)
    assert audience.for_viewer(BOB, event, frame) == frame
    assert audience.for_viewer(ADMIN, event, frame) is None


def test_the_mentioned_agent_and_no_one_else_gets_a_notification() -> None:
    event = recorded(NOTE, position=42)
    notification = audience.notification(BOB, event, named())
    assert notification is not None
    assert as_json(notification) == {
        "type": "NOTIFICATION",
        "note_id": str(NOTE_ID),
        "conversation_id": str(CID),
        "author_id": "alice",
        "author_name": "Alice Martin",
        "excerpt": "Refund approved, @bob please send the label",
        "position": 42,
        "at": "2026-01-01T00:00:00Z",
    }
    assert audience.notification(ADMIN, event, named()) is None
    assert audience.notification(CAROL, event, named()) is None
    other = recorded(SAMPLES["ConversationLabelled"][0])
    assert audience.notification(BOB, other, named()) is None


def test_a_long_note_is_quoted_short() -> None:
    long = audience.excerpt("word " * 100)
    assert len(long) == audience.EXCERPT_LENGTH and long.endswith("…")
    assert audience.excerpt("  short\nnote ") == "short note"


CONVERSATION_SAMPLES = sorted(
    name for name, (data, tag) in SAMPLES.items() if tag not in INBOX_ONLY_FRAMES
)


@given(st.lists(st.sampled_from(CONVERSATION_SAMPLES), max_size=30))
def test_a_clients_view_of_any_conversation_has_no_note_and_every_other_event(
    names: list[str],
) -> None:
    """Whatever a conversation's stream holds, a client's socket gets a frame
    for each event but the staff-only ones, at their positions (which skip
    the notes and labels), and staff get one for every event."""
    events = [recorded(SAMPLES[name][0], position) for position, name in enumerate(names, 1)]
    directory = named()
    for_client = [audience.for_viewer(CAROL, e, event_frame(e, directory)) for e in events]
    seen = [(e.stream_position, f) for e, f in zip(events, for_client, strict=True) if f]
    assert not STAFF_ONLY_FRAMES & {f.__struct_config__.tag for _, f in seen}
    assert [p for p, _ in seen] == [
        e.stream_position for e in events if not isinstance(e.data, STAFF_ONLY_EVENTS)
    ]
    assert all(audience.for_viewer(BOB, e, event_frame(e, directory)) for e in events)
