"""What the notifications and timeline-entries projections write for each
event (their statements; the SQL itself runs in the integration tests)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
import pytest

from events.catalogue import (
    AnyEvent,
    AssignReason,
    ConversationAssigned,
    ConversationLabelled,
    ConversationMerged,
    ConversationMergedIn,
    ConversationSnoozed,
    ConversationStatusChanged,
    ConversationUnassigned,
    ConversationUnlabelled,
    ConversationWoke,
    MessageSent,
    NoteAdded,
    NotificationsRead,
    Side,
    Status,
    WakeReason,
    event_type,
)
from events.envelope import Metadata, RecordedEvent
from projections.notifications import EXCERPT_LENGTH, NotificationsProjection
from projections.timeline_entries import TimelineEntriesProjection

CID = uuid.UUID("00000000-0000-4000-8000-0000000000aa")
OTHER = uuid.UUID("00000000-0000-4000-8000-0000000000bb")
NOTE = uuid.UUID("00000000-0000-4000-8000-0000000000cc")
AT = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def recorded(event: AnyEvent, position: int = 7, actor: str | None = "alice") -> RecordedEvent:
    return RecordedEvent(
        global_position=position,
        stream_id=f"conversation-{CID}",
        stream_position=3,
        event_id=uuid.uuid4(),
        type=event_type(event),
        data=event,
        metadata=Metadata(actor_id=actor),
        recorded_at=AT,
    )


def note(content: str = "see @ben", mentions: tuple[str, ...] = ("ben",)) -> NoteAdded:
    return NoteAdded(
        conversation_id=CID, note_id=NOTE, author_id="ann", content=content, mentions=mentions
    )


# -- notifications ---------------------------------------------------------------------


def test_a_note_notifies_each_mentioned_agent_with_an_excerpt() -> None:
    long = "x" * (EXCERPT_LENGTH + 60)

    ((_, args),) = NotificationsProjection().statements(recorded(note(long, ("ben", "cy"))))

    assert args == (["ben", "cy"], NOTE, CID, "ann", "x" * EXCERPT_LENGTH, AT, 7)


def test_a_note_without_mentions_notifies_nobody() -> None:
    assert NotificationsProjection().statements(recorded(note(mentions=()))) == []


def test_a_read_covers_a_position_or_notes() -> None:
    projection = NotificationsProjection()
    by_position = NotificationsRead(agent_id="ben", up_to_position=40)
    by_id = NotificationsRead(agent_id="ben", note_ids=(NOTE,))

    ((sql, args),) = projection.statements(recorded(by_position, 50))
    ((same_sql, id_args),) = projection.statements(recorded(by_id, 51))

    assert sql == same_sql  # one statement text: a run of reads is one executemany
    assert args == ("ben", 40, [], AT)
    assert id_args == ("ben", None, [NOTE], AT)


# -- timeline entries ------------------------------------------------------------------


def test_a_note_is_an_entry_with_its_author_text_and_mentions() -> None:
    ((_, args),) = TimelineEntriesProjection().statements(recorded(note()))

    position, cid, kind, type_, author, note_id, content, details, at = args
    assert (position, cid, kind, type_, author, note_id, content, at) == (
        7, CID, "note", "NoteAdded", "ann", NOTE, "see @ben", AT,
    )  # fmt: skip
    assert msgspec.json.decode(details) == {"mentions": ["ben"]}


UNTIL = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
SYSTEM = [
    (
        ConversationStatusChanged(
            conversation_id=CID, from_status=Status.ACTIVE, to_status=Status.CLOSED, reason="done"
        ),
        "alice",
        {"from": "active", "to": "closed", "reason": "done"},
    ),
    (
        ConversationSnoozed(conversation_id=CID, until=UNTIL, from_status=Status.ACTIVE, by="bo"),
        "bo",
        {"until": "2026-12-04T09:00:00Z", "from_status": "active"},
    ),
    (
        ConversationWoke(conversation_id=CID, reason=WakeReason.TIMER),
        "alice",
        {"reason": "timer"},
    ),
    (
        ConversationAssigned(conversation_id=CID, agent_id="ann", team_id="t", by="router",
                             reason=AssignReason.ROUTER),
        "router",
        {"agent_id": "ann", "team_id": "t", "reason": "router"},
    ),
    (
        ConversationUnassigned(conversation_id=CID, agent_id="ann", by="bo"),
        "bo",
        {"agent_id": "ann", "team_id": None, "reason": "manual"},
    ),
    (
        ConversationMerged(conversation_id=CID, into=OTHER, up_to_seq=4, by="bo"),
        "bo",
        {"into": str(OTHER), "up_to_seq": 4},
    ),
    (
        ConversationMergedIn(conversation_id=CID, source_id=OTHER, message_count=4, by="bo"),
        "bo",
        {"source_id": str(OTHER), "message_count": 4},
    ),
    (ConversationLabelled(conversation_id=CID, label_id="vip", by="bo"), "bo", {"label_id": "vip"}),
    (
        ConversationUnlabelled(conversation_id=CID, label_id="vip", by="bo"),
        "bo",
        {"label_id": "vip"},
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("event", "by", "details"), SYSTEM, ids=[event_type(e) for e, *_ in SYSTEM]
)
def test_a_system_entry_keeps_the_event_type_who_caused_it_and_its_fields(
    event: AnyEvent, by: str, details: dict[str, object]
) -> None:
    ((_, args),) = TimelineEntriesProjection().statements(recorded(event))

    position, cid, kind, type_, author, note_id, content, stored, at = args
    assert (position, cid, kind, type_, author, note_id, content, at) == (
        7, CID, "system", event_type(event), by, None, None, AT,
    )  # fmt: skip
    assert msgspec.json.decode(stored) == details


def test_messages_are_no_entries() -> None:
    sent = MessageSent(
        conversation_id=CID, message_id=NOTE, seq=1, sender=Side.CLIENT, sender_id="c", content="hi"
    )
    assert TimelineEntriesProjection().statements(recorded(sent)) == []
    assert NotificationsProjection().statements(recorded(sent)) == []
