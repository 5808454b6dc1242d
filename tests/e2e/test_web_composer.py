"""The web client's composer and timeline in a real browser (web/e2e/composer.mjs,
playwright-core driving Debian's headless Chromium) against a real `parley
serve` and `parley worker` on a database of its own: two staff browsers and a
client. A private note with an @mention (the mentioned agent sees it and is
notified; the client's API view and socket never get it), a canned response
inserted via `/`, an image uploaded by the picker (its progress bar) and one
pasted (thumbnails, the lightbox), a broken image said in words, a refused
file type, the stale-action guard (Review, Send anyway), axe-core on the
composer's listbox and the lightbox, no sideways scroll at 390x844, no
console errors. Screenshots go to docs/screenshots:
chat-note-attachment.png (1280x800) and mobile-chat.png (390x844)."""

from __future__ import annotations

from tests.e2e.web_harness import ROOT, System, run_browser, shots_saved, staff_env, system_fixture

SCREENSHOTS = ROOT / "docs" / "screenshots"
TIMEOUT = 180.0

system = system_fixture()


async def test_composer_in_a_real_browser(system: System) -> None:
    env = staff_env(system.server.url) | {"PARLEY_E2E_SHOTS": str(SCREENSHOTS)}
    await run_browser("composer.mjs", env, system, TIMEOUT)
    shots_saved(SCREENSHOTS, ("chat-note-attachment", "mobile-chat"))
