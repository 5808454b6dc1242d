"""Real processes for fault tests: a nats-server from the embedded wheel and
``parley worker``, each in a session of its own so a test can kill it (and
only it) by pid. Every wait is bounded; ``stop`` never leaves a process behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from parley.embedded import free_port, nats_server_executable
from tests.conftest import MASTER_KEY_ENV

STOP_TIMEOUT = 5.0
START_TIMEOUT = 30.0
"""Seconds a child process may take to listen: a Python one (moto) imports for
seconds on a machine whose cores are busy."""
JWT_SECRET = "fault-test-secret-that-is-at-least-32-bytes-long"


class Process:
    """A child process with its output in a log file."""

    def __init__(self, command: list[str], log_path: Path, env: dict[str, str] | None = None):
        self.command = command
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=self.env,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(STOP_TIMEOUT)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it is still alive after a while; the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        return self.process.returncode

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class NatsServer(Process):
    """nats-server with JetStream, its store in ``store_dir``, on a fixed port
    (so it can be started again on the same folder and port)."""

    def __init__(self, store_dir: Path, port: int | None = None):
        store_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.store_dir = store_dir
        command = [str(nats_server_executable()), "-js", "-sd", str(store_dir)]
        command += ["-a", "127.0.0.1", "-p", str(self.port)]
        super().__init__(command, store_dir.parent / f"nats-{self.port}.log")

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def start_and_wait(self) -> None:
        """Start it and wait (bounded) until it accepts connections."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:  # the port may still be held for an instant after a kill
            self.start()
            while time.monotonic() < deadline and self.running:
                if _answers(self.port):
                    return
                await asyncio.sleep(0.05)
            if time.monotonic() >= deadline:
                self.stop()
                raise AssertionError(f"nats-server did not listen:\n{self.log_tail()}")
            await asyncio.sleep(0.2)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Worker(Process):
    """``parley worker`` (the relay and the projections)."""

    def __init__(
        self,
        log_path: Path,
        *,
        database_url: str,
        nats_url: str,
        prefix: str,
        settings: Mapping[str, str] | None = None,
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
        env |= {
            "PARLEY_DATABASE_URL": database_url,
            "PARLEY_NATS_URL": nats_url,
            "PARLEY_NATS_PREFIX": prefix,
            "PARLEY_JWT_SECRET": JWT_SECRET,
            **MASTER_KEY_ENV,
            **(settings or {}),
        }
        executable = Path(sys.executable).parent / "parley"
        super().__init__([str(executable), "worker"], log_path, env)
