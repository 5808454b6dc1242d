// End-to-end: the built web client in headless Chromium against a real
// `parley serve` (started, killed and restarted by tests/e2e/test_web_client.py,
// which runs this script). Each step waits for a UI state, bounded by timeouts;
// a failed step prints why and exits 1. Besides the workflows it checks the
// phone layout (no sideways scroll at 390 and 360 px), axe-core in the page
// (no serious or critical violation on the inbox, the chat, the new-conversation
// and close dialogs, the snooze menu, the top bar showing Reconnect), the empty
// inbox's words (none yet / none match), and that normal use logs no console
// error — to the end, but for refused connections while the server is down;
// the figures are printed.
//
// Environment: PARLEY_E2E_URL, PARLEY_E2E_ADMIN_TOKEN, PARLEY_E2E_AGENT_TOKEN,
// PARLEY_E2E_CLIENT_TOKEN (client PARLEY_E2E_CLIENT_ID), PARLEY_E2E_SCREENSHOTS
// (a folder), CHROMIUM (default /usr/bin/chromium).
// Control: the script prints "CONTROL <kill-server|start-server>" and waits for
// a line "ok" on stdin (harness.mjs's `control`).
import { DESKTOP, NARROWEST, PHONE, accessible, apiAt, bubbles, check, connected, consoleErrors, control, finish } from "./harness.mjs";
import { firstRowName, input, launch, need, noSidewaysScroll, openPage, row, say, seesOnce, shooter, step } from "./harness.mjs";

const BASE = need("PARLEY_E2E_URL");
const ADMIN = need("PARLEY_E2E_ADMIN_TOKEN");
const AGENT = need("PARLEY_E2E_AGENT_TOKEN");
const CLIENT = need("PARLEY_E2E_CLIENT_TOKEN");
const CLIENT_ID = need("PARLEY_E2E_CLIENT_ID");
const api = apiAt(BASE);
const shot = shooter(process.env.PARLEY_E2E_SCREENSHOTS ?? "");

const dialogs = [];

