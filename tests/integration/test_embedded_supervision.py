"""The embedded servers ``parley run`` starts heal by themselves: a server that
dies is started again on the same port (or socket) and data folder, with
back-off while it cannot start, and nothing is left running on exit."""

from __future__ import annotations

import asyncio
import signal
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import nats
import psutil
import pytest

from parley.embedded import embedded_nats, embedded_postgres

WITHIN = 15.0


def servers_on(folder: Path, name: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        mine = proc.info.get("name") == name and any(str(folder) in arg for arg in cmdline)
        if mine and proc.status() != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


async def eventually(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WITHIN
    while True:
        try:
            if await condition():
                return
        except (OSError, asyncpg.PostgresError, nats.errors.Error):
            pass
        assert time.monotonic() < deadline, f"not {what} within {WITHIN:g} s"
        await asyncio.sleep(0.05)


@pytest.fixture
def tmp_dir() -> Iterator[Path]:
    """A folder outside pytest's: pytest makes /tmp/pytest-of-<user> private at
    the start of every session (another one may start meanwhile), and the
    embedded PostgreSQL runs as a user of its own."""
    with tempfile.TemporaryDirectory(prefix="parley-supervision-") as folder:
        yield Path(folder).resolve()


async def test_a_killed_nats_server_comes_back_on_its_port_with_its_streams(
    tmp_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_dir / "nats"
    with embedded_nats(folder) as url:
        nc = await nats.connect(url)
        await nc.jetstream().add_stream(name="KEPT", subjects=["kept"])
        await nc.jetstream().publish("kept", b"one")
        await nc.close()
        [first] = servers_on(folder, "nats-server")
        port = int(url.rsplit(":", 1)[1])
        # The port is taken while it is down: restarts fail and back off
        # until it is free again.
        first.kill()
        first.wait(5)
        blocker = socket.socket()
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", port))
        blocker.listen()

        async def refused() -> bool:
            return "embedded nats-server did not restart" in caplog.text

        await eventually(refused, "a failed restart logged")
        blocker.close()

        async def back() -> bool:
            nc = await nats.connect(url, allow_reconnect=False, connect_timeout=1)
            try:
                info = await nc.jetstream().stream_info("KEPT")
                return info.state.messages == 1
            finally:
                await nc.close()

        await eventually(back, "nats-server back on its port with its stream")
        [second] = servers_on(folder, "nats-server")
        assert second.pid != first.pid
    assert servers_on(folder, "nats-server") == []


async def test_a_killed_postgres_comes_back_on_its_socket_with_its_data(tmp_dir: Path) -> None:
    folder = tmp_dir / "pg"
    with embedded_postgres(folder) as url:
        conn = await asyncpg.connect(url)
        await conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)")
        await conn.close()
        postmaster = psutil.Process(int((folder / "postmaster.pid").read_text().split()[0]))
        postmaster.send_signal(signal.SIGKILL)

        async def back() -> bool:
            conn = await asyncpg.connect(url, timeout=2)
            try:
                return await conn.fetchval("SELECT count(*) FROM kept") == 1
            finally:
                await conn.close()

        await eventually(back, "PostgreSQL back on its socket with its data")
        pid = int((folder / "postmaster.pid").read_text().split()[0])
        assert pid != postmaster.pid

    async def gone() -> bool:
        return servers_on(folder, "postgres") == []

    await eventually(gone, "PostgreSQL stopped on exit")
