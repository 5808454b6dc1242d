"""The one error type the CLI reports without a traceback, and the settings' one."""

from __future__ import annotations


class StartupError(Exception):
    """Something the user can fix stops Parley from starting: a bad setting, a
    service that does not answer, a port in use. The message is one line and
    starts with the setting concerned (``PARLEY_DATABASE_URL: …``)."""


class SettingsError(StartupError, ValueError):
    """A ``PARLEY_*`` variable holds a value Parley cannot use."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem
