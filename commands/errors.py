"""Domain errors: why a command was refused. Each has a stable ``code`` that
the HTTP and WebSocket edges pass on unchanged (docs/COMMANDS.md lists them)."""

from __future__ import annotations


class DomainError(Exception):
    """A command that breaks a rule; nothing was written."""

    code = "domain_error"

    def __init__(
        self, message: str, *, field: str | None = None, details: dict[str, object] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details


class ConversationNotFound(DomainError):
    code = "conversation_not_found"


class ConversationExists(DomainError):
    code = "conversation_exists"


class ConversationClosed(DomainError):
    """P9: nothing but a reopen changes a closed conversation."""

    code = "conversation_closed"


class ConversationDeleted(DomainError):
    code = "conversation_deleted"


class InvalidTransition(DomainError):
    """P8: the status change is not in the transition table."""

    code = "invalid_transition"


class InvalidCommand(DomainError):
    """Well-formed, but meaningless here (e.g. reading past the last message)."""

    code = "invalid_command"


class Forbidden(DomainError):
    """The actor's role may not do this, or it is not their conversation."""

    code = "forbidden"


class InvalidQuery(DomainError):
    """A query parameter that cannot be used (e.g. a cursor we never gave out)."""

    code = "invalid_query"


class NotCaughtUp(DomainError):
    """The read models did not reach the asked position in time (503)."""

    code = "not_caught_up"