/** A staff page signed in by the form (`viaForm`) or by a token saved before every load; dialogs are dismissed and noted. */
async function staffPage(browser, token, { viaForm, name }) {
  const page = await openPage(browser, { token: viaForm ? undefined : token, name, echo: true });
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.goto(BASE);
  if (viaForm) {
    await page.getByLabel("Access token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
  }
  await page.getByRole("navigation", { name: "Inbox" }).waitFor();
  await connected(page);
  return page;
}

// -- the scenario ----------------------------------------------------------------------

async function main() {
  const browser = await launch();
  try {
    let alice;
    let bob;
    let conversationId;
    let secondId;
    let serverKilledAt = Infinity; // how many console errors there were when the server was first killed
    const unique = Date.now().toString(36);
    // Each run has a database of its own: plain names make good screenshots.
    const carol = "Carol Jensen";
    const dave = "Dave Okafor";

    await step("alice signs in by pasting a token; bob is signed in too; both are shown by name", async () => {
      // Both have a display name in the staff directory: the client shows it, not their ids.
      await api("PUT", "/api/agents/me", ADMIN, { display_name: "Alice Martin" });
      const named = await api("PUT", "/api/agents/me", AGENT, { display_name: "Bob Stone" });
      await api("GET", `/api/agents?min_position=${named.position}&wait=10`, ADMIN);
      alice = await staffPage(browser, ADMIN, { viaForm: true, name: "alice" });
      bob = await staffPage(browser, AGENT, { viaForm: false, name: "bob" });
      await alice.getByText("Alice Martin (admin)").waitFor();
      // A world with no conversation yet says so (not that filters match nothing).
      for (const page of [alice, bob]) await page.getByTestId("inbox-scroll").getByText("No conversations yet.").waitFor();
    });

    await step("the new-conversation modal validates, then creates a conversation", async () => {
      await alice.getByRole("button", { name: "New conversation" }).click();
      const dialog = alice.getByRole("dialog", { name: "New conversation" });
      await dialog.getByRole("button", { name: "Create conversation" }).click();
      await dialog.getByText("Enter the client's id.").waitFor();
      await dialog.getByText("Enter the client's name.").waitFor();
      await accessible(alice, "the new-conversation dialog with its errors", '[role="dialog"]');
      await dialog.getByLabel("Client id").fill(CLIENT_ID);
      await dialog.getByLabel("Client name").fill(carol);
      await dialog.getByLabel("Priority").selectOption("High");
      await dialog.getByLabel("Summary (optional)").fill("Parcel has not arrived");
      await dialog.getByRole("button", { name: "Create conversation" }).click();
      await dialog.waitFor({ state: "detached" });
      await alice.getByTestId("chat-client").filter({ hasText: carol }).waitFor();
      conversationId = new URL(alice.url()).hash.replace("#/c/", "");
      check(/^[0-9a-f-]{36}$/.test(conversationId), `no conversation id in ${alice.url()}`);
    });

    await step("bob's inbox shows it live; bob opens it", async () => {
      await row(bob, carol).waitFor();
      await row(bob, carol).getByRole("button").click();
      await bob.getByTestId("chat-client").filter({ hasText: carol }).waitFor();
      await connected(bob);
    });

    await step("two staff see each other's messages live, named", async () => {
      await say(alice, "Hello from Alice");
      await seesOnce(bob, "Hello from Alice");
      await say(bob, "Bob here.\nSecond line");
      await seesOnce(alice, "Bob here.");
      await seesOnce(alice, "Hello from Alice");
      check((await input(alice).inputValue()) === "", "the input is not cleared after sending");
      // Senders by display name, never by id.
      await alice.getByTestId("message").filter({ hasText: "Bob here." }).getByTestId("sender").filter({ hasText: "Bob Stone" }).waitFor();
      await bob.getByTestId("message").filter({ hasText: "Hello from Alice" }).getByTestId("sender").filter({ hasText: "Alice Martin" }).waitFor();
    });

    await step("Shift+Enter makes a new line; the character count follows", async () => {
      await input(alice).fill("line one");
      await input(alice).press("Shift+Enter");
      await input(alice).pressSequentially("two");
      check((await input(alice).inputValue()) === "line one\ntwo", "Shift+Enter did not add a line");
      await alice.getByText("12 / 4000").waitFor();
      await input(alice).fill("");
    });

    await step("the typing indicator appears and clears", async () => {
      await input(bob).pressSequentially("typing something", { delay: 20 });
      await alice.getByTestId("typing-indicator").filter({ hasText: "Bob Stone is typing" }).waitFor();
      await input(bob).fill("");
      await alice.getByTestId("typing-indicator").waitFor({ state: "detached", timeout: 10_000 });
    });

    await step("a client's message (HTTP API, client token) appears live, is announced, and bumps the inbox", async () => {
      const second = await api("POST", "/api/conversations", CLIENT, {
        client: { id: CLIENT_ID, name: dave },
        channel: "whatsapp",
      });
      secondId = second.conversation_id;
      await row(alice, dave).waitFor();
      check((await firstRowName(alice)) === dave, "the new conversation is not first in the inbox");
      await api("POST", "/api/messages", CLIENT, {
        conversation_id: conversationId,
        content: "Where is my parcel?",
        client_message_id: `e2e-${unique}-1`,
      });
      await seesOnce(alice, "Where is my parcel?");
      await seesOnce(bob, "Where is my parcel?");
      // Said to screen readers, politely; the inbox says who wrote last.
      await alice.getByTestId("announcer").filter({ hasText: `New message from ${carol}: Where is my parcel?` }).waitFor({ state: "attached" });
      await row(alice, carol).getByTestId("preview").filter({ hasText: `${carol}: Where is my parcel?` }).waitFor();
      await alice.waitForFunction((name) => {
        const first = document.querySelector('[data-testid="inbox-row"]');
        return first?.textContent?.includes(name);
      }, carol);
    });

    await step("a message in another conversation: unread badge and a chime; opening it marks it read for that agent only", async () => {
      const chimesBefore = await alice.evaluate(() => window.__parleyChimes ?? 0);
      await api("POST", "/api/messages", CLIENT, {
        conversation_id: secondId,
        content: "Also, a second question",
        client_message_id: `e2e-${unique}-2`,
      });
      const badge = row(alice, dave).getByTestId("unread-badge");
      await badge.filter({ hasText: "1" }).waitFor();
      await alice.waitForFunction((n) => (window.__parleyChimes ?? 0) > n, chimesBefore);
      await row(alice, dave).getByRole("button").click();
      await seesOnce(alice, "Also, a second question");
      await badge.waitFor({ state: "detached" });
      // Read state is each agent's own: Bob has not read it, so his badge stays.
      await row(bob, dave).getByTestId("unread-badge").filter({ hasText: "1" }).waitFor();
      await row(alice, carol).getByRole("button").click();
      await seesOnce(alice, "Where is my parcel?");
      await connected(alice);
    });

    await step("the inbox filters by priority and client name", async () => {
      await bob.getByLabel("Priority filter").selectOption("High");
      await row(bob, dave).waitFor({ state: "detached" });
      await row(bob, carol).waitFor();
      await bob.getByLabel("Priority filter").selectOption("");
      await bob.getByLabel("Client name").fill("okafor");
      await row(bob, carol).waitFor({ state: "detached" });
      await row(bob, dave).waitFor();
      // A filter matching nothing says so, not that there are no conversations at all.
      const empty = bob.getByTestId("inbox-scroll").getByText("No conversations match these filters.");
      await bob.getByLabel("Client name").fill("nobody by this name");
      await empty.waitFor();
      check((await bob.getByText("No conversations yet.").count()) === 0, "a filter with no match says there are no conversations yet");
      await bob.getByLabel("Client name").fill("");
      await row(bob, carol).waitFor();
    });

    await step("read ticks: the client reads alice's messages, alice sees ✓✓", async () => {
      await say(alice, "Your parcel left the depot this morning; it arrives tomorrow.");
      await seesOnce(alice, "Your parcel left the depot");
      await alice.locator('[data-testid="message"][data-seq]').filter({ hasText: "left the depot" }).waitFor();
      await api("PATCH", "/api/messages/mark-read", CLIENT, { conversation_id: conversationId });
      const ticks = alice.locator('[data-testid="message"]').filter({ hasText: "left the depot" }).getByTestId("ticks");
      await ticks.and(alice.locator('[data-read="true"]')).waitFor();
      check((await ticks.innerText()).includes("✓✓"), "a read message does not show ✓✓");
      await row(bob, carol).getByTestId("preview").filter({ hasText: "Alice Martin: Your parcel left the depot" }).waitFor();
    });

    await step("screenshots of the inbox and the chat window; axe finds nothing serious on either", async () => {
      await bob.goto(BASE);
      await bob.getByRole("navigation", { name: "Inbox" }).waitFor();
      await connected(bob);
      // The first Tab stop is the skip link; it moves focus past the top bar.
      await bob.keyboard.press("Tab");
      check(
        (await bob.evaluate(() => document.activeElement?.textContent)) === "Skip to main content",
        "the first Tab stop is not the skip link",
      );
      await bob.keyboard.press("Enter");
      check((await bob.evaluate(() => document.activeElement?.id)) === "content", "the skip link did not move focus");
      await api("POST", "/api/messages", CLIENT, {
        conversation_id: secondId,
        content: "Could you also check my refund?",
      });
      await row(bob, dave).getByTestId("unread-badge").waitFor();
      await row(alice, dave).getByTestId("unread-badge").waitFor();
      await row(bob, carol).filter({ hasText: "left the depot" }).waitFor();
      await shot(bob, "inbox");
      await shot(alice, "chat-window");
      await accessible(bob, "the inbox");
      await accessible(alice, "the chat window");
      await row(bob, carol).getByRole("button").click();
      await seesOnce(bob, "Your parcel left the depot");
      await connected(bob);
    });

    await step("message content is text: no HTML runs", async () => {
      const xss = "<img src=x onerror=alert(1)>";
      await say(alice, xss);
      await api("POST", "/api/messages", CLIENT, { conversation_id: conversationId, content: xss });
      for (const page of [alice, bob]) {
        await bubbles(page, xss).nth(1).waitFor();
        const shown = await bubbles(page, xss).count();
        check(shown === 2, `the XSS message is shown as text ${shown} times, not twice`);
        check((await page.locator('img[src="x"]').count()) === 0, "an <img> from a message reached the DOM");
      }
      check(dialogs.length === 0, `a dialog opened: ${dialogs.join(", ")}`);
    });

    await step("a priority change in the header reaches the other staff's header and inbox live", async () => {
      const header = (page) => page.getByRole("region", { name: `Conversation with ${carol}` }).getByLabel("Conversation priority", { exact: true });
      await header(alice).selectOption("Low");
      await bob.waitForFunction(() => {
        const select = [...document.querySelectorAll("header select")].find((s) => s.closest("section"));
        return select?.value === "Low";
      });
      await row(bob, carol).filter({ hasText: "Low" }).waitFor();
      await header(alice).selectOption("High");
      await row(bob, carol).filter({ hasText: "High" }).waitFor();
    });

    await step("closing asks first, takes a reason, leaves an entry in the timeline; reopening enables the input", async () => {
      await alice.getByRole("button", { name: "Close", exact: true }).click();
      const dialog = alice.getByRole("dialog", { name: "Close this conversation?" });
      await dialog.waitFor();
      await accessible(alice, "the close-confirmation dialog", '[role="dialog"]');
      await shot(alice, "close-dialog");
      await dialog.getByRole("button", { name: "Cancel" }).click();
      await dialog.waitFor({ state: "detached" });
      check((await alice.getByTestId("chat-status").innerText()) === "Active", "Cancel closed the conversation");
      await alice.getByRole("button", { name: "Close", exact: true }).click();
      await dialog.getByLabel("Reason (optional)").fill("Resolved by phone");
      await dialog.getByRole("button", { name: "Close conversation" }).click();
      await alice.getByTestId("chat-status").filter({ hasText: "Closed" }).waitFor();
      await alice.waitForFunction(() => document.querySelector("textarea")?.disabled === true);
      await bob.waitForFunction(() => document.querySelector("textarea")?.disabled === true);
      for (const page of [alice, bob]) {
        await page
          .getByTestId("status-entry")
          .filter({ hasText: "Alice Martin closed the conversation · Reason: Resolved by phone" })
          .waitFor();
      }
      await alice.getByRole("button", { name: "Reopen" }).click();
      await alice.getByTestId("chat-status").filter({ hasText: "Active" }).waitFor();
      await alice.waitForFunction(() => document.querySelector("textarea")?.disabled === false);
      await bob.waitForFunction(() => document.querySelector("textarea")?.disabled === false);
      await bob.getByTestId("status-entry").filter({ hasText: "Alice Martin reopened the conversation" }).waitFor();
    });

    await step("a closed conversation's unread badge clears when it is opened", async () => {
      await api("POST", "/api/messages", CLIENT, {
        conversation_id: secondId,
        content: "One more thing before you close",
        client_message_id: `e2e-${unique}-3`,
      });
      await row(alice, dave).getByTestId("unread-badge").waitFor();
      await api("PATCH", `/api/conversations/${secondId}/status`, ADMIN, { status: "closed", reason: "Answered" });
      await row(alice, dave).filter({ hasText: "closed" }).getByTestId("unread-badge").waitFor();
      await row(alice, dave).getByRole("button").click();
      await seesOnce(alice, "One more thing before you close");
      await row(alice, dave).getByTestId("unread-badge").waitFor({ state: "detached" });
      await alice.getByTestId("status-entry").filter({ hasText: "Alice Martin closed the conversation · Reason: Answered" }).waitFor();
      await api("PATCH", `/api/conversations/${secondId}/status`, ADMIN, { status: "active" });
      await row(alice, carol).getByRole("button").click();
      await seesOnce(alice, "Where is my parcel?");
      await connected(alice);
    });

    await step("pending and snooze from the header, live to the other staff; the inbox filters by status", async () => {
      const badge = (page) => page.getByTestId("chat-status");
      const status = (page, value) => page.getByLabel("Status filter").selectOption(value);
      await alice.getByRole("button", { name: "Mark pending" }).click();
      await badge(alice).filter({ hasText: "Pending" }).waitFor();
      await badge(bob).filter({ hasText: "Pending" }).waitFor();
      await row(bob, carol).locator('[data-testid="status-badge"][data-status="pending"]').waitFor();
      await status(bob, "pending");
      await row(bob, dave).waitFor({ state: "detached" });
      await row(bob, carol).waitFor();

      await alice.getByRole("button", { name: "Snooze" }).click();
      const presets = alice.getByRole("group", { name: "Snooze until" });
      await presets.waitFor();
      await accessible(alice, "the open snooze menu", '[role="group"][aria-label="Snooze until"]');
      await presets.getByRole("button", { name: "For 1 hour" }).click();
      await badge(alice).filter({ hasText: "Snoozed until" }).waitFor();
      await badge(bob).filter({ hasText: "Snoozed until" }).waitFor();
      await row(bob, carol).waitFor({ state: "detached" }); // no longer pending
      await status(bob, "snoozed");
      await row(bob, carol).getByTestId("status-badge").filter({ hasText: "Snoozed until" }).waitFor();
      await row(bob, dave).waitFor({ state: "detached" });
      await row(alice, carol).getByTestId("status-badge").filter({ hasText: "Snoozed until" }).waitFor();
      await shot(alice, "chat-snoozed");
      await alice.setViewportSize(PHONE);
      await alice.getByRole("navigation", { name: "Inbox" }).waitFor({ state: "hidden" });
      await shot(alice, "chat-snoozed-phone");
      await alice.setViewportSize(DESKTOP);

      await alice.getByRole("button", { name: "Unsnooze" }).click();
      await badge(alice).filter({ hasText: "Active" }).waitFor();
      await badge(bob).filter({ hasText: "Active" }).waitFor();
      await row(bob, carol).waitFor({ state: "detached" });
      await status(bob, "");
      await row(bob, carol).waitFor();
      check((await row(bob, carol).getByTestId("status-badge").count()) === 0, "an active row still shows a badge");
    });

    await step("at a phone's 390 × 844: inbox and chat are two screens, Back and the browser's back work; nothing scrolls sideways (360 px and desktop too)", async () => {
      // A long URL must wrap inside its bubble, not widen the page.
      await say(alice, `Track it here: https://parcels.example.com/track/${"0123456789abcdef".repeat(12)}?lang=en`);
      await seesOnce(alice, "Track it here");
      await alice.setViewportSize(PHONE);
      await alice.getByRole("navigation", { name: "Inbox" }).waitFor({ state: "hidden" });
      await bubbles(alice, "Track it here").scrollIntoViewIfNeeded();
      const url = await bubbles(alice, "Track it here").evaluate((p) => ({ right: p.getBoundingClientRect().right, inner: p.scrollWidth <= p.clientWidth }));
      check(url.right <= PHONE.width && url.inner, `the long URL does not wrap inside its bubble: ${JSON.stringify(url)}`);
      await noSidewaysScroll(alice, "the chat screen");
      await shot(alice, "chat-phone");
      await alice.getByRole("button", { name: "Back" }).click();
      await row(alice, carol).waitFor();
      await alice.getByRole("region", { name: `Conversation with ${carol}` }).waitFor({ state: "detached" });
      await noSidewaysScroll(alice, "the inbox screen");
      await shot(alice, "inbox-phone");
      // The browser's back (a phone's back gesture) leaves a conversation for the inbox, forward returns.
      await row(alice, carol).getByRole("button").click();
      await alice.getByTestId("chat-client").filter({ hasText: carol }).waitFor();
      await connected(alice);
      await alice.goBack();
      await row(alice, carol).waitFor();
      await alice.getByTestId("chat-client").waitFor({ state: "detached" });
      await alice.goForward();
      await alice.getByTestId("chat-client").filter({ hasText: carol }).waitFor();
      await noSidewaysScroll(alice, "the chat screen after going forward");
      await alice.setViewportSize(NARROWEST);
      await noSidewaysScroll(alice, "the chat screen");
      await alice.setViewportSize(DESKTOP);
      await alice.getByRole("navigation", { name: "Inbox" }).waitFor();
      await noSidewaysScroll(alice, "the inbox beside the chat");
      await connected(alice);
    });

    await step("no console errors in normal use", async () => {
      check(consoleErrors.length === 0, `console errors:\n  ${consoleErrors.join("\n  ")}`);
    });

    await step("a long conversation opens at the first unread message and loads older ones on scrolling up", async () => {
      const long = await api("POST", "/api/conversations", CLIENT, {
        client: { id: CLIENT_ID, name: "Erin Long" },
        channel: "email",
      });
      for (let i = 1; i <= 60; i++) {
        await api("POST", "/api/messages", CLIENT, {
          conversation_id: long.conversation_id,
          content: `Long story, part ${String(i).padStart(2, "0")}`,
        });
      }
      await row(alice, "Erin Long").getByTestId("unread-badge").filter({ hasText: "60" }).waitFor();
      await row(alice, "Erin Long").getByRole("button").click();
      // The newest page holds parts 11–60; the first unread on it is part 11, shown on opening.
      await bubbles(alice, "Long story, part 11").waitFor();
      const firstUnread = alice.locator("[data-first-unread]");
      await firstUnread.waitFor();
      const inView = await firstUnread.evaluate((element) => {
        const own = element.getBoundingClientRect();
        const box = element.closest('[role="region"]').getBoundingClientRect();
        return own.top >= box.top && own.bottom <= box.bottom;
      });
      check(inView, "the first unread message is not scrolled into view");
      // Scrolling to the top loads the older page.
      await alice.getByRole("region", { name: "Messages" }).evaluate((box) => box.scrollTo(0, 0));
      await bubbles(alice, "Long story, part 01").waitFor();
      check((await bubbles(alice, "Long story, part").count()) === 60, "not every part is shown once");
      await row(alice, "Erin Long").getByTestId("unread-badge").waitFor({ state: "detached" });
      await row(alice, carol).getByRole("button").click();
      await seesOnce(alice, "Where is my parcel?");
      await connected(alice);
    });

    await step("the server is killed; a failed action's banner goes on reconnecting; a message queued offline arrives once", async () => {
      serverKilledAt = consoleErrors.length;
      await control("kill-server");
      await alice.locator('[data-testid="connection-status"][data-state="reconnecting"]').waitFor();
      // An action fails while the server is away; its banner goes once the connection is back.
      await alice.getByRole("button", { name: "Mark pending" }).click();
      const banner = alice.getByRole("alert").filter({ hasText: "network_error" });
      await banner.waitFor();
      const text = "Sent while the server was down";
      await say(alice, text);
      await alice.getByTestId("pending").filter({ hasText: "Queued" }).waitFor();
      await control("start-server");
      await connected(alice);
      await banner.waitFor({ state: "detached" });
      await alice.getByTestId("pending").waitFor({ state: "detached", timeout: 30_000 });
      await seesOnce(alice, text);
      await connected(bob);
      await seesOnce(bob, text);
      const page = await api("GET", `/api/messages?conversation_id=${conversationId}&limit=100`, ADMIN);
      const stored = page.items.filter((m) => m.content === text);
      check(stored.length === 1, `stored ${stored.length} times`);
    });

    await step("the manual reconnect button and sign-out work", async () => {
      await control("kill-server");
      // While the server is down the button stays (nothing can connect); a
      // click makes a new attempt at once, which fails; then the server returns.
      const reconnect = alice.getByRole("button", { name: "Reconnect" });
      await reconnect.waitFor();
      await accessible(alice, "the top bar with the Reconnect button", 'header:has([data-testid="connection-status"])');
      const attempt = alice.waitForEvent("websocket");
      await reconnect.click();
      await attempt;
      await control("start-server");
      await connected(alice);
      await alice.getByRole("button", { name: "Sign out" }).click();
      await alice.getByLabel("Access token").waitFor();
    });

    await step("no console errors to the end but the refused connections while the server was down", async () => {
      // With the server killed, Chromium logs every fetch and socket attempt that
      // finds nothing listening (ERR_CONNECTION_REFUSED): those are expected from
      // the first kill on, and nothing else, ever.
      const refused = /^(alice|bob): (Failed to load resource|WebSocket connection to 'ws:[^']*' failed: Error in connection establishment): net::ERR_CONNECTION_REFUSED$/;
      const unexpected = consoleErrors.filter((error, i) => i < serverKilledAt || !refused.test(error));
      check(unexpected.length === 0, `console errors:\n  ${unexpected.join("\n  ")}`);
      console.log(`  ${consoleErrors.length} console errors, each a connection refused while the server was down`);
    });
  } finally {
    await browser.close();
  }
}

finish(main());
