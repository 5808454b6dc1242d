"""What a client sends: one tagged union, JSON, tag field ``type``
(re-exported by :mod:`ws_edge.frames`; docs/PROTOCOL.md, "Client → server")."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec

from commands.model import CommandId
from events.catalogue import Attachment, Content, MessageType, NonEmptyId, StaffId

Ref = Annotated[str, msgspec.Meta(max_length=100)]


class ClientFrame(
    msgspec.Struct, tag_field="type", frozen=True, kw_only=True, forbid_unknown_fields=False
):
    """Base of what a client sends. ``ref`` (optional) comes back on the ACK
    or ERROR the frame causes."""

    ref: Ref | None = None


SeenVersion = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]


class SendMessageFrame(ClientFrame, tag="SEND_MESSAGE", frozen=True, kw_only=True):
    content: Content
    message_type: MessageType = MessageType.TEXT
    attachment: Attachment | None = None
    client_message_id: NonEmptyId | None = None
    seen_version: SeenVersion | None = None
    """The conversation version the sender last saw (the stale-action guard)."""


class TypingStartFrame(ClientFrame, tag="TYPING_START", frozen=True, kw_only=True):
    pass


class TypingStopFrame(ClientFrame, tag="TYPING_STOP", frozen=True, kw_only=True):
    pass


class MarkReadFrame(ClientFrame, tag="MARK_READ", frozen=True, kw_only=True):
    up_to_seq: Annotated[int, msgspec.Meta(ge=1)] | None = None
    seen_version: SeenVersion | None = None


class PingFrame(ClientFrame, tag="PING", frozen=True, kw_only=True):
    pass


class SubscribeFrame(ClientFrame, tag="SUBSCRIBE", frozen=True, kw_only=True):
    """Inbox only: also send this conversation's TYPING frames (say, for the
    rows on screen). Events and PRESENCE come for every conversation anyway."""

    conversation_id: UUID


class UnsubscribeFrame(ClientFrame, tag="UNSUBSCRIBE", frozen=True, kw_only=True):
    conversation_id: UUID


MAX_MENTIONS = 50
"""Explicit mentions an ADD_NOTE may carry."""


class AddNoteFrame(ClientFrame, tag="ADD_NOTE", frozen=True, kw_only=True):
    """Staff only: a private note. On a conversation socket, its conversation
    (``conversation_id`` may be left out); on the inbox, ``conversation_id``
    says which. ``mentions``: agent ids to notify, besides those its
    ``@name``s name. ``command_id``: a retry with it stores nothing twice."""

    conversation_id: UUID | None = None
    content: Content
    mentions: Annotated[tuple[StaffId, ...], msgspec.Meta(max_length=MAX_MENTIONS)] = ()
    command_id: CommandId | None = None


AnyClientFrame = (
    SendMessageFrame
    | TypingStartFrame
    | TypingStopFrame
    | MarkReadFrame
    | PingFrame
    | SubscribeFrame
    | UnsubscribeFrame
    | AddNoteFrame
)

decode_client_frame = msgspec.json.Decoder(AnyClientFrame).decode
