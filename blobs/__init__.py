"""Blob storage for attachments: the port (:mod:`blobs.port`) and its adapters
by technology, :mod:`blobs.filesystem` and :mod:`blobs.s3`."""
