"""Read-side errors: why a query was refused. They subclass
:class:`~commands.errors.DomainError`, so the one error map
(``parley.http_errors``) gives them their stable ``code`` and HTTP status."""

from __future__ import annotations

from commands.errors import DomainError


class InvalidQuery(DomainError):
    """A query parameter that cannot be used (e.g. a cursor we never gave out)."""

    code = "invalid_query"


class NotCaughtUp(DomainError):
    """The read models did not reach the asked position in time (503)."""

    code = "not_caught_up"
