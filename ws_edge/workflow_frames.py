"""The support workflow's frames (issue 17): notes and their notifications,
labels, merges, and the account-wide catalogues (re-exported by
:mod:`ws_edge.frames`). Snoozing and waking are STATUS_CHANGED frames; a
merged-in message is a MESSAGE_CREATED with ``merged_from``.

Who gets which is ``ws_edge.audience``'s to say: NOTE_ADDED, LABELLED and
UNLABELLED are for staff only, and so are the frames that are not a
conversation's (CATALOGUE_CHANGED, NOTIFICATION, NOTIFICATIONS_READ: inbox
sockets, which only staff may open).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ws_edge.server_frames import EventFrame, ServerFrame


class NoteAdded(EventFrame, tag="NOTE_ADDED", frozen=True, kw_only=True):
    """Staff only: a private note. ``mentions`` are the agent ids it notifies."""

    note_id: UUID
    author_id: str
    author_name: str | None
    content: str
    mentions: list[str]


class Labelled(EventFrame, tag="LABELLED", frozen=True, kw_only=True):
    """Staff only: ``by`` put the label ``label_id`` on the conversation."""

    label_id: str
    by: str


class Unlabelled(EventFrame, tag="UNLABELLED", frozen=True, kw_only=True):
    """Staff only: ``by`` took the label ``label_id`` off the conversation."""

    label_id: str
    by: str


class Merged(EventFrame, tag="MERGED", frozen=True, kw_only=True):
    """On the source: it is merged into ``into`` and closed for good (it
    takes no new message); its messages up to ``up_to_seq`` are copied there."""

    into: UUID
    up_to_seq: int


class MergedIn(EventFrame, tag="MERGED_IN", frozen=True, kw_only=True):
    """On the target: the next ``message_count`` MESSAGE_CREATED frames are
    ``source_id``'s messages (each with ``merged_from``)."""

    source_id: UUID
    message_count: int


class CatalogueChanged(ServerFrame, tag="CATALOGUE_CHANGED", frozen=True, kw_only=True):
    """Inbox sockets (staff) only: the label catalogue or the canned
    responses changed. ``change`` is the event type. A label's frame carries
    its fields (``name``, ``colour``: null when unchanged); a canned
    response's only its id (and, when created, ``owner_id``, null: shared):
    an agent's own responses are theirs, so read ``GET /api/canned-responses``."""

    position: int
    at: datetime
    change: str
    label_id: str | None = None
    name: str | None = None
    colour: str | None = None
    response_id: UUID | None = None
    owner_id: str | None = None


class AttachmentChanged(ServerFrame, tag="ATTACHMENT_CHANGED", frozen=True, kw_only=True):
    """Inbox sockets (staff) only: a file was uploaded for a conversation
    (``change`` ``AttachmentUploaded``: its ``name``, ``mime_type``,
    ``size``), or an uploaded image was checked (``ImageChecked``:
    ``thumbnail`` true when it has one, ``problem`` when it is not a valid
    image). Messages carry their attachment themselves (MESSAGE_CREATED)."""

    position: int
    at: datetime
    change: str
    attachment_id: UUID
    conversation_id: UUID
    name: str | None = None
    mime_type: str | None = None
    size: int | None = None
    thumbnail: bool | None = None
    problem: str | None = None


class ClientErased(ServerFrame, tag="CLIENT_ERASED", frozen=True, kw_only=True):
    """Inbox sockets (staff) only: a client was erased (docs/PRIVACY.md).
    Their conversations' personal data (names, messages, notes, files) now
    read as ``[erased]``: refetch what you show of ``conversation_ids``."""

    position: int
    at: datetime
    client_id: str
    conversation_ids: list[UUID]


class Notification(ServerFrame, tag="NOTIFICATION", frozen=True, kw_only=True):
    """To the mentioned agent's inbox sockets only, right after the
    NOTE_ADDED that mentions them (``position`` is the note's)."""

    note_id: UUID
    conversation_id: UUID
    author_id: str
    author_name: str | None
    excerpt: str
    position: int
    at: datetime


class NotificationsRead(ServerFrame, tag="NOTIFICATIONS_READ", frozen=True, kw_only=True):
    """To that agent's own inbox sockets only: their notifications up to
    ``up_to_position`` (a note's position), or those of ``note_ids``, are read."""

    position: int
    at: datetime
    agent_id: str
    up_to_position: int | None
    note_ids: list[UUID]
