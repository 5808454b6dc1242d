"""The event catalogue, the envelope and the event store (port and PostgreSQL adapter)."""
