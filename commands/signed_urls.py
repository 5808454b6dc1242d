"""Short-lived signed download URLs (pure: the clock comes in as ``now``).

``GET /api/attachments/{id}/url`` checks the access policy and hands out
``/api/attachments/{id}/content?expires=<unix seconds>&sig=<signature>``
(or ``…/thumbnail?…``): whoever holds it may fetch that one file, that
way, until ``expires``, with no token (so an ``<img src>`` works). The
signature is HMAC-SHA256 over the attachment id, the variant and the
expiry, with a key derived from ``PARLEY_JWT_SECRET`` for this use alone (a
token's signature is never a URL's, nor the other way round). Changing
the secret voids every URL handed out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from datetime import datetime
from typing import Final, Literal
from uuid import UUID

import msgspec

from commands import errors

Variant = Literal["content", "thumbnail"]
_PURPOSE: Final = b"parley attachment download URLs v1"


class SignedUrl(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    """The path and query to fetch (relative to the API's origin)."""
    expires_at: datetime


def signing_key(secret: str) -> bytes:
    """The URL-signing key, derived from the JWT secret."""
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()


def signature(key: bytes, attachment_id: UUID, variant: Variant, expires: int) -> str:
    message = f"{attachment_id}\n{variant}\n{expires}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(
    key: bytes, attachment_id: UUID, variant: Variant, *, now: datetime, lifetime: float
) -> SignedUrl:
    """A URL for ``variant`` of the attachment, valid ``lifetime`` seconds from ``now``."""
    expires = math.ceil(now.timestamp() + lifetime)
    sig = signature(key, attachment_id, variant, expires)
    return SignedUrl(
        url=f"/api/attachments/{attachment_id}/{variant}?expires={expires}&sig={sig}",
        expires_at=datetime.fromtimestamp(expires, tz=now.tzinfo),
    )


def verify(
    key: bytes, attachment_id: UUID, variant: Variant, expires: int, sig: str, *, now: datetime
) -> None:
    """Raises :class:`~commands.errors.SignatureInvalid` unless ``sig`` is
    this URL's signature, then :class:`~commands.errors.UrlExpired` if it
    has run out."""
    expected = signature(key, attachment_id, variant, expires)
    if not hmac.compare_digest(expected.encode(), sig.encode()):
        raise errors.SignatureInvalid("this download URL's signature is not valid")
    if now.timestamp() >= expires:
        raise errors.UrlExpired("this download URL has expired: ask for a new one")
