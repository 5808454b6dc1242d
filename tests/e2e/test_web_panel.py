"""The web client's conversation panel, top bar and shortcuts in a real
browser (web/e2e/panel.mjs, playwright-core driving Debian's headless
Chromium) against a real `parley serve` and `parley worker` on a database of
its own, with two staff browsers: assigning to oneself, the other agent and
a team (seen live by the other), a label (on the inbox row too, with the
waiting time), the inbox's Unassigned tab, filters, order and arrow-key
focus, the contact panel, a merge after its confirmation, availability,
a mention in the bell (desktop notifications asked for only on a click),
the keyboard shortcuts and the channel filter.
Screenshots of the panel (1280x800, and its sheet at 390x844) go to the
test's own folder (panel-desktop.png, panel-phone.png)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.web_harness import System, run_browser, shots_saved, staff_env, system_fixture

TIMEOUT = 180.0

system = system_fixture()


async def test_the_conversation_panel_in_a_real_browser(system: System, tmp_path: Path) -> None:
    env = staff_env(system.server.url, "c-panel") | {"PARLEY_E2E_SHOTS": str(tmp_path)}
    await run_browser("panel.mjs", env, system, TIMEOUT)
    shots_saved(tmp_path, ("panel-desktop", "panel-phone"))
