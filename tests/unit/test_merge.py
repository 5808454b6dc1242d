"""Merging two conversations of one client, decided by the pure decider:

- Hypothesis: for random histories (messages from the client, two staff
  members and the system; reads by each), step 1 on the source, ``copies``
  and step 2 on the target keep every message exactly once in the target's
  view (its own, then one copy of each of the source's in the source's
  order, each naming its origin), move the source's unread to the target
  exactly, and leave the source refusing messages with the target's name;
  also when the source had a conversation merged into it first.
- The rules of each step, and what a merge changes outside the decider
  (the idempotency digest, the router's board).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands import errors
from commands.decider import decide, evolve, fold
from commands.idempotency import command_digest
from commands.merge import copies
from commands.model import (
    INITIAL_STATE,
    Actor,
    AnyCommand,
    ChangeStatus,
    DeleteConversation,
    ImportMerged,
    MarkRead,
    MergeConversation,
    MergeTarget,
    Role,
    SendMessage,
    StartConversation,
)
from commands.routing import Board, evolve_board
from events.catalogue import (
    AnyEvent,
    Channel,
    Client,
    ConversationMerged,
    ConversationMergedIn,
    ConversationStarted,
    MessageSent,
    Priority,
    Side,
    Status,
)
from events.envelope import Metadata, RecordedEvent

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
ALICE = Actor(id="alice", role=Role.ADMIN)
BOB = Actor(id="bob", role=Role.AGENT)
CAROL = Actor(id="carol", role=Role.CLIENT, client_id="c-1")
SENDERS = (ALICE, BOB, CAROL)


class Conversation:
    """One conversation: its state and its events, each with when it happened."""

    def __init__(self, client_id: str = "c-1") -> None:
        self.id = uuid.uuid4()
        self.state = INITIAL_STATE
        self.events: list[tuple[AnyEvent, datetime]] = []
        client = Client(id=client_id, name="Carol")
        self.run(StartConversation(conversation_id=self.id, client=client, channel=Channel.WEB))

    def run(self, command: AnyCommand, actor: Actor = ALICE) -> list[AnyEvent]:
        events = decide(self.state, command, actor, uuid.uuid4, NOW)
        for event in events:
            self.state = evolve(self.state, event)
            self.events.append((event, NOW + timedelta(seconds=len(self.events))))
        return list(events)

    def messages(self) -> list[MessageSent]:
        return [e for e, _ in self.events if isinstance(e, MessageSent)]

    def sent(self) -> list[tuple[MessageSent, datetime]]:
        return [(e, at) for e, at in self.events if isinstance(e, MessageSent)]

    def target(self) -> MergeTarget:
        s = self.state
        return MergeTarget(client_id=s.client_id, status=s.status, merged_into=s.merged_into)


def merge(source: Conversation, target: Conversation) -> None:
    """Both steps, as the merge service runs them."""
    before = source.state
    source.run(MergeConversation(conversation_id=source.id, into=target.id, target=target.target()))
    moved = copies(before, source.sent())
    target.run(ImportMerged(conversation_id=target.id, source_id=source.id, messages=moved))


# A history: each step sends a message (by the client, a staff member or the
# system) or marks read (by one of them, up to a fraction of the messages).
steps = st.lists(
    st.tuples(
        st.sampled_from(["send", "system", "read"]),
        st.sampled_from(SENDERS),
        st.floats(0, 1),
    ),
    max_size=25,
)


def play(conversation: Conversation, history: Sequence[tuple[str, Actor, float]]) -> None:
    for kind, actor, fraction in history:
        cid = conversation.id
        if kind == "send":
            conversation.run(SendMessage(conversation_id=cid, content="hi"), actor)
        elif kind == "system":
            conversation.run(SendMessage(conversation_id=cid, content="x", sender=Side.SYSTEM))
        elif last := conversation.state.last_seq:
            up_to = max(1, round(fraction * last))
            conversation.run(MarkRead(conversation_id=cid, up_to_seq=up_to), actor)


@settings(max_examples=300, deadline=None)
@given(target_history=steps, source_history=steps, earlier_history=st.none() | steps)
def test_a_merge_keeps_every_message_once_and_every_unread(
    target_history: list[tuple[str, Actor, float]],
    source_history: list[tuple[str, Actor, float]],
    earlier_history: list[tuple[str, Actor, float]] | None,
) -> None:
    target, source = Conversation(), Conversation()
    play(target, target_history)
    play(source, source_history)
    if earlier_history is not None:  # the source had a conversation merged into it first
        earlier = Conversation()
        play(earlier, earlier_history)
        merge(earlier, source)
        play(source, source_history[:3])
    own, theirs = target.messages(), source.messages()
    staff_unread = len(target.state.unread_for_staff) + len(source.state.unread_for_staff)
    client_unread = len(target.state.unread_for_client) + len(source.state.unread_for_client)

    merge(source, target)

    after = target.messages()
    # Every message exactly once: the target's own, then one copy of each of
    # the source's, in the source's order, each naming where it came from.
    assert after[: len(own)] == own
    copied = after[len(own) :]
    assert [m.seq for m in after] == list(range(1, len(after) + 1))
    assert [(c.merged_from and c.merged_from.message_id) for c in copied] == [
        m.message_id for m in theirs
    ]
    for copy, original in zip(copied, theirs, strict=True):
        assert copy.merged_from is not None
        assert (copy.merged_from.conversation_id, copy.merged_from.seq) == (source.id, original.seq)
        assert (copy.sender, copy.sender_id, copy.content) == (
            original.sender,
            original.sender_id,
            original.content,
        )
    assert len({m.message_id for m in after}) == len(after)
    # Unread counts exact: the source's unread moved to the target.
    assert len(target.state.unread_for_staff) == staff_unread
    assert len(target.state.unread_for_client) == client_unread
    assert (source.state.unread_for_staff, source.state.unread_for_client) == ((), ())
    # The one-pass fold agrees with event-by-event evolve, on both sides.
    for side in (source, target):
        assert fold(INITIAL_STATE, (e for e, _ in side.events)) == side.state
    # The source refuses messages, naming the target; step 2 again is a no-op.
    with pytest.raises(errors.ConversationWasMerged) as refused:
        source.run(SendMessage(conversation_id=source.id, content="late"), CAROL)
    assert refused.value.details == {"into": str(target.id)}
    again = ImportMerged(
        conversation_id=target.id, source_id=source.id, messages=copies(source.state, source.sent())
    )
    assert target.run(again) == []


def test_step_one_closes_the_source_and_points_at_the_target() -> None:
    target, source = Conversation(), Conversation()
    source.run(SendMessage(conversation_id=source.id, content="one"), CAROL)
    command = MergeConversation(conversation_id=source.id, into=target.id, target=target.target())
    [merged] = source.run(command, BOB)
    assert merged == ConversationMerged(
        conversation_id=source.id, into=target.id, up_to_seq=1, by="bob"
    )
    assert (source.state.status, source.state.merged_into) == (Status.CLOSED, target.id)
    # Asked again (a retry): so already; into another one: refused.
    assert source.run(command, BOB) == []
    with pytest.raises(errors.ConversationWasMerged):
        source.run(MergeConversation(conversation_id=source.id, into=uuid.uuid4()), BOB)
    # Reading it is still allowed; reopening it is not.
    source.run(MarkRead(conversation_id=source.id), CAROL)
    with pytest.raises(errors.ConversationWasMerged):
        source.run(ChangeStatus(conversation_id=source.id, status=Status.ACTIVE))


@pytest.mark.parametrize(
    ("prepare", "refusal"),
    [
        ("itself", errors.InvalidCommand),
        ("other_client", errors.InvalidCommand),
        ("closed", errors.ConversationClosed),
        ("deleted", errors.ConversationNotFound),
        ("missing", errors.ConversationNotFound),
        ("merged", errors.ConversationWasMerged),
    ],
)
def test_step_one_refuses(prepare: str, refusal: type[errors.DomainError]) -> None:
    source = Conversation()
    target = Conversation("c-2" if prepare == "other_client" else "c-1")
    if prepare == "closed":
        target.run(ChangeStatus(conversation_id=target.id, status=Status.CLOSED))
    if prepare == "deleted":
        target.run(DeleteConversation(conversation_id=target.id))
    if prepare == "merged":
        merge(target, Conversation())
    into = source.id if prepare == "itself" else target.id
    known = None if prepare == "missing" else target.target()
    if prepare == "deleted":
        known = MergeTarget(client_id="c-1", status=Status.ACTIVE, deleted=True)
    with pytest.raises(refusal):
        source.run(MergeConversation(conversation_id=source.id, into=into, target=known))
    assert source.state.merged_into is None


def test_only_staff_merge() -> None:
    target, source = Conversation(), Conversation()
    command = MergeConversation(conversation_id=source.id, into=target.id, target=target.target())
    with pytest.raises(errors.Forbidden):
        source.run(command, CAROL)
    with pytest.raises(errors.Forbidden):
        target.run(ImportMerged(conversation_id=target.id, source_id=source.id), CAROL)


def test_step_two_lands_on_a_target_closed_or_deleted_meanwhile_not_on_one_merged_on() -> None:
    for change in ("close", "delete"):
        target, source = Conversation(), Conversation()
        source.run(SendMessage(conversation_id=source.id, content="one"), CAROL)
        before = source.state
        source.run(
            MergeConversation(conversation_id=source.id, into=target.id, target=target.target())
        )
        if change == "close":
            target.run(ChangeStatus(conversation_id=target.id, status=Status.CLOSED))
        else:
            target.run(DeleteConversation(conversation_id=target.id))
        moved = copies(before, source.sent())
        step_two = ImportMerged(conversation_id=target.id, source_id=source.id, messages=moved)
        assert [type(e) for e in target.run(step_two)] == [ConversationMergedIn, MessageSent]
    target, source, onward = Conversation(), Conversation(), Conversation()
    source.run(MergeConversation(conversation_id=source.id, into=target.id, target=target.target()))
    merge(target, onward)
    with pytest.raises(errors.ConversationWasMerged) as went:
        target.run(ImportMerged(conversation_id=target.id, source_id=source.id))
    assert went.value.into == onward.id


def test_a_copy_of_a_copy_keeps_its_first_sending_time_and_its_read_state() -> None:
    first, middle, last = Conversation(), Conversation(), Conversation()
    first.run(SendMessage(conversation_id=first.id, content="early"), CAROL)
    first.run(MarkRead(conversation_id=first.id), BOB)
    merge(first, middle)
    merge(middle, last)
    [copy] = last.messages()
    assert copy.merged_from is not None
    assert copy.merged_from.conversation_id == middle.id
    assert copy.merged_from.sent_at == first.sent()[0][1]
    assert copy.merged_from.read_by_staff
    assert last.state.unread_for_staff == ()


def test_the_digest_of_a_merge_is_what_was_asked_not_the_target_read() -> None:
    into = uuid.uuid4()
    asked = MergeConversation(conversation_id=uuid.uuid4(), into=into, command_id="m-1")
    open_ = msgspec.structs.replace(
        asked, target=MergeTarget(client_id="c-1", status=Status.ACTIVE)
    )
    closed = msgspec.structs.replace(asked, target=MergeTarget(client_id="c", status=Status.CLOSED))
    assert command_digest(open_) == command_digest(closed) == command_digest(asked)
    assert command_digest(asked) != command_digest(
        MergeConversation(conversation_id=asked.conversation_id, into=uuid.uuid4())
    )


def test_the_router_sees_a_merged_conversation_as_closed() -> None:
    cid = uuid.uuid4()
    board = Board()
    for n, data in enumerate(
        [
            ConversationStarted(
                conversation_id=cid,
                client=Client(id="c-1", name="Carol"),
                channel=Channel.WEB,
                priority=Priority.LOW,
                status=Status.ACTIVE,
                team_id="support",
            ),
            ConversationMerged(conversation_id=cid, into=uuid.uuid4(), up_to_seq=0, by="ann"),
        ],
        start=1,
    ):
        evolve_board(board, recorded(data, n))
    assert not board.tickets[cid].open


def recorded(data: AnyEvent, n: int) -> RecordedEvent:
    return RecordedEvent(
        global_position=n,
        stream_id="s",
        stream_position=n,
        event_id=uuid.uuid4(),
        type=type(data).__name__,
        data=data,
        metadata=Metadata(),
        recorded_at=NOW,
    )
