"""A setting that points at nothing: one line naming it, exit code 1, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.embedded import embedded_postgres

DEAD_DATABASE = "postgresql://postgres@127.0.0.1:1/parley"
DEAD_NATS = "nats://127.0.0.1:1"
BOUND_SECONDS = 15


def parley(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the ``parley`` command with only the given PARLEY_* variables."""
    script = Path(sys.executable).parent / "parley"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "parley"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    return subprocess.run(
        [*command, *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=BOUND_SECONDS,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], expected_start: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr + result.stdout
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {expected_start}"), lines[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL that answers: the local one on 5432, else an embedded one."""
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=0.5).close()
        yield "postgresql://postgres@127.0.0.1:5432/postgres"
    except OSError:
        with embedded_postgres(tmp_path_factory.mktemp("cli-errors") / "pg") as url:
            yield url


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    return {"PARLEY_DATA_DIR": str(tmp_path), "PARLEY_HTTP_PORT": str(free_port())}


def test_migrate_with_a_dead_database(base_env: dict[str, str]) -> None:
    started = time.monotonic()
    result = parley("migrate", env={**base_env, "PARLEY_DATABASE_URL": DEAD_DATABASE})

    assert_one_line_error(
        result, f"PARLEY_DATABASE_URL: cannot connect to {DEAD_DATABASE}: connection refused"
    )
    assert time.monotonic() - started < BOUND_SECONDS


def test_serve_with_a_dead_database(base_env: dict[str, str]) -> None:
    env = {**base_env, "PARLEY_DATABASE_URL": DEAD_DATABASE, "PARLEY_NATS_URL": DEAD_NATS}
    assert_one_line_error(parley("serve", env=env), "PARLEY_DATABASE_URL: cannot connect")


def test_serve_with_a_dead_nats(base_env: dict[str, str], live_database: str) -> None:
    env = {**base_env, "PARLEY_DATABASE_URL": live_database, "PARLEY_NATS_URL": DEAD_NATS}
    assert_one_line_error(
        parley("serve", env=env),
        f"PARLEY_NATS_URL: cannot connect to {DEAD_NATS}: connection refused",
    )


def test_the_password_is_not_printed(base_env: dict[str, str]) -> None:
    url = "postgresql://postgres:hunter2@127.0.0.1:1/parley"
    result = parley("migrate", env={**base_env, "PARLEY_DATABASE_URL": url})

    assert_one_line_error(
        result, "PARLEY_DATABASE_URL: cannot connect to postgresql://postgres:***@"
    )
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize(
    ("env", "expected_start"),
    [
        ({"PARLEY_NATS_URL": DEAD_NATS}, "PARLEY_DATABASE_URL is not set"),
        ({"PARLEY_DATABASE_URL": DEAD_DATABASE}, "PARLEY_NATS_URL is not set"),
        ({"PARLEY_HTTP_PORT": "eighty"}, "PARLEY_HTTP_PORT: expected a port number"),
        ({"PARLEY_DATABASE_URL": "mysql://db/x"}, "PARLEY_DATABASE_URL: expected a URL"),
    ],
    ids=["no database url", "no nats url", "bad port", "wrong scheme"],
)
def test_serve_with_missing_or_bad_settings(
    base_env: dict[str, str], env: dict[str, str], expected_start: str
) -> None:
    assert_one_line_error(parley("serve", env={**base_env, **env}), expected_start)


def test_serve_on_a_port_in_use(base_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **base_env,
            "PARLEY_HTTP_PORT": str(port),
            "PARLEY_DATABASE_URL": DEAD_DATABASE,
            "PARLEY_NATS_URL": DEAD_NATS,
        }
        assert_one_line_error(
            parley("serve", env=env),
            f"PARLEY_HTTP_PORT: cannot listen on 127.0.0.1:{port}: address already in use",
        )
