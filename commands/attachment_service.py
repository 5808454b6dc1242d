"""The attachment service: uploads in, signed URLs and bytes out — the
imperative shell around :mod:`commands.attachments` (docs/ATTACHMENTS.md).

- ``upload``: the conversation is checked first (``require_upload``: the
  body is not read for a refused caller), the file is streamed to the blob
  store (:mod:`commands.upload`), then ``AttachmentUploaded`` is appended to
  its own stream. An upload refused at any point stores nothing.
- ``signed_url``: the access policy at issue time, then a URL valid for
  ``PARLEY_ATTACHMENT_URL_SECONDS`` (:mod:`commands.signed_urls`).
- ``open``: a URL's signature and expiry, then the blob, streamed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from uuid import UUID, uuid4

import msgspec

from blobs.port import BlobNotFound, BlobStore, BlobStoreUnavailable
from commands import attachment_lookup, attachments, errors, signed_urls
from commands.attachments import AttachmentState
from commands.handler import CommandHandler
from commands.model import Actor
from commands.signed_urls import SignedUrl, Variant
from commands.upload import OVERHEAD, receive
from events.attachment_events import AttachmentUploaded
from events.envelope import Metadata, NewEvent
from events.store import EventStore, StoreUnavailable

THUMBNAIL_TYPE = "image/webp"


class AttachmentView(msgspec.Struct, frozen=True, kw_only=True):
    """An attachment as the API shows it. ``status``: ``ready``, ``checking``
    (an image not decoded yet: no thumbnail so far) or ``rejected`` (not a
    valid image: ``problem`` says why; nothing of it is served)."""

    attachment_id: UUID
    conversation_id: UUID
    name: str
    mime_type: str
    size: int
    status: str
    width: int | None = None
    height: int | None = None
    thumbnail: bool = False
    problem: str | None = None
    position: int | None = None
    """The global position of the upload's event (in the upload's answer)."""


class Download(msgspec.Struct, frozen=True, kw_only=True):
    """What a signed URL serves: the bytes (their first chunk already read,
    so a missing blob is known before the answer starts) and their type."""

    chunks: AsyncIterator[bytes]
    mime_type: str
    size: int | None
    name: str
    sha256: str


class AttachmentService:
    def __init__(
        self,
        store: EventStore,
        blobs: BlobStore,
        conversations: CommandHandler,
        *,
        max_bytes: int,
        url_key: bytes,
        url_seconds: float,
        new_id: Callable[[], UUID] = uuid4,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self.blobs = blobs
        self._conversations = conversations
        self.max_bytes = max_bytes
        self._key = url_key
        self._url_seconds = url_seconds
        self._new_id = new_id
        self._clock = clock

    async def upload(
        self,
        actor: Actor,
        conversation_id: UUID,
        body: AsyncIterator[bytes],
        boundary: str,
        *,
        content_length: int | None = None,
        correlation_id: UUID | None = None,
    ) -> AttachmentView:
        conversation = await self._conversations.state_of(conversation_id)
        attachments.require_upload(conversation, actor)
        if content_length is not None and content_length > self.max_bytes + OVERHEAD:
            raise errors.AttachmentTooLarge(
                f"the file is larger than {self.max_bytes} bytes",
                details={"max_bytes": self.max_bytes},
            )
        try:
            received = await receive(body, boundary, max_bytes=self.max_bytes, blobs=self.blobs)
        except BlobStoreUnavailable as error:
            raise errors.Unavailable(f"the file storage is unavailable; retry ({error})") from None
        event = AttachmentUploaded(
            attachment_id=self._new_id(),
            conversation_id=conversation_id,
            uploader_id=actor.id,
            uploader_side=actor.side,
            sha256=received.blob.sha256,
            size=received.blob.size,
            mime_type=received.mime_type,
            name=attachments.clean_name(received.file_name, received.mime_type),
        )
        metadata = Metadata(actor_id=actor.id, actor_role=actor.role, correlation_id=correlation_id)
        new = NewEvent(
            event_id=self._new_id(), data=event, metadata=metadata, subject=conversation.client_id
        )
        try:
            appended = await self._store.append(
                attachments.stream_id(event.attachment_id), [new], expected_version=0
            )
        except StoreUnavailable as error:
            raise errors.Unavailable("the event store is unavailable; retry") from error
        view = _view(AttachmentState(uploaded=event))
        return msgspec.structs.replace(view, position=appended.last_global_position)

    async def describe(self, actor: Actor, attachment_id: UUID) -> AttachmentView:
        """The attachment, if ``actor`` may fetch it."""
        return _view(await self._readable(actor, attachment_id))

    async def signed_url(self, actor: Actor, attachment_id: UUID, variant: Variant) -> SignedUrl:
        """A short-lived URL for the file (or its thumbnail), if ``actor`` may fetch it."""
        state = await self._readable(actor, attachment_id)
        attachments.require_servable(state)
        if variant == "thumbnail" and (state.checked is None or not state.checked.thumbnail_sha256):
            raise errors.AttachmentNotFound(
                "this attachment has no thumbnail (not an image, or not checked yet)",
                details={"status": state.status},
            )
        return signed_urls.sign(
            self._key, attachment_id, variant, now=self._clock(), lifetime=self._url_seconds
        )

    async def open(
        self, attachment_id: UUID, variant: Variant, *, expires: int, sig: str
    ) -> Download:
        """The bytes a signed URL names; raises ``signature_invalid``,
        ``url_expired``, ``attachment_not_found`` or ``attachment_gone``."""
        signed_urls.verify(self._key, attachment_id, variant, expires, sig, now=self._clock())
        state = await attachment_lookup.load(self._store, attachment_id)
        uploaded = state.uploaded
        if uploaded is None:
            raise errors.AttachmentNotFound("no such attachment")
        attachments.require_servable(state)
        sha256: str | None = uploaded.sha256
        size: int | None = uploaded.size
        mime = uploaded.mime_type
        if variant == "thumbnail":
            checked = state.checked
            sha256 = checked.thumbnail_sha256 if checked else None
            size, mime = (checked.thumbnail_size if checked else None), THUMBNAIL_TYPE
        if sha256 is None:
            raise errors.AttachmentNotFound("this attachment has no thumbnail")
        chunks = self.blobs.open(sha256)
        try:
            first = await anext(chunks, b"")
        except BlobNotFound:
            raise errors.AttachmentGone(
                "this attachment's file was removed with its conversation's data"
            ) from None
        except BlobStoreUnavailable as error:
            raise errors.Unavailable(f"the file storage is unavailable; retry ({error})") from None
        return Download(
            chunks=_prepend(first, chunks),
            mime_type=mime,
            size=size,
            name=uploaded.name,
            sha256=sha256,
        )

    async def _readable(self, actor: Actor, attachment_id: UUID) -> AttachmentState:
        state = await attachment_lookup.load(self._store, attachment_id)
        if state.uploaded is None:
            raise errors.AttachmentNotFound("no such attachment")
        conversation = await self._conversations.state_of(state.uploaded.conversation_id)
        attachments.require_download(state, conversation.client_id, actor)
        return state


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


def _view(state: AttachmentState) -> AttachmentView:
    uploaded, checked = state.uploaded, state.checked
    assert uploaded is not None
    return AttachmentView(
        attachment_id=uploaded.attachment_id,
        conversation_id=uploaded.conversation_id,
        name=uploaded.name,
        mime_type=uploaded.mime_type,
        size=uploaded.size,
        status=state.status,
        width=checked.width if checked else None,
        height=checked.height if checked else None,
        thumbnail=bool(checked and checked.thumbnail_sha256),
        problem=state.problem,
    )
