-- Attachments (issue #18): one row per upload, projected from its stream
-- (``attachment-<id>``: AttachmentUploaded, then ImageChecked for an image)
-- by projections/attachments.py. What it answers:
-- * the image checker (commands/image_checker.py): images not checked yet;
-- * the blob purge (commands/blob_purge.py): a conversation's blobs, and
--   whether another conversation's attachment uses the same blob.
-- Access checks read the upload's own stream, never this table.
CREATE TABLE attachments (
    attachment_id    uuid        PRIMARY KEY,
    conversation_id  uuid        NOT NULL,
    sha256           text        NOT NULL,
    size             bigint      NOT NULL,
    mime_type        text        NOT NULL,
    name             text        NOT NULL,
    uploader_id      text        NOT NULL,
    uploaded_at      timestamptz NOT NULL,
    position         bigint      NOT NULL,
    is_image         boolean     NOT NULL,
    checked          boolean     NOT NULL DEFAULT false,
    thumbnail_sha256 text,
    problem          text
);
CREATE INDEX attachments_by_conversation ON attachments (conversation_id);
CREATE INDEX attachments_by_blob ON attachments (sha256);
CREATE INDEX attachments_by_thumbnail ON attachments (thumbnail_sha256)
    WHERE thumbnail_sha256 IS NOT NULL;
CREATE INDEX attachments_unchecked ON attachments (position) WHERE is_image AND NOT checked;
