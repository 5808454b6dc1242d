"""The web client's chat features in a real browser (web/e2e/chat_features.mjs,
playwright-core driving Debian's headless Chromium) against a real `parley
serve` and `parley worker` on a database of its own: search from the top bar,
presence dots, drafts across conversations and reloads, a token refreshed in
place (the sockets resume with it at the old token's expiry) and per-agent
unread in the tab title. Screenshots of the search results and the presence
dots (1280x800 and 390x844) go to /tmp/chat-*.png."""

from __future__ import annotations

from pathlib import Path

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


system = system_fixture()


async def test_chat_features_in_a_real_browser(system: System) -> None:
    env = staff_env(system.server.url) | {
        "PARLEY_E2E_JWT_SECRET": SECRET,  # the script signs alice a short-lived token
        "PARLEY_E2E_SHOTS": str(SHOTS),
    }
    await run_browser("chat_features.mjs", env, system, TIMEOUT)
    names = ("search-desktop", "search-phone", "presence-desktop", "presence-phone")
    shots_saved(SHOTS, (f"chat-{name}" for name in names))
