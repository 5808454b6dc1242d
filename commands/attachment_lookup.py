"""Reading an upload's stream, for the command handler and the attachment
service: its state, and a message's reference to it made whole."""

from __future__ import annotations

from uuid import UUID

from commands import attachments, errors
from commands.attachments import AttachmentState
from commands.model import SendMessage
from events.store import EventStore, StoreUnavailable


async def load(store: EventStore, attachment_id: UUID) -> AttachmentState:
    """The upload's state (``uploaded`` None: no such upload); raises
    :class:`~commands.errors.Unavailable` when the store is away."""
    try:
        page = await store.read_stream(attachments.stream_id(attachment_id))
    except StoreUnavailable as error:
        raise errors.Unavailable("the event store is unavailable; retry") from error
    return attachments.fold(e.data for e in page)


async def resolve(store: EventStore, message: SendMessage) -> SendMessage:
    """``message`` with the upload it references filled in
    (:func:`commands.attachments.referenced`), or refused."""
    attachment = message.attachment
    if attachment is None or attachment.attachment_id is None:
        return attachments.referenced(AttachmentState(), message)
    state = await load(store, attachment.attachment_id)
    return attachments.referenced(state, message)
