// End-to-end: the built web client in headless Chromium against a real
// `parley serve` (started, killed and restarted by tests/e2e/test_web_client.py,
// which runs this script). Each step waits for a UI state, bounded by timeouts;
// a failed step prints why and exits 1.
//
// Environment: PARLEY_E2E_URL, PARLEY_E2E_ADMIN_TOKEN, PARLEY_E2E_AGENT_TOKEN,
// PARLEY_E2E_CLIENT_TOKEN (client PARLEY_E2E_CLIENT_ID), PARLEY_E2E_SCREENSHOTS
// (a folder), CHROMIUM (default /usr/bin/chromium).
// Control: the script prints "CONTROL <kill-server|start-server>" and waits for
// a line "ok" on stdin.
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const env = process.env;
const BASE = need("PARLEY_E2E_URL");
const ADMIN = need("PARLEY_E2E_ADMIN_TOKEN");
const AGENT = need("PARLEY_E2E_AGENT_TOKEN");
const CLIENT = need("PARLEY_E2E_CLIENT_TOKEN");
const CLIENT_ID = need("PARLEY_E2E_CLIENT_ID");
const SHOTS = env.PARLEY_E2E_SCREENSHOTS ?? "";
const STEP_TIMEOUT = 20_000;

function need(name) {
  const value = env[name];
  if (!value) {
    console.error(`e2e: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

// -- control channel to the test that owns the server ------------------------------------

const stdin = createInterface({ input: process.stdin });
const replies = [];
const waiting = [];
stdin.on("line", (line) => {
  const next = waiting.shift();
  if (next) next(line);
  else replies.push(line);
});

function control(command) {
  console.log(`CONTROL ${command}`);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer to ${command}`)), 30_000);
    const done = (line) => {
      clearTimeout(timer);
      if (line.trim() === "ok") resolve();
      else reject(new Error(`${command}: ${line}`));
    };
    const ready = replies.shift();
    if (ready !== undefined) done(ready);
    else waiting.push(done);
  });
}

