"""Parley scaled out on one machine, for rehearsals (docs/SCALING.md): a
three-node NATS JetStream cluster, a PostgreSQL primary and a streaming
replica, two `parley serve` behind HAProxy (health-checked on
``/health/ready``, WebSockets passed through) and two `parley worker`. All
on 127.0.0.1, all under one folder, every process's output in a log there.

``parley cluster up`` starts one and keeps it until Ctrl-C; ``parley cluster
down`` stops one left running (the pids are in ``cluster.json``). The
end-to-end rehearsal (tests/e2e/test_cluster.py) kills its parts one by one.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from parley.embedded import free_port
from parley.errors import StartupError
from parley.nats_cluster import NatsCluster, wait_until_ready
from parley.pg_replication import PostgresNode, make_primary, make_replica

PARLEY = str(Path(sys.executable).with_name("parley"))
READY_TIMEOUT = 60.0
HAPROXY_CONFIG = """\
# Written by parley/local_cluster.py.
global
    maxconn 4000
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    option redispatch
    retries 3
frontend parley
    bind 127.0.0.1:{port}
    default_backend edges
backend edges
    balance roundrobin
    option httpchk GET /health/ready
    http-check expect status 200
    default-server inter 500ms fall 2 rise 2
{servers}
"""


@dataclass
class Process:
    """A child process with its output in ``log``."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as sink:
            self.popen = subprocess.Popen(
                self.command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()

    def stop(self, timeout: float = 10) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class LocalCluster:
    folder: Path
    settings: dict[str, str] = field(default_factory=dict)
    """More PARLEY_* settings for every Parley process."""
    edges: list[Process] = field(default_factory=list)
    workers: list[Process] = field(default_factory=list)
    balancer: Process | None = None
    nats: NatsCluster | None = None
    primary: PostgresNode | None = None
    replica: PostgresNode | None = None
    port: int = 0

    @property
    def url(self) -> str:
        """The balancer's: where clients connect."""
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        """Start everything; return once the balancer has a ready edge."""
        haproxy = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
        if haproxy is None:
            raise StartupError("haproxy not found: install it (make haproxy)")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.nats = NatsCluster(self.folder / "nats")
        self.nats.start()
        asyncio.run(wait_until_ready(self.nats.urls))
        self.primary = make_primary(self.folder / "pg-primary")
        self.replica = make_replica(self.primary, self.folder / "pg-replica")
        env = self.parley_env()
        migrated = subprocess.run([PARLEY, "migrate"], env=env, capture_output=True, check=False)
        if migrated.returncode != 0:
            raise StartupError(f"parley migrate: {migrated.stderr.decode(errors='replace')}")
        for n in range(2):
            port = free_port()
            edge_env = env | {"PARLEY_HTTP_PORT": str(port)}
            self.edges.append(self._process(f"serve-{n}", ["serve"], edge_env))
            self.workers.append(self._process(f"worker-{n}", ["worker"], env))
        self.port = free_port()
        config = self.folder / "haproxy.cfg"
        servers = "\n".join(
            f"    server edge{n} 127.0.0.1:{e.env['PARLEY_HTTP_PORT']} check"
            for n, e in enumerate(self.edges)
        )
        config.write_text(HAPROXY_CONFIG.format(port=self.port, servers=servers))
        self.balancer = Process(
            "haproxy",
            [haproxy, "-db", "-f", str(config)],
            dict(os.environ),
            self.folder / "haproxy.log",
        )
        for process in (*self.edges, *self.workers, self.balancer):
            process.start()
        self._save()
        self.wait_ready()

    def parley_env(self) -> dict[str, str]:
        assert self.nats is not None and self.primary is not None and self.replica is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
        keys = ("PARLEY_JWT_SECRET", "PARLEY_MASTER_KEY")
        return env | {
            "PARLEY_DATABASE_URL": self.primary.url(),
            "PARLEY_READ_DATABASE_URL": self.replica.url(),
            "PARLEY_NATS_URL": self.nats.urls,
            "PARLEY_NATS_REPLICAS": "3",
            "PARLEY_DATA_DIR": str(self.folder),
            "PARLEY_MASTER_KEY": self._master_key(),
            **{k: v for k, v in os.environ.items() if k in keys},
            **self.settings,
        }

    def _master_key(self) -> str:
        """One master key for every process (else each would make its own)."""
        path = self.folder / "master.key.b64"
        if not path.exists():
            path.write_text(base64.b64encode(os.urandom(32)).decode())
            path.chmod(0o600)
        return path.read_text()

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Until the balancer answers /health/ready with 200."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health/ready", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise StartupError(
                    f"the cluster was not ready within {timeout:g} s ({self.folder})"
                )
            time.sleep(0.2)

    def down(self) -> None:
        for process in (self.balancer, *self.edges, *self.workers):
            if process is not None:
                process.stop()
        for node in (self.replica, self.primary):
            if node is not None:
                node.stop("fast")
        if self.nats is not None:
            self.nats.stop()
        (self.folder / "cluster.json").unlink(missing_ok=True)

    def _process(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        return Process(name, [PARLEY, *args], env, self.folder / f"{name}.log")

    def _save(self) -> None:
        """The pids and data folders, for `parley cluster down` from another shell."""
        processes = [p for p in (self.balancer, *self.edges, *self.workers) if p is not None]
        assert self.nats is not None and self.primary is not None and self.replica is not None
        state = {
            "url": self.url,
            "pids": [p.popen.pid for p in processes if p.popen is not None],
            "nats_pids": [s.process.pid for s in self.nats.servers if s.process is not None],
            "postgres": [str(self.replica.data_dir), str(self.primary.data_dir)],
            "postgres_user": self.primary.user,
        }
        (self.folder / "cluster.json").write_text(json.dumps(state, indent=2))


def down_from_state(folder: Path) -> bool:
    """Stop the cluster whose ``cluster.json`` is in ``folder``; False if none."""
    path = folder / "cluster.json"
    if not path.exists():
        return False
    state = json.loads(path.read_text())
    for pid in [*state["pids"], *state["nats_pids"]]:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    for data_dir in state["postgres"]:
        node = PostgresNode(Path(data_dir), 0, state["postgres_user"])
        node.stop("fast")
    path.unlink()
    return True
