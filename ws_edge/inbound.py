"""Client text frames in: bounded decoding, and the ERROR frame for what
cannot be decoded or was refused.

Nothing a client sends may end its socket: whatever the text, :func:`decode`
returns a frame to dispatch or the ERROR to answer with. The ERROR carries
the frame's ``ref`` whenever the text is a JSON object whose ``ref`` is a
valid one (a string of at most 100 characters), even when the rest of the
frame is invalid.
"""

from __future__ import annotations

import math
import re
from itertools import accumulate

import msgspec

from commands import errors
from events.store import StoreUnavailable
from ws_edge import frames

MAX_DEPTH = 32
"""How deeply arrays and objects may nest in a frame (real frames use 2)."""

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class _RefOnly(msgspec.Struct):
    ref: frames.Ref | None = None


_decode_ref = msgspec.json.Decoder(_RefOnly).decode


def decode(text: str, max_bytes: int) -> frames.AnyClientFrame | frames.Error:
    """The client frame in ``text``, or the ERROR that answers it."""
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        return frames.Error(code="frame_too_large", message=f"frames are at most {max_bytes} bytes")
    if too_deep(text):
        return _nested_too_deeply()
    try:
        return frames.decode_client_frame(text)
    except msgspec.ValidationError as error:
        return _invalid_frame(str(error), ref_of(text))
    except msgspec.DecodeError:
        return frames.Error(code="malformed_json", message="the frame is not JSON")
    except RecursionError:  # MAX_DEPTH keeps this away; belt and braces
        return _nested_too_deeply()


def too_deep(text: str) -> bool:
    """Whether arrays and objects nest more than MAX_DEPTH levels (brackets
    inside JSON strings do not count). Linear in the text, in C mostly."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    brackets = _BRACKETS.findall(_STRINGS.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > MAX_DEPTH


def ref_of(text: str) -> str | None:
    """Best effort: the ``ref`` of a JSON object, if it has a valid one."""
    try:
        return _decode_ref(text).ref
    except (msgspec.DecodeError, RecursionError):  # ValidationError included
        return None


def refused(error: errors.DomainError | StoreUnavailable, ref: str | None) -> frames.Error:
    """The ERROR for a command the handler refused, its details passed on;
    ``unavailable`` (PostgreSQL or NATS away) says in how many seconds to retry."""
    if isinstance(error, StoreUnavailable):  # should the handler let one through
        error = errors.Unavailable(str(error), retry_after=max(1, math.ceil(error.retry_after)))
    retry_after = getattr(error, "retry_after", None)
    return frames.Error(
        code=error.code,
        message=error.message,
        ref=ref,
        field=error.field,
        retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
        details=error.details,
    )


def internal_error(ref: str | None) -> frames.Error:
    """A frame that failed on our side (logged); the socket stays open."""
    return frames.Error(
        code="internal_error", message="the frame failed on our side; try again", ref=ref
    )


def _nested_too_deeply() -> frames.Error:
    return frames.Error(
        code="invalid_frame", message=f"arrays and objects nest more than {MAX_DEPTH} levels"
    )


def _invalid_frame(detail: str, ref: str | None) -> frames.Error:
    field = None
    if " - at `$." in detail:
        detail, _, where = detail.partition(" - at `$.")
        field = where.rstrip("`")
    elif "missing required field `" in detail:
        field = detail.split("`")[1]
    if field in (None, "type") and ("Invalid value" in detail or "`type`" in detail):
        return frames.Error(code="unknown_frame", message=f"unknown frame type: {detail}", ref=ref)
    if detail.startswith("Expected `str` matching regex"):
        detail = "must not be blank or contain NUL characters"
    return frames.Error(code="invalid_frame", message=detail, ref=ref, field=field)
