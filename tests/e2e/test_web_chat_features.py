"""The web client's chat features in a real browser (web/e2e/chat_features.mjs,
playwright-core driving Debian's headless Chromium) against a real `parley
serve` and `parley worker` on a database of its own: search from the top bar,
presence dots, drafts across conversations and reloads, a token refreshed in
place (the sockets resume with it at the old token's expiry) and per-agent
unread in the tab title. Screenshots of the search results and the presence
dots (1280x800 and 390x844) go to /tmp/chat-*.png."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from commands.auth import issue_token
from tests.conftest import MakeDatabase
from tests.e2e.web_harness import (
    SECRET,
    System,
    require_tools,
    run_script,
    running_system,
    token,
)

SHOTS = Path("/tmp")
TIMEOUT = 180.0


def about_to_expire() -> str:
    """Alice's token of 200 s, issued 155 s ago: it expires in 45 s, and the
    page (which refreshes 30 s before the end) must refresh it in 15 s, once
    its sockets are open with it."""
    now = datetime.now(UTC)
    return issue_token(
        SECRET,
        sub="alice",
        role="admin",
        ttl=timedelta(seconds=200),
        now=now - timedelta(seconds=155),
    )


@pytest.fixture
async def system(
    make_database: MakeDatabase, nats_url: str, nats_prefix: str, tmp_path: Path
) -> AsyncIterator[System]:
    async with running_system(await make_database(), nats_url, nats_prefix, tmp_path) as running:
        yield running


async def test_chat_features_in_a_real_browser(system: System) -> None:
    node = require_tools()
    env = {
        "PARLEY_E2E_URL": system.server.url,
        "PARLEY_E2E_ADMIN_TOKEN": token("alice", "admin"),
        "PARLEY_E2E_SHORT_TOKEN": about_to_expire(),
        "PARLEY_E2E_AGENT_TOKEN": token("bob", "agent"),
        "PARLEY_E2E_CLIENT_ID": "c-web",
        "PARLEY_E2E_CLIENT_TOKEN": token("carol", "client", "c-web"),
        "PARLEY_E2E_SHOTS": str(SHOTS),
    }
    code, report = await run_script(node, "chat_features.mjs", env, system.server, TIMEOUT)
    assert code is not None, f"the browser run took over {TIMEOUT:g} s:\n{report}{system.logs()}"
    assert code == 0, f"the browser run failed:\n{report}{system.logs()}"
    assert "e2e: all steps passed" in report
    print(report)  # the steps and their times (pytest -s)
    for name in ("search-desktop", "search-phone", "presence-desktop", "presence-phone"):
        assert (SHOTS / f"chat-{name}.png").stat().st_size > 10_000
