"""What the browser tests of the web client share: the tools they need
(Node.js, Debian's Chromium, the built client), staff tokens, a real
`parley serve` the script may kill and start again, `parley worker`, and
running a playwright-core script (web/e2e/*.mjs) that talks to the test
through ``CONTROL <command>`` lines on its stdout, answered ``ok`` on its
stdin, so every process stays owned by the test and is stopped at the end
(``run_browser``: the run, its checks and its output; ``staff_env``: the
usual tokens; ``shots_saved``: its screenshots). The scripts' own shared
helpers are web/e2e/harness.mjs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from commands.auth import issue_token
from tests.conftest import MakeDatabase
from tests.e2e.conftest import free_port
from tests.processes import Process

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PARLEY = str(Path(sys.executable).with_name("parley"))
SECRET = "web-e2e-secret-that-is-at-least-32-bytes-long"
START_TIMEOUT = 60.0


def require_tools() -> str:
    """Node.js's path; fails the test, saying what to do, when a tool is missing."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is not installed: the web e2e test needs node 20+ (make test)")
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); "
            "`make test` does it"
        )
    if not (WEB / "dist" / "index.html").is_file():
        pytest.fail("the web client is not built: run `make web` (make test builds it)")
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        pytest.fail("web/node_modules is missing: run `make web` (npm ci)")
    return node


def token(sub: str, role: str, client_id: str | None = None) -> str:
    """An hour's token for ``sub``, signed with the servers' SECRET."""
    now = datetime.now(UTC)
    return issue_token(
        SECRET, sub=sub, role=role, client_id=client_id, ttl=timedelta(hours=1), now=now
    )


def staff_env(url: str, client_id: str = "c-web") -> dict[str, str]:
    """A script's usual environment: the server's URL, alice (admin) and bob
    (agent) tokens, and client ``client_id`` (carol) with a token of theirs."""
    return {
        "PARLEY_E2E_URL": url,
        "PARLEY_E2E_ADMIN_TOKEN": token("alice", "admin"),
        "PARLEY_E2E_AGENT_TOKEN": token("bob", "agent"),
        "PARLEY_E2E_CLIENT_ID": client_id,
        "PARLEY_E2E_CLIENT_TOKEN": token("carol", "client", client_id),
    }


def shots_saved(folder: Path, names: Iterable[str]) -> None:
    """Every ``<folder>/<name>.png`` was written, and holds a real picture (over 10 kB)."""
    for name in names:
        assert (folder / f"{name}.png").stat().st_size > 10_000, name


class Server:
    """`parley serve` on a fixed port, which the test can kill and start again."""

    def __init__(self, env: dict[str, str], port: int, log: Path):
        self.url = f"http://127.0.0.1:{port}"
        self.process = Process([PARLEY, "serve", "--log-level", "warning"], log, env)

    async def start(self) -> None:
        self.process.start()
        deadline = time.monotonic() + START_TIMEOUT
        async with httpx.AsyncClient(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if not self.process.running:
                    break
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{self.url}/health/live")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        self.process.stop()
        pytest.fail(f"parley serve did not start:\n{self.process.log_tail()}")


@dataclass(frozen=True)
class System:
    server: Server
    worker: Process
    database_url: str

    def logs(self) -> str:
        return (
            f"\n--- serve log ---\n{self.server.process.log_tail()}"
            f"\n--- worker log ---\n{self.worker.log_tail()}"
        )


@contextlib.asynccontextmanager
async def running_system(
    database_url: str,
    nats_url: str,
    nats_prefix: str,
    folder: Path,
    prepare: Callable[[str], Awaitable[None]] | None = None,
    settings: dict[str, str] | None = None,
) -> AsyncIterator[System]:
    """`parley worker` and `parley serve` on ``database_url`` (a database of
    this test's own) and a NATS prefix of their own, with ``settings`` (more
    ``PARLEY_*`` variables); ``prepare`` runs on the database first. Both are
    stopped on the way out, whatever happened."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env |= {
        "PARLEY_DATABASE_URL": database_url,
        "PARLEY_NATS_URL": nats_url,
        "PARLEY_NATS_PREFIX": f"{nats_prefix}w{uuid.uuid4().hex[:6]}",
        "PARLEY_JWT_SECRET": SECRET,
        "PARLEY_HTTP_PORT": str(free_port()),
        **(settings or {}),
    }
    if prepare is not None:
        await prepare(database_url)
    server = Server(env, int(env["PARLEY_HTTP_PORT"]), folder / "serve.log")
    worker = Process([PARLEY, "worker"], folder / "worker.log", env)
    worker.start()
    try:
        await server.start()
        yield System(server, worker, database_url)
    finally:
        server.process.stop()
        worker.stop()


def system_fixture() -> object:
    """A test module's ``system`` fixture (``system = system_fixture()``):
    `running_system` on a database of the test's own, in its ``tmp_path``."""

    @pytest.fixture(name="system")
    async def _system(
        make_database: MakeDatabase, nats_url: str, nats_prefix: str, tmp_path: Path
    ) -> AsyncIterator[System]:
        async with running_system(
            await make_database(), nats_url, nats_prefix, tmp_path
        ) as running:
            yield running

    return _system


async def run_script(
    node: str, script: str, env: dict[str, str], server: Server, timeout: float
) -> tuple[int | None, str]:
    """Run ``web/e2e/<script>`` to its end (or ``timeout``), obeying its
    ``CONTROL kill-server`` / ``CONTROL start-server`` lines; its exit code
    (None: timed out, then killed with the Chromium it started) and output."""
    process = await asyncio.create_subprocess_exec(
        node,
        str(WEB / "e2e" / script),
        cwd=WEB,
        env={**os.environ, "CHROMIUM": CHROMIUM, **env},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdin is not None and process.stdout is not None
    output: list[str] = []

    async def converse() -> None:
        assert process.stdin is not None and process.stdout is not None
        while line := (await process.stdout.readline()).decode(errors="replace"):
            output.append(line.rstrip())
            if not line.startswith("CONTROL "):
                continue
            command = line.split(" ", 1)[1].strip()
            if command == "kill-server":
                server.process.kill()
            elif command == "start-server":
                await server.start()
            else:
                raise AssertionError(f"unknown control command {command!r}")
            process.stdin.write(b"ok\n")
            await process.stdin.drain()

    code: int | None = None
    try:
        async with asyncio.timeout(timeout):
            await converse()
            code = await process.wait()
    except TimeoutError:
        code = None
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)  # node and the Chromium it started
            await process.wait()
    return code, "\n".join(output)


async def run_browser(
    script: str,
    env: dict[str, str],
    system: System,
    timeout: float,
    *,
    what: str = "the browser run",
    passed: str | None = "e2e: all steps passed",
) -> str:
    """Run ``web/e2e/<script>`` against ``system`` (after ``require_tools``)
    and fail the test, with its output and the servers' logs, unless it ends
    within ``timeout`` with exit code 0 (and, unless None, prints ``passed``);
    its output, also printed (the steps and their times: pytest -s)."""
    node = require_tools()
    code, report = await run_script(node, script, env, system.server, timeout)
    assert code is not None, f"{what} took over {timeout:g} s:\n{report}{system.logs()}"
    assert code == 0, f"{what} failed:\n{report}{system.logs()}"
    if passed is not None:
        assert passed in report
    print(report)
    return report
