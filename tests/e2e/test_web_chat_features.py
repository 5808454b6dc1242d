"""The web client's chat features in a real browser (web/e2e/chat_features.mjs,
playwright-core driving Debian's headless Chromium) against a real `parley
serve` and `parley worker` on a database of its own: search from the top bar,
presence dots, drafts across conversations and reloads, a token refreshed in
place (the sockets resume with it at the old token's expiry) and per-agent
unread in the tab title. Screenshots of the search results and the presence
dots (1280x800 and 390x844) go to /tmp/chat-*.png."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from commands.auth import issue_token
from tests.e2e.web_harness import (
    SECRET,
    System,
    run_browser,
    shots_saved,
    staff_env,
    system_fixture,
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


system = system_fixture()


async def test_chat_features_in_a_real_browser(system: System) -> None:
    env = staff_env(system.server.url) | {
        "PARLEY_E2E_SHORT_TOKEN": about_to_expire(),
        "PARLEY_E2E_SHOTS": str(SHOTS),
    }
    await run_browser("chat_features.mjs", env, system, TIMEOUT)
    names = ("search-desktop", "search-phone", "presence-desktop", "presence-phone")
    shots_saved(SHOTS, (f"chat-{name}" for name in names))
