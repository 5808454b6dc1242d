"""What a projection reads of personal data (``reads_personal``): a rebuild
opens only those events, so a projection must name every event whose
personal fields its statements use. Checked against every projection Parley
keeps: for any page, opening only what it names gives the same SQL as
opening everything."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from itertools import count

from hypothesis import given, settings
from hypothesis import strategies as st

from events import sealing
from events.attachment_events import AttachmentUploaded
from events.catalogue import (
    AnyEvent,
    ConversationAssigned,
    ConversationStarted,
    ConversationStatusChanged,
    ConversationUpdated,
    MessageSent,
    MessagesRead,
    NoteAdded,
)
from events.envelope import Metadata, RecordedEvent
from events.fields import Attachment, Channel, Client, Priority, Side, Status
from parley.worker import projections
from projections.base import Projection, needed_by, runs

CONVERSATIONS = [uuid.UUID(int=n) for n in (1, 2, 3)]
SEALED = sealing.Sealed(key=uuid.UUID(int=9), version=1, box=b"box", fields=True)
_texts = count()


def _text() -> str:
    return f"personal text {next(_texts)}"


def _event(kind: str, conversation: uuid.UUID, side: Side) -> AnyEvent:
    """One event of ``kind`` in ``conversation``, its personal texts unique."""
    if kind == "start":
        client = Client(id=f"client-{conversation.int}", name=_text())
        return ConversationStarted(
            conversation_id=conversation,
            client=client,
            channel=Channel.WEB,
            priority=Priority.LOW,
            status=Status.ACTIVE,
            summary=_text(),
        )
    if kind == "update":
        return ConversationUpdated(conversation_id=conversation, summary=_text())
    if kind == "status":
        return ConversationStatusChanged(
            conversation_id=conversation,
            from_status=Status.ACTIVE,
            to_status=Status.CLOSED,
            reason=_text(),
        )
    if kind == "message":
        return MessageSent(
            conversation_id=conversation,
            message_id=uuid.uuid4(),
            seq=next(_texts),
            sender=side,
            sender_id="client-1" if side is Side.CLIENT else "alice",
            content=_text(),
            attachment=Attachment(url=f"https://files.example/{_text()}", name=_text()),
        )
    if kind == "note":
        return NoteAdded(
            conversation_id=conversation,
            note_id=uuid.uuid4(),
            author_id="alice",
            content=_text(),
            mentions=("bob",),
        )
    if kind == "upload":
        return AttachmentUploaded(
            attachment_id=uuid.uuid4(),
            conversation_id=conversation,
            uploader_id="client-1",
            uploader_side=Side.CLIENT,
            sha256="ab" * 32,
            size=10,
            mime_type="application/pdf",
            name=_text(),
        )
    if kind == "read":
        return MessagesRead(conversation_id=conversation, reader=side, reader_id="x", up_to_seq=1)
    return ConversationAssigned(conversation_id=conversation, agent_id="alice", by="bob")


KINDS = ["start", "update", "status", "message", "note", "upload", "read", "assign"]
pages = st.lists(
    st.tuples(
        # Messages weighted up: runs of them are what the inbox folds.
        st.sampled_from([*KINDS, "message", "message", "message"]),
        st.sampled_from(CONVERSATIONS),
        st.sampled_from([Side.CLIENT, Side.ADMIN]),
    ),
    min_size=1,
    max_size=40,
)


def _recorded(position: int, data: AnyEvent, *, shut: bool) -> RecordedEvent:
    personal = sealing.personal(data)
    return RecordedEvent(
        global_position=position,
        stream_id=f"conversation-{position}",
        stream_position=position,
        event_id=uuid.UUID(int=position),
        type=type(data).__struct_config__.tag,  # type: ignore[arg-type]
        data=sealing.redact(data) if shut else data,
        metadata=Metadata(actor_id="alice"),
        recorded_at=datetime(2026, 12, 4, tzinfo=UTC),
        sealed=SEALED if personal else None,
    )


def _sql(projection: Projection, page: list[RecordedEvent]) -> list[object]:
    return [s for run in runs(page) for s in projection.run_statements(run)]


@settings(max_examples=300, deadline=None)
@given(pages)
def test_opening_only_what_a_projection_names_gives_the_same_sql_as_opening_all(
    spec: list[tuple[str, uuid.UUID, Side]],
) -> None:
    events = [_event(kind, conversation, side) for kind, conversation, side in spec]
    opened = [_recorded(n, e, shut=False) for n, e in enumerate(events, 1)]
    shut = [_recorded(n, e, shut=True) for n, e in enumerate(events, 1)]
    for projection in projections():
        wanted = {e.global_position for e in needed_by(projection)(shut)}
        partly = [
            o if o.global_position in wanted else s for o, s in zip(opened, shut, strict=True)
        ]
        assert _sql(projection, partly) == _sql(projection, opened), projection.name


def test_a_projection_that_reads_no_personal_field_opens_nothing() -> None:
    events = [_event(kind, CONVERSATIONS[0], Side.CLIENT) for kind in KINDS]
    shut = [_recorded(n, e, shut=True) for n, e in enumerate(events, 1)]
    opens = {p.name: len(list(needed_by(p)(shut))) for p in projections()}
    assert opens["staff"] == opens["catalogues"] == opens["merges"] == 0
    assert opens["inbox"] < len(shut)


def test_of_a_run_of_messages_the_inbox_opens_each_conversations_last() -> None:
    first, second = CONVERSATIONS[:2]
    events = [_event("message", c, Side.CLIENT) for c in (first, second, first, first, second)]
    shut = [_recorded(n, e, shut=True) for n, e in enumerate(events, 1)]
    [inbox] = [p for p in projections() if p.name == "inbox"]
    assert sorted(e.global_position for e in needed_by(inbox)(shut)) == [4, 5]
