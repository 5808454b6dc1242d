"""The event store and its consumers' checkpoints on PostgreSQL (asyncpg)."""
