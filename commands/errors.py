"""Domain errors: why a command was refused. Each has a stable ``code`` that
the HTTP and WebSocket edges pass on unchanged (docs/COMMANDS.md lists them)."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec


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


class ClientNotFound(DomainError):
    code = "client_not_found"


class AgentNotFound(DomainError):
    code = "agent_not_found"


class TeamNotFound(DomainError):
    code = "team_not_found"


class TeamExists(DomainError):
    code = "team_exists"


class LabelNotFound(DomainError):
    code = "label_not_found"


class LabelExists(DomainError):
    """Another label has this id or (ignoring case) this name."""

    code = "label_exists"


class CannedResponseNotFound(DomainError):
    code = "canned_response_not_found"


class CodeTaken(DomainError):
    """Another canned response the caller can use has this code."""

    code = "code_taken"


class ConversationWasMerged(DomainError):
    """The conversation was merged into another (``details.into``): it takes
    no new message or change; write to the target instead (409)."""

    code = "conversation_merged"

    def __init__(self, into: object) -> None:
        super().__init__(
            f"the conversation was merged into {into}; write to that one",
            details={"into": str(into)},
        )
        self.into = into


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


class CommandIdReused(DomainError):
    """A ``command_id`` (or ``client_message_id``) already named a different
    command on this conversation; nothing was written (409)."""

    code = "command_id_reused"


class ConversationMoved(DomainError):
    """The command carried a ``seen_version`` and the conversation has moved
    since (409): ``details`` holds the current ``version`` and the ``missed``
    events (each as the history endpoint gives it). Nothing was written."""

    code = "conversation_moved"

    def __init__(self, message: str, *, version: int, missed: Sequence[object]) -> None:
        super().__init__(
            message,
            field="seen_version",
            details={"version": version, "missed": msgspec.to_builtins(missed)},
        )
        self.version = version
        self.missed = list(missed)


# -- attachments (docs/ATTACHMENTS.md) ---------------------------------------------------


class AttachmentNotFound(DomainError):
    code = "attachment_not_found"


class AttachmentTooLarge(DomainError):
    """Over ``PARLEY_ATTACHMENT_MAX_BYTES`` (413); nothing was stored."""

    code = "payload_too_large"


class UnsupportedAttachment(DomainError):
    """The content is of no type on the allow-list, whatever its name or
    header said (415); nothing was stored."""

    code = "unsupported_media_type"


class CorruptAttachment(DomainError):
    """The content starts as an allowed type but is not whole (a truncated
    image or PDF) or is empty (422); nothing was stored."""

    code = "corrupt_attachment"


class InvalidUpload(DomainError):
    """Not a ``multipart/form-data`` body with one file part (400)."""

    code = "invalid_request"


class SignatureInvalid(DomainError):
    """A download URL whose signature does not match (403)."""

    code = "signature_invalid"


class UrlExpired(DomainError):
    """A download URL past its ``expires`` (403): ask for a new one."""

    code = "url_expired"


class AttachmentGone(DomainError):
    """The attachment's bytes were removed with its conversation's data (410)."""

    code = "attachment_gone"


class Unavailable(DomainError):
    """PostgreSQL or NATS cannot be reached right now (503, ``Retry-After``).
    Nothing was written: retrying with the same ids is safe."""

    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after
