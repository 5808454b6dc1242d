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

from pathlib import Path

import httpx
from litestar import Litestar, Router, get
from litestar.testing import TestClient

from commands.auth import decode_token
from parley.web import NOT_BUILT, web_routes
from tests.e2e.web_harness import (
    ROOT,
    SECRET,
    System,
    require_tools,
    run_browser,
    shots_saved,
    staff_env,
    system_fixture,
)

SCREENSHOTS = ROOT / "docs" / "screenshots"
E2E_TIMEOUT = 240.0

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


system = system_fixture()


async def test_the_web_client_in_a_real_browser(system: System) -> None:
    require_tools()  # first: an unbuilt client would fail the checks below less clearly
    server = system.server
    async with httpx.AsyncClient(base_url=server.url) as http:
        # `parley serve` never hands out tokens: the dev sign-in is `parley run`'s alone.
        assert (await http.get("/web/config")).json() == {"dev_sign_in": False}
        assert (await http.post("/web/dev-sign-in")).status_code == 404
        page = await http.get("/c/some-client-route")
        assert page.status_code == 200
        assert '<div id="root">' in page.text
    env = staff_env(server.url) | {"PARLEY_E2E_SCREENSHOTS": str(SCREENSHOTS)}
    await run_browser("run.mjs", env, system, E2E_TIMEOUT)
    shots_saved(
        SCREENSHOTS,
        (
            "inbox",
            "chat-window",
            "close-dialog",
            "chat-snoozed",
            "chat-snoozed-phone",
            "inbox-phone",
            "chat-phone",
        ),
    )
