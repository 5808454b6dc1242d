"""The support workflow's conversation events: private notes, labels,
snooze and merge (issue 17). Re-exported by :mod:`events.catalogue`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from events.fields import (
    Content,
    ConversationEvent,
    LabelId,
    NonEmptyId,
    StaffId,
    Status,
    WakeReason,
)


class NoteAdded(ConversationEvent, tag="NoteAdded", frozen=True, kw_only=True):
    """A private note between staff: never shown to the client. ``mentions``
    are the agents it names (each is notified)."""

    note_id: UUID
    author_id: NonEmptyId
    content: Content
    mentions: tuple[StaffId, ...] = ()


class ConversationLabelled(
    ConversationEvent, tag="ConversationLabelled", frozen=True, kw_only=True
):
    label_id: LabelId
    by: NonEmptyId


class ConversationUnlabelled(
    ConversationEvent, tag="ConversationUnlabelled", frozen=True, kw_only=True
):
    label_id: LabelId
    by: NonEmptyId


class ConversationSnoozed(ConversationEvent, tag="ConversationSnoozed", frozen=True, kw_only=True):
    """Status ``snoozed`` until ``until`` (or the client's next message).
    ``from_status`` is the status it had (``snoozed`` again: a new ``until``)."""

    until: datetime
    from_status: Status
    by: NonEmptyId


class ConversationWoke(ConversationEvent, tag="ConversationWoke", frozen=True, kw_only=True):
    """A snoozed conversation is active again."""

    reason: WakeReason


class ConversationMerged(ConversationEvent, tag="ConversationMerged", frozen=True, kw_only=True):
    """This conversation (the source) is merged into ``into`` and closed for
    good: its messages up to ``up_to_seq`` are copied into the target (see
    ConversationMergedIn); it takes no new message."""

    into: UUID
    up_to_seq: Annotated[int, msgspec.Meta(ge=0)]
    by: NonEmptyId


class ConversationMergedIn(
    ConversationEvent, tag="ConversationMergedIn", frozen=True, kw_only=True
):
    """The target's side of a merge: the ``message_count`` MessageSent events
    that follow it (``merged_from`` set) are ``source_id``'s messages."""

    source_id: UUID
    message_count: Annotated[int, msgspec.Meta(ge=0)]
    by: NonEmptyId
