"""The privacy events: one stream per erased client, ``client-<client_id>``
(see docs/PRIVACY.md). Re-exported by :mod:`events.catalogue`."""

from __future__ import annotations

from uuid import UUID

from events.fields import Event, NonEmptyId


def client_stream(client_id: str) -> str:
    """The stream of a client's privacy events."""
    return f"client-{client_id}"


class ClientErased(Event, tag="ClientErased", frozen=True, kw_only=True):
    """The client's data keys ``key_ids`` were destroyed: every personal
    field sealed with them reads as erased from now on, and the plaintext
    copies of its ``conversation_ids`` (read models, search, snapshots,
    attachments' files) were purged. Comes after all the client's events
    sealed with those keys, so a reader of the log in order forgets the keys
    here."""

    client_id: NonEmptyId
    key_ids: tuple[UUID, ...]
    conversation_ids: tuple[UUID, ...]
    by: NonEmptyId


AnyPrivacyEvent = ClientErased
