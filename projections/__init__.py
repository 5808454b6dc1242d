"""Projections: read models built from the event log, and their runner."""

from pathlib import Path

READ_MODEL_MIGRATIONS = Path(__file__).parent / "migrations"
