"""The one error type the CLI reports without a traceback."""

from __future__ import annotations


class StartupError(Exception):
    """Something the user can fix stops Parley from starting: a bad setting, a
    service that does not answer, a port in use. The message is one line and
    starts with the setting concerned (``PARLEY_DATABASE_URL: …``)."""
