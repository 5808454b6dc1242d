"""The events of attachments: one stream per upload, ``attachment-<id>``
(docs/ATTACHMENTS.md). Part of :data:`events.catalogue.AnyEvent`.

An upload records who uploaded what, for which conversation: the
conversation decides who may fetch it (``commands.access``). The bytes are
in the blob store under ``sha256``; an image is then checked, and given a
thumbnail, off the request path (``ImageChecked``, by a worker).
"""

from __future__ import annotations

from typing import Annotated, Final
from uuid import UUID

import msgspec

from events.fields import Event, Name, NonEmptyId, Reason, Sha256, Side

IMAGE_TYPES: Final = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
"""The image types among the allowed ones (``commands.attachment_types``):
these are checked, and get a thumbnail."""

MimeType = Annotated[str, msgspec.Meta(max_length=100, pattern=r"^[a-z]+/[a-z0-9.+-]+\Z")]
Size = Annotated[int, msgspec.Meta(ge=0)]
Pixels = Annotated[int, msgspec.Meta(ge=1)]


class AttachmentUploaded(Event, tag="AttachmentUploaded", frozen=True, kw_only=True):
    """A file was uploaded for ``conversation_id``. ``mime_type`` is the type
    its content was found to be (never what the uploader claimed); ``name``
    the uploader's file name, cleaned."""

    attachment_id: UUID
    conversation_id: UUID
    uploader_id: NonEmptyId
    uploader_side: Side
    sha256: Sha256
    size: Size
    mime_type: MimeType
    name: Name


class ImageChecked(Event, tag="ImageChecked", frozen=True, kw_only=True):
    """An uploaded image was decoded in full. ``problem`` set: it is not a
    valid image (nothing of it is served); else its size in pixels and its
    thumbnail's blob (``image/webp``)."""

    attachment_id: UUID
    conversation_id: UUID
    width: Pixels | None = None
    height: Pixels | None = None
    thumbnail_sha256: Sha256 | None = None
    thumbnail_size: Size | None = None
    problem: Reason | None = None


AnyAttachmentEvent = AttachmentUploaded | ImageChecked
