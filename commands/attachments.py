"""Attachments, the pure part: an upload's stream (``attachment-<id>``), its
state, who may upload and fetch, and a message's reference to an upload.

- **Uploading** is writing to the conversation: whoever may write to it
  (``commands.access.can_upload``), while it is open, not deleted, not merged.
- **Fetching** is seeing the conversation the file was uploaded for
  (``can_download``), whichever message shows it.
- **A message** of type ``image`` or ``file`` may carry
  ``attachment: {"attachment_id": …}``: the upload must be for the same
  conversation (else ``attachment_not_found``, as if there were none), an
  ``image`` message needs an image, and an image found invalid cannot be
  sent. Its name, type and size are the upload's, whatever the sender says.

No I/O: the service (:mod:`commands.attachment_service`) reads and appends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from msgspec.structs import replace

from commands import access, errors
from commands.attachment_types import IMAGES
from commands.model import Actor, ConversationState, SendMessage
from events.attachment_events import AttachmentUploaded, ImageChecked
from events.catalogue import Attachment, Event, MessageType, Status

STREAM_PREFIX: Final = "attachment-"
MAX_NAME: Final = 200
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
_EXTENSIONS: Final = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "text/plain": "txt",
}


def stream_id(attachment_id: UUID) -> str:
    return f"{STREAM_PREFIX}{attachment_id}"


@dataclass(frozen=True)
class AttachmentState:
    """An upload as its stream tells it (``uploaded`` None: no such upload)."""

    uploaded: AttachmentUploaded | None = None
    checked: ImageChecked | None = None

    @property
    def is_image(self) -> bool:
        return self.uploaded is not None and self.uploaded.mime_type in IMAGES

    @property
    def problem(self) -> str | None:
        """Why the image is not served (it did not decode), if so."""
        return self.checked.problem if self.checked else None

    @property
    def status(self) -> str:
        """``ready`` (a file, or a checked image), ``checking`` (an image the
        worker has not decoded yet) or ``rejected`` (not a valid image)."""
        if not self.is_image:
            return "ready"
        if self.checked is None:
            return "checking"
        return "rejected" if self.checked.problem else "ready"


def fold(events: Iterable[Event]) -> AttachmentState:
    state = AttachmentState()
    for event in events:
        if isinstance(event, AttachmentUploaded):
            state = AttachmentState(uploaded=event)
        elif isinstance(event, ImageChecked):
            state = AttachmentState(uploaded=state.uploaded, checked=event)
    return state


def require_upload(conversation: ConversationState, actor: Actor) -> None:
    """Refuses an upload for ``conversation`` by ``actor`` (the same
    errors as sending a message there)."""
    if not conversation.started:
        raise errors.ConversationNotFound("no such conversation", field="conversation_id")
    if not access.can_upload(actor, conversation.client_id):
        raise errors.Forbidden(access.NOT_YOURS, field="conversation_id")
    if conversation.deleted:
        raise errors.ConversationDeleted("the conversation was deleted")
    if conversation.merged_into is not None:
        raise errors.ConversationWasMerged(conversation.merged_into)
    if conversation.status is Status.CLOSED:
        raise errors.ConversationClosed("the conversation is closed; reopen it first")


def require_download(state: AttachmentState, owner_client_id: str, actor: Actor) -> None:
    """Refuses ``actor`` a URL for the upload (its conversation belongs to
    client ``owner_client_id``)."""
    if state.uploaded is None:
        raise errors.AttachmentNotFound("no such attachment")
    if not access.can_download(actor, owner_client_id):
        raise errors.Forbidden("this attachment belongs to another client's conversation")


def require_servable(state: AttachmentState) -> None:
    """An image found invalid is never served (nor its URL handed out)."""
    if state.problem:
        raise errors.CorruptAttachment(f"the image is not valid: {state.problem}")


def clean_name(name: str | None, mime_type: str) -> str:
    """The uploader's file name as stored and shown: its last path part, no
    control characters, at most :data:`MAX_NAME` characters; ``attachment.<ext>``
    when nothing is left."""
    base = re.split(r"[/\\]", name or "")[-1]
    cleaned = " ".join(_UNSAFE.sub("", base).split())[:MAX_NAME].strip()
    return cleaned or f"attachment.{_EXTENSIONS.get(mime_type, 'bin')}"


def referenced(state: AttachmentState, message: SendMessage) -> SendMessage:
    """``message`` with its attachment as uploaded, or refused: see the
    module's docstring. A message whose attachment has no ``attachment_id``
    must have a ``url`` (the way before uploads)."""
    attachment = message.attachment
    if attachment is None:
        return message
    if attachment.attachment_id is None:
        if attachment.url is None:
            raise errors.InvalidCommand(
                "an attachment needs an attachment_id (an upload) or a url", field="attachment"
            )
        return message
    if attachment.url is not None:
        raise errors.InvalidCommand(
            "give an attachment_id or a url, not both", field="attachment.url"
        )
    uploaded = state.uploaded
    if uploaded is None or uploaded.conversation_id != message.conversation_id:
        raise errors.AttachmentNotFound(
            "no such attachment in this conversation", field="attachment.attachment_id"
        )
    if message.message_type is MessageType.TEXT:
        raise errors.InvalidCommand(
            "a message with an attachment is of type image or file", field="message_type"
        )
    if message.message_type is MessageType.IMAGE and not state.is_image:
        raise errors.InvalidCommand(
            f"an image message needs an image, not {uploaded.mime_type}", field="message_type"
        )
    require_servable(state)
    resolved = Attachment(
        attachment_id=uploaded.attachment_id,
        name=uploaded.name,
        mime_type=uploaded.mime_type,
        size=uploaded.size,
    )
    return replace(message, attachment=resolved)
