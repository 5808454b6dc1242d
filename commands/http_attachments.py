"""HTTP endpoints of attachments (docs/ATTACHMENTS.md): upload, describe,
a signed URL, and the bytes a signed URL names.

``POST /api/attachments?conversation_id=…`` takes ``multipart/form-data``
with one file part, ``file``; the body is streamed, never read whole (the
app's 64 KiB body limit does not apply here: ``PARLEY_ATTACHMENT_MAX_BYTES``
does). ``…/content`` and ``…/thumbnail`` need no token: their signed query
is the permission, handed out by ``…/url`` to whoever may see the
conversation. Errors become JSON in ``parley.http_errors``.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import quote
from uuid import UUID, uuid4

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import InternalServerException
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream
from multipart import parse_options_header  # type: ignore[import-untyped]

from commands import errors
from commands.attachment_service import AttachmentService, AttachmentView, Download
from commands.http_auth import provide_actor
from commands.model import Actor
from commands.signed_urls import SignedUrl, Variant

MAX_EXPIRES = 2**40
"""``expires`` is Unix seconds: bounded, so a huge number is a 400, not a crash."""

Expires = Annotated[int, QueryParameter(ge=0, le=MAX_EXPIRES)]
Signature = Annotated[str, QueryParameter(min_length=1, max_length=100)]


@dataclass(frozen=True)
class AttachmentContext:
    actor: Actor
    service: AttachmentService
    correlation_id: UUID


def provide_attachments(request: Request[Any, Any, Any]) -> AttachmentContext:
    """Who asks (401 without a valid token) and the app's ``attachment_service``."""
    state = request.app.state
    actor = provide_actor(request, state.authenticate)
    try:
        correlation_id = UUID(request.headers.get("x-correlation-id", ""))
    except ValueError:
        correlation_id = uuid4()
    return AttachmentContext(actor, state.attachment_service, correlation_id)


def _service(request: Request[Any, Any, Any]) -> AttachmentService:
    service: AttachmentService = request.app.state.attachment_service
    return service


@post(
    "/attachments",
    status_code=201,
    request_max_body_size=None,
    summary="Upload a file for a conversation (multipart/form-data, one part `file`)",
)
async def upload_attachment(
    request: Request[Any, Any, Any],
    conversation_id: Annotated[UUID, QueryParameter()],
    attachments: NamedDependency[AttachmentContext],
) -> AttachmentView:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get("boundary", "")
    if content_type != "multipart/form-data" or not 1 <= len(boundary) <= 200:
        raise errors.InvalidUpload("send the file as multipart/form-data (one part, `file`)")
    length = request.headers.get("content-length", "")
    return await attachments.service.upload(
        attachments.actor,
        conversation_id,
        _body(request),
        boundary,
        content_length=int(length) if length.isdigit() else None,
        correlation_id=attachments.correlation_id,
    )


async def _body(request: Request[Any, Any, Any]) -> AsyncIterator[bytes]:
    """The request's body as it arrives; a client gone midway is a 400 (and
    nothing is stored), not Litestar's 500."""
    try:
        async for chunk in request.stream():
            yield chunk
    except InternalServerException:
        raise errors.InvalidUpload("the client disconnected before the end of the body") from None


@get("/attachments/{attachment_id:uuid}", summary="An attachment's name, type, size and status")
async def describe_attachment(
    attachment_id: FromPath[UUID], attachments: NamedDependency[AttachmentContext]
) -> AttachmentView:
    return await attachments.service.describe(attachments.actor, attachment_id)


@get("/attachments/{attachment_id:uuid}/url", summary="A short-lived signed download URL")
async def attachment_url(
    attachment_id: FromPath[UUID],
    attachments: NamedDependency[AttachmentContext],
    variant: Annotated[Literal["content", "thumbnail"], QueryParameter()] = "content",
) -> SignedUrl:
    return await attachments.service.signed_url(attachments.actor, attachment_id, variant)


@get(
    "/attachments/{attachment_id:uuid}/content",
    summary="The file a signed URL names (no token: the signature is the permission)",
)
async def attachment_content(
    request: Request[Any, Any, Any], attachment_id: FromPath[UUID], expires: Expires, sig: Signature
) -> Stream:
    return await _download(_service(request), attachment_id, "content", expires, sig)


@get(
    "/attachments/{attachment_id:uuid}/thumbnail",
    summary="An image's thumbnail (WebP) a signed URL names",
)
async def attachment_thumbnail(
    request: Request[Any, Any, Any], attachment_id: FromPath[UUID], expires: Expires, sig: Signature
) -> Stream:
    return await _download(_service(request), attachment_id, "thumbnail", expires, sig)


async def _download(
    service: AttachmentService, attachment_id: UUID, variant: Variant, expires: int, sig: str
) -> Stream:
    download = await service.open(attachment_id, variant, expires=expires, sig=sig)
    media_type = download.mime_type
    if media_type == "text/plain":
        media_type += "; charset=utf-8"
    headers = _headers(download, variant, expires)
    return Stream(download.chunks, media_type=media_type, headers=headers)


def _headers(download: Download, variant: Variant, expires: int) -> dict[str, str]:
    """Served as what it was found to be, never sniffed again by a browser,
    never run as a page; images inline, anything else as a download."""
    inline = variant == "thumbnail" or download.mime_type.startswith("image/")
    disposition = "inline" if inline else "attachment"
    headers = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(download.name, safe='')}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": f"private, max-age={max(0, math.floor(expires - time.time()))}",
        "ETag": f'"{download.sha256}"',
    }
    if download.size is not None:
        headers["Content-Length"] = str(download.size)
    return headers


ATTACHMENT_HANDLERS = [
    upload_attachment,
    describe_attachment,
    attachment_url,
    attachment_content,
    attachment_thumbnail,
]
"""Mounted under /api by the app, which provides ``attachments``."""