// -- helpers ---------------------------------------------------------------------------

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function api(method, path, token, body) {
  const response = await fetch(BASE + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json();
  check(response.ok, `${method} ${path}: ${response.status} ${JSON.stringify(data)}`);
  return data;
}

let stepNumber = 0;
async function step(name, body) {
  stepNumber += 1;
  const started = Date.now();
  try {
    await body();
  } catch (error) {
    console.error(`✗ ${stepNumber}. ${name}\n${error?.stack ?? error}`);
    throw error;
  }
  console.log(`✓ ${stepNumber}. ${name} (${Date.now() - started} ms)`);
}

const dialogs = [];

async function staffPage(browser, token, { viaForm }) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(STEP_TIMEOUT);
  if (!viaForm) {
    await context.addInitScript((t) => localStorage.setItem("parley.token", t), token);
  }
  const page = await context.newPage();
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on("pageerror", (error) => console.error(`page error: ${error.message}`));
  await page.goto(BASE);
  if (viaForm) {
    await page.getByLabel("Access token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
  }
  await page.getByRole("navigation", { name: "Inbox" }).waitFor();
  await connected(page);
  return page;
}

const connected = (page) => page.locator('[data-testid="connection-status"][data-state="connected"]').waitFor();
const row = (page, name) => page.getByTestId("inbox-row").filter({ hasText: name });
const input = (page) => page.getByLabel("Message", { exact: true });
const bubbles = (page, text) => page.getByTestId("message-content").filter({ hasText: text });

async function say(page, text) {
  await input(page).fill(text);
  await input(page).press("Enter");
}

async function seesOnce(page, text) {
  await bubbles(page, text).first().waitFor();
  const count = await bubbles(page, text).count();
  check(count === 1, `"${text}" is shown ${count} times`);
}

async function firstRowName(page) {
  return (await page.getByTestId("inbox-row").first().innerText()).split("\n")[0];
}

async function shot(page, name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

// -- the scenario ----------------------------------------------------------------------

async function main() {
  const browser = await chromium.launch({
    executablePath: env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: 30_000,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    let alice;
    let bob;
    let conversationId;
    let secondId;
    const unique = Date.now().toString(36);
    // Each run has a database of its own: plain names make good screenshots.
    const carol = "Carol Jensen";
    const dave = "Dave Okafor";

    await step("alice signs in by pasting a token; bob is signed in too", async () => {
      alice = await staffPage(browser, ADMIN, { viaForm: true });
      bob = await staffPage(browser, AGENT, { viaForm: false });
    });

    await step("the new-conversation modal validates, then creates a conversation", async () => {
      await alice.getByRole("button", { name: "New conversation" }).click();
      const dialog = alice.getByRole("dialog", { name: "New conversation" });
      await dialog.getByRole("button", { name: "Create conversation" }).click();
      await dialog.getByText("Enter the client's id.").waitFor();
      await dialog.getByText("Enter the client's name.").waitFor();
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

    await step("two staff see each other's messages live", async () => {
      await say(alice, "Hello from Alice");
      await seesOnce(bob, "Hello from Alice");
      await say(bob, "Bob here.\nSecond line");
      await seesOnce(alice, "Bob here.");
      await seesOnce(alice, "Hello from Alice");
      check((await input(alice).inputValue()) === "", "the input is not cleared after sending");
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
      await alice.getByTestId("typing-indicator").filter({ hasText: "bob" }).waitFor();
      await input(bob).fill("");
      await alice.getByTestId("typing-indicator").waitFor({ state: "detached", timeout: 10_000 });
    });

    await step("a client's message (HTTP API, client token) appears live and bumps the inbox", async () => {
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
      await alice.waitForFunction((name) => {
        const first = document.querySelector('[data-testid="inbox-row"]');
        return first?.textContent?.includes(name);
      }, carol);
    });

    await step("a message in another conversation: unread badge and a chime; opening it marks it read", async () => {
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
      await row(bob, dave).getByTestId("unread-badge").waitFor({ state: "detached" });
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
      await bob.getByLabel("Client name").fill("");
      await row(bob, carol).waitFor();
    });

    await step("read ticks: the client reads alice's messages, alice sees ✓✓", async () => {
      await say(alice, "Your parcel left the depot this morning; it arrives tomorrow.");
      await seesOnce(alice, "Your parcel left the depot");
      await alice.locator('[data-testid="message"][data-seq]').filter({ hasText: "left the depot" }).waitFor();
      await api("PATCH", "/api/messages/mark-read", CLIENT, { conversation_id: conversationId });
      await alice
        .locator('[data-testid="message"]')
        .filter({ hasText: "left the depot" })
        .getByLabel("Read")
        .waitFor();
    });

    await step("screenshots of the inbox and the chat window", async () => {
      await bob.goto(BASE);
      await bob.getByRole("navigation", { name: "Inbox" }).waitFor();
      await connected(bob);
      await api("POST", "/api/messages", CLIENT, {
        conversation_id: secondId,
        content: "Could you also check my refund?",
      });
      await row(bob, dave).getByTestId("unread-badge").waitFor();
      await row(alice, dave).getByTestId("unread-badge").waitFor();
      await row(bob, carol).filter({ hasText: "left the depot" }).waitFor();
      await shot(bob, "inbox");
      await shot(alice, "chat-window");
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
      const header = (page) => page.getByRole("region", { name: `Conversation with ${carol}` }).getByLabel("Priority", { exact: true });
      await header(alice).selectOption("Low");
      await bob.waitForFunction(() => {
        const select = [...document.querySelectorAll("header select")].find((s) => s.closest("section"));
        return select?.value === "Low";
      });
      await row(bob, carol).filter({ hasText: "Low" }).waitFor();
      await header(alice).selectOption("High");
      await row(bob, carol).filter({ hasText: "High" }).waitFor();
    });

    await step("closing disables the input, reopening enables it", async () => {
      await alice.getByRole("button", { name: "Close", exact: true }).click();
      await alice.getByTestId("chat-status").filter({ hasText: "closed" }).waitFor();
      await alice.waitForFunction(() => document.querySelector("textarea")?.disabled === true);
      await bob.waitForFunction(() => document.querySelector("textarea")?.disabled === true);
      await alice.getByRole("button", { name: "Reopen" }).click();
      await alice.getByTestId("chat-status").filter({ hasText: "active" }).waitFor();
      await alice.waitForFunction(() => document.querySelector("textarea")?.disabled === false);
      await bob.waitForFunction(() => document.querySelector("textarea")?.disabled === false);
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
      await alice.getByRole("group", { name: "Snooze until" }).getByRole("button", { name: "For 1 hour" }).click();
      await badge(alice).filter({ hasText: "Snoozed until" }).waitFor();
      await badge(bob).filter({ hasText: "Snoozed until" }).waitFor();
      await row(bob, carol).waitFor({ state: "detached" }); // no longer pending
      await status(bob, "snoozed");
      await row(bob, carol).getByTestId("status-badge").filter({ hasText: "Snoozed until" }).waitFor();
      await row(bob, dave).waitFor({ state: "detached" });
      await row(alice, carol).getByTestId("status-badge").filter({ hasText: "Snoozed until" }).waitFor();
      await shot(alice, "chat-snoozed");
      // A phone shows the conversation alone, and the inbox alone after "← Inbox".
      await alice.setViewportSize({ width: 390, height: 844 });
      await alice.getByRole("navigation", { name: "Inbox" }).waitFor({ state: "hidden" });
      await shot(alice, "chat-snoozed-phone");
      await alice.getByRole("link", { name: "Inbox" }).click();
      await row(alice, carol).waitFor();
      await shot(alice, "inbox-phone");
      await row(alice, carol).getByRole("button").click();
      await badge(alice).filter({ hasText: "Snoozed until" }).waitFor();
      await alice.setViewportSize({ width: 1280, height: 800 });
      await connected(alice);

      await alice.getByRole("button", { name: "Unsnooze" }).click();
      await badge(alice).filter({ hasText: "Active" }).waitFor();
      await badge(bob).filter({ hasText: "Active" }).waitFor();
      await row(bob, carol).waitFor({ state: "detached" });
      await status(bob, "");
      await row(bob, carol).waitFor();
      check((await row(bob, carol).getByTestId("status-badge").count()) === 0, "an active row still shows a badge");
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

    await step("the server is killed; a message queued offline arrives once after the restart", async () => {
      await control("kill-server");
      await alice.locator('[data-testid="connection-status"][data-state="reconnecting"]').waitFor();
      const text = "Sent while the server was down";
      await say(alice, text);
      await alice.getByTestId("pending").filter({ hasText: "Queued" }).waitFor();
      await control("start-server");
      await connected(alice);
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
      const attempt = alice.waitForEvent("websocket");
      await alice.getByRole("button", { name: "Reconnect" }).click();
      await attempt;
      await control("start-server");
      await connected(alice);
      await alice.getByRole("button", { name: "Sign out" }).click();
      await alice.getByLabel("Access token").waitFor();
    });
  } finally {
    await browser.close();
  }
}

main().then(
  () => {
    console.log("e2e: all steps passed");
    process.exit(0);
  },
  () => process.exit(1),
);
