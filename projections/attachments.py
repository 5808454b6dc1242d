"""The attachments projection: one ``attachments`` row per upload (migration
``010_attachments``), marked ``checked`` once its image was decoded. The
image checker (:mod:`commands.image_checker`) reads the images not checked
yet; the blob purge (:mod:`commands.blob_purge`) which blobs a conversation's
uploads use, and whether any other conversation's use them too."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from events.attachment_events import IMAGE_TYPES, AttachmentUploaded, ImageChecked
from events.catalogue import ClientErased
from events.envelope import RecordedEvent
from projections import erasure
from projections.base import Statement, personal_of

_UPLOADED = """
INSERT INTO attachments (attachment_id, conversation_id, sha256, size, mime_type, name,
                         uploader_id, uploaded_at, position, is_image)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""
_CHECKED = """
UPDATE attachments SET checked = true, thumbnail_sha256 = $2, problem = $3
WHERE attachment_id = $1
"""


class AttachmentsProjection:
    name: str = "attachments"
    tables: tuple[str, ...] = ("attachments",)

    def statements(self, event: RecordedEvent) -> list[Statement]:
        if isinstance(event.data, ClientErased):
            return erasure.erase(self.tables, event.data)
        match event.data:
            case AttachmentUploaded() as e:
                args = (
                    e.attachment_id,
                    e.conversation_id,
                    e.sha256,
                    e.size,
                    e.mime_type,
                    e.name,
                    e.uploader_id,
                    event.recorded_at,
                    event.global_position,
                    e.mime_type in IMAGE_TYPES,
                )
                return [(_UPLOADED, args)]
            case ImageChecked() as e:
                return [(_CHECKED, (e.attachment_id, e.thumbnail_sha256, e.problem))]
        return []

    def run_statements(self, events: Sequence[RecordedEvent]) -> list[Statement]:
        return [s for event in events for s in self.statements(event)]

    def reads_personal(self, run: Sequence[RecordedEvent]) -> Iterable[RecordedEvent]:
        return personal_of(run, AttachmentUploaded)
