"""Process plumbing for the CLI commands: one-line errors, signals, and the
embedded servers a command starts when a URL setting is unset."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import NoReturn

from rich.console import Console
from rich.markup import escape

from parley.embedded import embedded_nats, embedded_postgres
from parley.errors import StartupError
from parley.settings import Settings, get_settings

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


def fail(message: str) -> NoReturn:
    """Print ``error: <message>`` as one line on stderr and exit with code 1."""
    err.print(f"[bold red]error:[/] {escape(' '.join(message.split()))}")
    sys.exit(1)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """A :class:`StartupError` becomes one line and exit code 1; Ctrl-C, 130."""
    try:
        yield
    except StartupError as error:
        fail(str(error))
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


def load_settings() -> Settings:
    with one_line_errors():
        return get_settings()


@contextmanager
def stoppable() -> Iterator[ExitStack]:
    """An exit stack for the servers a command starts. SIGINT and SIGTERM raise
    KeyboardInterrupt (even where a shell started us with SIGINT ignored), so
    the stack unwinds; it is closed with both signals ignored, so a second
    Ctrl-C cannot leave a server behind half-stopped. (While the event loop
    runs, ``parley.server.Shutdown`` handles the signals instead.)"""
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, signal.default_int_handler) for sig in signals}
    stack = ExitStack()
    try:
        yield stack
    finally:
        for sig in signals:
            signal.signal(sig, signal.SIG_IGN)
        try:
            stack.close()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def database_url(settings: Settings, stack: ExitStack) -> str:
    """``PARLEY_DATABASE_URL``, else an embedded PostgreSQL in
    ``PARLEY_DATA_DIR/postgres``, stopped when ``stack`` closes."""
    if settings.database_url:
        return settings.database_url
    folder = settings.data_dir.resolve() / "postgres"
    with err.status(f"starting embedded PostgreSQL in {folder}"):
        return stack.enter_context(embedded_postgres(folder))


def nats_url(settings: Settings, stack: ExitStack) -> str:
    """``PARLEY_NATS_URL``, else an embedded nats-server in
    ``PARLEY_DATA_DIR/nats``, stopped when ``stack`` closes."""
    if settings.nats_url:
        return settings.nats_url
    return stack.enter_context(embedded_nats(settings.data_dir.resolve() / "nats"))
