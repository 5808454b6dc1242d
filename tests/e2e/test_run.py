"""``parley run`` on a fresh machine: embedded PostgreSQL and NATS, ready within
60 s, prints its address and a working admin token, and a signal stops it and
every server it started."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from commands.auth import decode_token
from commands.model import Role
from tests.conftest import MASTER_KEY_ENV

SECRET = "e2e-secret-for-parley-run-at-least-32-bytes"
READY_WITHIN = 60.0
STOPPED_WITHIN = 20.0
TOKEN = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parley_command() -> list[str]:
    script = Path(sys.executable).parent / "parley"
    return [str(script)] if script.exists() else [sys.executable, "-m", "parley"]


def ready_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def servers_using(data_dir: Path) -> list[psutil.Process]:
    """The processes whose command line mentions ``data_dir`` (postgres,
    nats-server), with their children (the postgres backends)."""
    found: list[psutil.Process] = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(str(data_dir) in arg for arg in proc.info["cmdline"] or []):
            found.append(proc)
            found.extend(proc.children(recursive=True))
    return found


def still_running(processes: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
        except psutil.NoSuchProcess:
            continue
    return alive


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_run_starts_everything_and_a_signal_stops_everything(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env |= {
        "PARLEY_DATA_DIR": str(data_dir),
        "PARLEY_HTTP_PORT": str(port),
        "PARLEY_JWT_SECRET": SECRET,
        **MASTER_KEY_ENV,
        "PYTHONUNBUFFERED": "1",
    }
    stdout_path, stderr_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with stdout_path.open("w") as stdout, stderr_path.open("w") as stderr:
        proc = subprocess.Popen([*parley_command(), "run"], env=env, stdout=stdout, stderr=stderr)
    try:
        # Ready within the bound: embedded PostgreSQL and NATS answer.
        deadline = time.monotonic() + READY_WITHIN
        while ready_status(f"http://127.0.0.1:{port}/health/ready") != 200:
            assert proc.poll() is None, f"parley run exited: {stderr_path.read_text()}"
            assert time.monotonic() < deadline, f"not ready: {stderr_path.read_text()}"
            time.sleep(0.2)

        # It printed where it answers and a token that decodes as an admin.
        output = stdout_path.read_text()
        assert f"http://127.0.0.1:{port}" in output
        match = TOKEN.search(output)
        assert match, output
        assert decode_token(SECRET, match[0]).role is Role.ADMIN

        servers = servers_using(data_dir)
        names = {p.name() for p in servers}
        assert {"postgres", "nats-server"} <= names, names

        proc.send_signal(stop_signal)
        assert proc.wait(STOPPED_WITHIN) == 0, stderr_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # Nothing it started survives: no server on the data dir, no postgres backend.
    deadline = time.monotonic() + 5
    while still_running(servers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert still_running(servers) == []
    assert still_running(servers_using(data_dir)) == []
    assert "Traceback" not in stderr_path.read_text()
