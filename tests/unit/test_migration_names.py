"""Migration names are what the ledger (``schema_migrations``) remembers: they
must not change when a package moves its migrations folder, or a deployed
database would run them again."""

from __future__ import annotations

from events.postgres.migrate import migration_files
from parley.services import MIGRATION_FOLDERS


def test_migration_names_are_the_owning_package_and_the_file_stem() -> None:
    names = [name for name, _ in migration_files(MIGRATION_FOLDERS)]
    assert names[:4] == [
        "events/001_event_store",
        "events/002_checkpoints",
        "events/003_append_function",
        "events/004_append_by_index",
    ]
    assert all(name.startswith(("events/", "projections/")) for name in names)
