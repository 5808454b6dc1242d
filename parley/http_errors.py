"""One map from errors to JSON responses: ``{"code", "message", "field"?}``.

Domain errors keep their stable ``code``; Litestar's own errors (validation,
size, routing) get codes too, so a client never has to parse prose and never
sees a 500 for bad input.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from litestar.types import ExceptionHandlersMap

from commands import errors
from events.postgres.group_commit import CONNECTION_ERRORS
from events.postgres.replica import ReplicaUnavailable
from events.store import StoreUnavailable
from read_api import errors as read_errors

log = logging.getLogger("parley.http")

RETRY_AFTER_SECONDS = 1


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    code: str
    message: str
    field: str | None = None
    details: dict[str, Any] | None = None


DOMAIN_STATUS: dict[type[errors.DomainError], int] = {
    errors.ConversationNotFound: HTTP_404_NOT_FOUND,
    errors.ClientNotFound: HTTP_404_NOT_FOUND,
    errors.AgentNotFound: HTTP_404_NOT_FOUND,
    errors.TeamNotFound: HTTP_404_NOT_FOUND,
    errors.TeamExists: HTTP_409_CONFLICT,
    errors.LabelNotFound: HTTP_404_NOT_FOUND,
    errors.LabelExists: HTTP_409_CONFLICT,
    errors.CannedResponseNotFound: HTTP_404_NOT_FOUND,
    errors.CodeTaken: HTTP_409_CONFLICT,
    errors.ConversationWasMerged: HTTP_409_CONFLICT,
    errors.Forbidden: HTTP_403_FORBIDDEN,
    errors.ConversationExists: HTTP_409_CONFLICT,
    errors.ConversationClosed: HTTP_409_CONFLICT,
    errors.ConversationDeleted: HTTP_409_CONFLICT,
    errors.InvalidTransition: HTTP_409_CONFLICT,
    errors.CommandIdReused: HTTP_409_CONFLICT,
    errors.ConversationMoved: HTTP_409_CONFLICT,
    errors.InvalidCommand: HTTP_422_UNPROCESSABLE_ENTITY,
    errors.AttachmentNotFound: HTTP_404_NOT_FOUND,
    errors.AttachmentTooLarge: 413,
    errors.UnsupportedAttachment: 415,
    errors.CorruptAttachment: HTTP_422_UNPROCESSABLE_ENTITY,
    errors.InvalidUpload: HTTP_400_BAD_REQUEST,
    errors.SignatureInvalid: HTTP_403_FORBIDDEN,
    errors.UrlExpired: HTTP_403_FORBIDDEN,
    errors.AttachmentGone: 410,
    read_errors.InvalidQuery: HTTP_400_BAD_REQUEST,
    read_errors.NotCaughtUp: HTTP_503_SERVICE_UNAVAILABLE,
}

HTTP_CODES = {
    400: "invalid_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}

_REGEX_HINT = re.compile(r"Expected `str` matching regex '(.*)'")
_MISSING = re.compile(r"missing required field `([^`]+)`")


def _json(status: int, body: ErrorBody) -> Response[ErrorBody]:
    return Response(body, status_code=status)


def domain_error(_: Request[Any, Any, Any], exc: errors.DomainError) -> Response[ErrorBody]:
    status = next(
        (s for cls, s in DOMAIN_STATUS.items() if isinstance(exc, cls)),
        HTTP_503_SERVICE_UNAVAILABLE,  # what is left: Busy, Unavailable
    )
    body = ErrorBody(code=exc.code, message=exc.message, field=exc.field, details=exc.details)
    if isinstance(exc, errors.Unavailable):
        return Response(body, status_code=status, headers={"Retry-After": str(exc.retry_after)})
    return _json(status, body)


def validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorBody]:
    """400 with the first offending field, in words a person can act on."""
    problems = exc.extra if isinstance(exc.extra, list) else []
    first = problems[0] if problems and isinstance(problems[0], dict) else {}
    message = str(first.get("message") or exc.detail)
    message = _REGEX_HINT.sub(_pattern_hint, message)
    field = _field_name(first.get("key"))
    if missing := _MISSING.search(message):
        field = ".".join(p for p in (field, missing.group(1)) if p)
    return _json(
        HTTP_400_BAD_REQUEST,
        ErrorBody(code="invalid_request", message=message, field=field),
    )


def _pattern_hint(match: re.Match[str]) -> str:
    """Our text patterns refuse NUL characters; some also blank text (``\\s``)."""
    if "\\s" in match.group(1):
        return "must not be blank or contain NUL characters"
    return "must not contain NUL characters"


def _field_name(key: object) -> str | None:
    """'client.name' stays; the whole body ('data', '$') is no field."""
    if not isinstance(key, str) or key in ("", "data", "$"):
        return None
    return key.removeprefix("$.")


def http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    code = HTTP_CODES.get(exc.status_code, "error")
    if exc.status_code == HTTP_400_BAD_REQUEST:
        code = "malformed_json"  # validation errors have their own handler: the body did not parse
    return _json(exc.status_code, ErrorBody(code=code, message=str(exc.detail)))


def unavailable(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    """PostgreSQL could not be reached (a lost, refused or timed-out connection)."""
    log.warning("PostgreSQL unavailable: %r", exc)
    body = ErrorBody(
        code="unavailable",
        message="the database is unavailable; retry shortly",
        details={"retry_after": RETRY_AFTER_SECONDS},
    )
    return Response(
        body,
        status_code=HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def replica_unavailable(_: Request[Any, Any, Any], exc: ReplicaUnavailable) -> Response[ErrorBody]:
    """The read replica does not answer and reads may not go to the primary."""
    body = ErrorBody(code=exc.code, message=str(exc), details={"retry_after": RETRY_AFTER_SECONDS})
    return Response(
        body,
        status_code=HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _json(
        HTTP_500_INTERNAL_SERVER_ERROR,
        ErrorBody(code="internal_error", message="something went wrong on our side"),
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    errors.DomainError: domain_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    **dict.fromkeys(CONNECTION_ERRORS, unavailable),
    StoreUnavailable: unavailable,
    ReplicaUnavailable: replica_unavailable,
    Exception: internal_error,
}
"""For ``Litestar(exception_handlers=...)``."""
