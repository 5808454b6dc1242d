"""The web client (web/): how `parley serve` serves it, and the browser
end-to-end run (web/e2e/run.mjs, playwright-core driving Debian's headless
Chromium) against a real `parley serve` and `parley worker` on this run's
PostgreSQL and NATS. The script asks this test to kill and restart the server
(a line ``CONTROL kill-server`` / ``CONTROL start-server`` on its stdout,
answered ``ok`` on its stdin), so every process stays owned here and is
stopped at the end whatever happens. It also checks the phone layout, axe-core's
accessibility audit and the console (see the script's header).

Node.js, Chromium and the built client (``make web``) are required: their
absence fails the test with what to do (``make test`` installs and builds them).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from litestar import Litestar, Router, get
from litestar.testing import TestClient

from commands.auth import decode_token, issue_token
from parley.web import NOT_BUILT, web_routes
from tests.conftest import MakeDatabase
from tests.e2e.conftest import free_port
from tests.processes import Process

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PARLEY = str(Path(sys.executable).with_name("parley"))
SECRET = "web-e2e-secret-that-is-at-least-32-bytes-long"
E2E_TIMEOUT = 240.0
START_TIMEOUT = 60.0


# -- serving the page (no browser) ---------------------------------------------------------


@get("/conversations", sync_to_thread=False)
def _conversations() -> dict[str, list[str]]:
    return {"items": []}


def _client(
    tmp_path: Path, *, dev_sign_in: bool = False, built: bool = True
) -> TestClient[Litestar]:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    if built:
        (dist / "index.html").write_text("<!doctype html><title>Parley</title>")
    (dist / "assets" / "app-1234.js").write_text("console.log('hi')")
    (tmp_path / "secret.txt").write_text("not for you")
    routes = web_routes(SECRET, dev_sign_in=dev_sign_in, dist=dist)
    return TestClient(Litestar([Router("/api", route_handlers=[_conversations]), *routes]))


def test_the_page_is_served_at_the_root_with_a_fallback_for_client_routes(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        for path in ("/", "/c/8f0c", "/some/deep/link"):
            page = client.get(path)
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            assert "<title>Parley</title>" in page.text
        asset = client.get("/assets/app-1234.js")
        assert asset.text == "console.log('hi')"
        assert "immutable" in asset.headers["cache-control"]
        assert "not for you" not in client.get("/../secret.txt").text
        assert "not for you" not in client.get("/%2e%2e/secret.txt").text


def test_the_page_never_shadows_the_server_s_own_paths(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        assert client.get("/api/conversations").json() == {"items": []}
        for path in ("/api/nothing", "/ws/nothing", "/health/nothing", "/metrics/x", "/schema/x"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert "<title>Parley</title>" not in response.text


def test_an_unbuilt_client_says_how_to_build_it(tmp_path: Path) -> None:
    with _client(tmp_path, built=False) as client:
        assert client.get("/").text == NOT_BUILT


def test_dev_sign_in_is_off_unless_asked_for(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        assert client.get("/web/config").json() == {"dev_sign_in": False}
        # 404, not 405: the page's catch-all GET route must not claim the path.
        refused = client.post("/web/dev-sign-in")
        assert refused.status_code == 404
        assert "token" not in refused.text
    with _client(tmp_path / "dev", dev_sign_in=True) as client:
        assert client.get("/web/config").json() == {"dev_sign_in": True}
        token = client.post("/web/dev-sign-in").json()["token"]
        assert decode_token(SECRET, token).role == "admin"


# -- the browser end-to-end run ------------------------------------------------------------


def _require_tools() -> str:
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


def _token(sub: str, role: str, client_id: str | None = None) -> str:
    now = datetime.now(UTC)
    return issue_token(
        SECRET, sub=sub, role=role, client_id=client_id, ttl=timedelta(hours=1), now=now
    )


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


@pytest.fixture
async def system(
    make_database: MakeDatabase, nats_url: str, nats_prefix: str, tmp_path: Path
) -> AsyncIterator[tuple[Server, Process]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env |= {
        "PARLEY_DATABASE_URL": await make_database(),
        "PARLEY_NATS_URL": nats_url,
        "PARLEY_NATS_PREFIX": f"{nats_prefix}w{uuid.uuid4().hex[:6]}",
        "PARLEY_JWT_SECRET": SECRET,
        "PARLEY_HTTP_PORT": str(free_port()),
    }
    server = Server(env, int(env["PARLEY_HTTP_PORT"]), tmp_path / "serve.log")
    worker = Process([PARLEY, "worker"], tmp_path / "worker.log", env)
    worker.start()
    try:
        await server.start()
        yield server, worker
    finally:
        server.process.stop()
        worker.stop()


async def test_the_web_client_in_a_real_browser(system: tuple[Server, Process]) -> None:
    node = _require_tools()
    server, worker = system
    async with httpx.AsyncClient(base_url=server.url) as http:
        # `parley serve` never hands out tokens: the dev sign-in is `parley run`'s alone.
        assert (await http.get("/web/config")).json() == {"dev_sign_in": False}
        assert (await http.post("/web/dev-sign-in")).status_code == 404
        page = await http.get("/c/some-client-route")
        assert page.status_code == 200
        assert '<div id="root">' in page.text
    env = {
        **os.environ,
        "PARLEY_E2E_URL": server.url,
        "PARLEY_E2E_ADMIN_TOKEN": _token("alice", "admin"),
        "PARLEY_E2E_AGENT_TOKEN": _token("bob", "agent"),
        "PARLEY_E2E_CLIENT_ID": "c-web",
        "PARLEY_E2E_CLIENT_TOKEN": _token("carol", "client", "c-web"),
        "PARLEY_E2E_SCREENSHOTS": str(SCREENSHOTS),
        "CHROMIUM": CHROMIUM,
    }
    script = await asyncio.create_subprocess_exec(
        node,
        str(WEB / "e2e" / "run.mjs"),
        cwd=WEB,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert script.stdin is not None and script.stdout is not None
    output: list[str] = []

    async def converse() -> None:
        assert script.stdin is not None and script.stdout is not None
        while line := (await script.stdout.readline()).decode(errors="replace"):
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
            script.stdin.write(b"ok\n")
            await script.stdin.drain()

    try:
        async with asyncio.timeout(E2E_TIMEOUT):
            await converse()
            code = await script.wait()
    except TimeoutError:
        code = None
    finally:
        if script.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(script.pid, 9)  # node and the Chromium it started
            await script.wait()
    report = "\n".join(output)
    logs = (
        f"\n--- serve log ---\n{server.process.log_tail()}\n--- worker log ---\n{worker.log_tail()}"
    )
    assert code is not None, f"the browser run took over {E2E_TIMEOUT:g} s:\n{report}{logs}"
    assert code == 0, f"the browser run failed:\n{report}{logs}"
    assert "e2e: all steps passed" in report
    print(report)  # the steps and their times (pytest -s)
    for name in (
        "inbox",
        "chat-window",
        "close-dialog",
        "chat-snoozed",
        "chat-snoozed-phone",
        "inbox-phone",
        "chat-phone",
    ):
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 10_000
