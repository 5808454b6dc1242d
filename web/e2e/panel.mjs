// End-to-end, the conversation panel, the top bar and the shortcuts (issue
// 20): two staff browsers (alice, bob) against a real `parley serve` and
// `parley worker` (tests/e2e/test_web_panel.py starts them). Assigning to
// oneself, to the other agent and to a team (each seen live), a label (on the
// row too, beside the waiting time), the inbox's Unassigned tab, assignee,
// team and label filters, its order and its arrow-key focus, the contact
// panel's other conversation, a merge after its confirmation, availability
// away/online seen by the other, a mention in the bell (desktop notifications
// asked for only on the click), the j/k/r/n/e/? shortcuts, the channel filter;
// axe-core on the panel, the merge dialog and the help; no sideways scroll
// at 390×844 with the panel's sheet open; no console errors. Each step waits
// for a UI state, bounded by timeouts; a failed step prints why and exits 1.
// Screenshots: PARLEY_E2E_SHOTS/panel-desktop.png and panel-phone.png.
//
// Environment: PARLEY_E2E_URL, PARLEY_E2E_ADMIN_TOKEN (alice),
// PARLEY_E2E_AGENT_TOKEN (bob), PARLEY_E2E_CLIENT_TOKEN (client
// PARLEY_E2E_CLIENT_ID), PARLEY_E2E_SHOTS, CHROMIUM.
import { chromium } from "playwright-core";
import { DESKTOP, PHONE, STEP_TIMEOUT, accessible, apiAt, check, connected, need, noSidewaysScroll, openChat, shooter, step, until } from "./harness.mjs";

const env = process.env;
const BASE = need("PARLEY_E2E_URL");
const api = apiAt(BASE);
const ADMIN = need("PARLEY_E2E_ADMIN_TOKEN");
const AGENT = need("PARLEY_E2E_AGENT_TOKEN");
const CLIENT = need("PARLEY_E2E_CLIENT_TOKEN");
const CLIENT_ID = need("PARLEY_E2E_CLIENT_ID");
const shot = shooter(env.PARLEY_E2E_SHOTS ?? "");


const consoleErrors = [];

async function staffPage(browser, token, name) {
  const context = await browser.newContext({ viewport: DESKTOP });
  context.setDefaultTimeout(STEP_TIMEOUT);
  // Counts the page's calls of the real Notification.requestPermission (asked only after a click).
  await context.addInitScript(() => {
    window.__permissionAsks = 0;
    if (typeof Notification === "undefined") return;
    const real = Notification.requestPermission.bind(Notification);
    Notification.requestPermission = (...args) => {
      window.__permissionAsks += 1;
      return real(...args);
    };
  });
  const page = await context.newPage();
  page.on("pageerror", (error) => consoleErrors.push(`${name}: page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(`${name}: ${message.text()}`);
  });
  await page.goto(BASE);
  await page.evaluate((t) => localStorage.setItem("parley.token", t), token);
  await page.reload();
  await connected(page);
  return page;
}

const hash = (page) => page.evaluate(() => location.hash);
const panel = (page) => page.getByTestId("conversation-panel");
const blur = (page) => page.evaluate(() => document.activeElement?.blur());
const rowOf = (page, id) => page.locator(`[data-testid="inbox-row"][data-conversation-id="${id}"]`);
const rowIds = (page) => page.getByTestId("inbox-row").evaluateAll((rows) => rows.map((r) => r.dataset.conversationId));
/** Waits till the inbox shows exactly the rows `ids`, in that order (or in any, `anyOrder`). */
const showing = (page, ids, anyOrder = false) =>
  page.waitForFunction(
    ([want, sort]) => {
      const got = [...document.querySelectorAll('[data-testid="inbox-row"]')].map((r) => r.dataset.conversationId);
      return JSON.stringify(sort ? got.sort() : got) === JSON.stringify(sort ? [...want].sort() : want);
    },
    [ids, anyOrder],
  );
const option = (page, select, text) => page.locator(`select[aria-label="${select}"] option`, { hasText: text }).waitFor({ state: "attached" });




async function main() {
  const browser = await chromium.launch({
    executablePath: env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: 30_000,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    let alice;
    let bob;
    let parcel;
    let invoice;
    let duplicate;
    let dan;

    await step("two named agents online, a label, three conversations of one client and one on WhatsApp", async () => {
      await api("PUT", "/api/agents/me", ADMIN, { display_name: "Alice Martin" });
      await api("PUT", "/api/agents/me", AGENT, { display_name: "Bob Stone" });
      await api("PUT", "/api/agents/me/availability", ADMIN, { availability: "online" });
      const done = await api("PUT", "/api/agents/me/availability", AGENT, { availability: "online" });
      await api("GET", `/api/agents?min_position=${done.position}&wait=10`, ADMIN);
      await api("POST", "/api/labels", ADMIN, { name: "VIP", colour: "#d93f0b", label_id: "vip" });
      await api("POST", "/api/teams", ADMIN, { name: "Billing", team_id: "billing", routing: false });
      const client = { id: CLIENT_ID, name: "Carol Jensen" };
      const start = async (summary, channel, who = client) =>
        (await api("POST", "/api/conversations", ADMIN, { client: who, channel, summary })).conversation_id;
      parcel = await start("Parcel", "web");
      invoice = await start("Invoice", "email");
      duplicate = await start("Duplicate", "web");
      dan = await start("Dan on WhatsApp", "whatsapp", { id: "c-dan", name: "Dan Whatsapp" });
      await api("POST", "/api/messages", CLIENT, { conversation_id: parcel, content: "Where is my parcel?" });
      await api("POST", "/api/messages", CLIENT, { conversation_id: duplicate, content: "Me again about the parcel" });
    });

    await step("alice assigns the conversation to herself, then to bob; bob, on it, sees both live, in the panel and the row", async () => {
      alice = await staffPage(browser, ADMIN, "alice");
      bob = await staffPage(browser, AGENT, "bob");
      await openChat(alice, parcel, "Parcel");
      await openChat(bob, parcel, "Parcel");
      await panel(bob).getByTestId("panel-assignee").filter({ hasText: "Nobody" }).waitFor();
      const toMe = panel(alice).getByRole("button", { name: "Assign to me" });
      await toMe.click();
      for (const page of [alice, bob]) await panel(page).getByTestId("panel-assignee").filter({ hasText: "Alice Martin" }).waitFor();
      await rowOf(bob, parcel).locator('[data-testid="assignee"][title="Assigned to Alice Martin"]').waitFor();
      check(await toMe.isDisabled(), "Assign to me is still offered to its assignee");
      await option(alice, "Assign to an agent", "Bob Stone (online)");
      await alice.getByLabel("Assign to an agent").selectOption("bob");
      await panel(alice).getByTestId("panel-assignee").filter({ hasText: "Bob Stone" }).waitFor();
      await panel(bob).getByTestId("panel-assignee").filter({ hasText: "Bob Stone" }).waitFor();
      await rowOf(bob, parcel).locator('[data-testid="assignee"][title="Assigned to Bob Stone"]').waitFor();
    });

    await step("alice puts a label on; bob sees it live; axe on the panel", async () => {
      await option(alice, "Add a label", "VIP");
      await alice.getByLabel("Add a label").selectOption("vip");
      await panel(alice).getByTestId("panel-labels").filter({ hasText: "VIP" }).waitFor();
      await panel(bob).getByTestId("panel-labels").filter({ hasText: "VIP" }).waitFor();
      // Rows show their labels, and how long an unassigned one has waited for an agent.
      await rowOf(bob, parcel).getByTestId("row-labels").filter({ hasText: "VIP" }).waitFor();
      const waited = await rowOf(bob, duplicate).getByTestId("waiting").textContent();
      check(/^waiting (<1m|\d+m)$/.test(waited), `the unassigned row's waiting time reads "${waited}"`);
      check((await rowOf(bob, parcel).getByTestId("waiting").count()) === 0, "an assigned conversation shows a waiting time");
      await panel(alice).getByTestId("client-conversations").filter({ hasText: "Invoice" }).waitFor();
      await accessible(alice, "the conversation panel", '[data-testid="conversation-panel"]');
      await shot(alice, "panel-desktop");
    });

    await step("the contact panel lists the client's other conversations and opens one", async () => {
      const links = panel(alice).getByTestId("client-conversations").getByRole("link");
      await until("both other conversations listed", async () => (await links.count()) === 2);
      await links.filter({ hasText: "Invoice" }).click();
      await until("the invoice open", async () => (await hash(alice)) === `#/c/${invoice}`);
      await alice.locator("main section > header").filter({ hasText: "Invoice" }).waitFor();
    });

    await step("alice gives the invoice to the Billing team's queue; bob's inbox, filtered by that team, shows it live", async () => {
      await bob.getByRole("button", { name: /^More filters/ }).click();
      await option(bob, "Team filter", "Billing");
      await bob.getByLabel("Team filter").selectOption("billing");
      await bob.getByTestId("inbox-scroll").getByText("No conversations match these filters.").waitFor();
      await option(alice, "Assign to a team", "Billing");
      await alice.getByLabel("Assign to a team").selectOption("billing");
      await panel(alice).getByTestId("panel-assignee").filter({ hasText: "Nobody · Billing" }).waitFor();
      await showing(bob, [invoice]);
      await bob.getByLabel("Team filter").selectOption("");
      await showing(bob, [parcel, invoice, duplicate, dan], true);
    });

    await step("bob's inbox: the Unassigned tab, the assignee and label filters, the order; the arrow keys move between rows", async () => {
      const all = await rowIds(bob);
      await bob.getByRole("tab", { name: /^Unassigned/ }).click();
      await showing(bob, [dan, duplicate, invoice], true);
      await bob.getByTestId("tab-count-unassigned").filter({ hasText: /^3$/ }).waitFor();
      check((await bob.getByTestId("inbox-row").getByTestId("assignee").count()) === 0, "an unassigned row shows an assignee");
      await bob.getByRole("tab", { name: /^All/ }).click();
      await showing(bob, all);
      await option(bob, "Assignee filter", "Bob Stone");
      await bob.getByLabel("Assignee filter").selectOption("bob");
      await showing(bob, [parcel]);
      await bob.getByLabel("Assignee filter").selectOption("");
      await option(bob, "Label filter", "VIP");
      await bob.getByLabel("Label filter").selectOption("vip");
      await showing(bob, [parcel]);
      await bob.getByLabel("Label filter").selectOption("");
      const newestStarted = [dan, duplicate, invoice, parcel];
      check(JSON.stringify(all) !== JSON.stringify(newestStarted), "the last-message order is already the newest-started one");
      await bob.getByLabel("Sort order").selectOption("created");
      await showing(bob, newestStarted);
      await bob.getByLabel("Sort order").selectOption("last_message");
      await showing(bob, all);
      await bob.getByRole("button", { name: /^More filters/ }).click();
      // One Tab stop; the arrow keys move the focus between the rows.
      const focuses = (id) => bob.waitForFunction((want) => document.activeElement?.closest('[data-testid="inbox-row"]')?.dataset.conversationId === want, id);
      await rowOf(bob, all[0]).getByRole("button").focus();
      await bob.keyboard.press("ArrowDown");
      await focuses(all[1]);
      await bob.keyboard.press("ArrowDown");
      await focuses(all[2]);
      await bob.keyboard.press("ArrowUp");
      await focuses(all[1]);
      check((await hash(bob)) === `#/c/${parcel}`, "moving the focus opened a conversation");
    });

    await step("merge: a dialog asks, names what happens, and the merge lands in the chosen one", async () => {
      await openChat(alice, duplicate, "Duplicate");
      await panel(alice).getByRole("button", { name: "Merge into another conversation…" }).click();
      const dialog = alice.getByRole("dialog", { name: "Merge into another conversation?" });
      await dialog.waitFor();
      check((await dialog.innerText()).includes("cannot be undone"), "the dialog does not say what a merge does");
      await dialog.getByRole("radio", { name: /Parcel/ }).check();
      await accessible(alice, "the merge dialog", "[role=dialog]");
      await dialog.getByRole("button", { name: "Merge" }).click();
      await until("the target open", async () => (await hash(alice)) === `#/c/${parcel}`);
      await until("the source merged", async () => (await api("GET", `/api/conversations/${duplicate}`, ADMIN)).merged_into === parcel);
      await alice.getByTestId("message-content").filter({ hasText: "Me again about the parcel" }).waitFor();
    });

    await step("bob goes away and comes back: alice sees it live", async () => {
      const toggle = bob.getByRole("switch", { name: "Available" });
      check((await toggle.getAttribute("aria-checked")) === "true", "bob does not show online");
      await toggle.click();
      await bob.locator('[data-testid="availability"][data-availability="away"]').waitFor();
      await option(alice, "Assign to an agent", "Bob Stone (away)");
      await toggle.click();
      await bob.locator('[data-testid="availability"][data-availability="online"]').waitFor();
      await option(alice, "Assign to an agent", "Bob Stone (online)");
    });

    await step("a mention reaches alice's bell; opening it opens its conversation and reads it", async () => {
      await openChat(alice, invoice, "Invoice");
      await api("POST", `/api/conversations/${parcel}/notes`, AGENT, { content: "@alice could you check the parcel?" });
      const bell = alice.locator('[data-testid="notification-bell"][data-unread="1"]');
      await bell.waitFor();
      await bell.click();
      const item = alice.getByTestId("notification").filter({ hasText: "Bob Stone mentioned you" });
      await item.waitFor();
      // Desktop notifications are offered, never asked for unprompted (headless Chromium may deny them).
      const permission = await alice.evaluate(() => Notification.permission);
      const offer = permission === "default" ? "Enable desktop notifications" : permission === "granted" ? "are on" : "are blocked";
      await alice.getByTestId("notifications").getByText(offer).waitFor();
      console.log(`  desktop notifications: ${permission} (shown: "${offer}")`);
      await accessible(alice, "the mentions", '[data-testid="notifications"]');
      // The permission is asked for only when alice asks: not on load, nor on a mention.
      const asks = () => alice.evaluate(() => window.__permissionAsks);
      check((await asks()) === 0, `Notification.requestPermission was called ${await asks()} times before the click`);
      check(permission === "default", `the permission is already ${permission}: nothing to ask`);
      await alice.getByTestId("notifications").getByRole("button", { name: "Enable desktop notifications" }).click();
      await until("the permission asked for once", async () => (await asks()) === 1);
      await item.click();
      await until("the mention's conversation open", async () => (await hash(alice)) === `#/c/${parcel}`);
      await alice.locator('[data-testid="notification-bell"][data-unread="0"]').waitFor();
    });

    await step("shortcuts: ? lists them, j/k walk the inbox, r and n focus a reply or a note, e asks to close", async () => {
      await blur(alice);
      await alice.keyboard.press("?");
      const help = alice.getByRole("dialog", { name: "Keyboard shortcuts" });
      await help.waitFor();
      await accessible(alice, "the shortcuts help", "[role=dialog]");
      await alice.keyboard.press("j"); // a dialog has the keyboard: nothing moves
      check((await hash(alice)) === `#/c/${parcel}`, "j moved behind the dialog");
      await alice.keyboard.press("Escape");
      await help.waitFor({ state: "detached" });
      const order = await alice.getByTestId("inbox-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-conversation-id")));
      const at = order.indexOf(parcel);
      check(at >= 0 && at + 1 < order.length, `parcel at ${at} of ${order.length}`);
      await blur(alice);
      await alice.keyboard.press("j");
      await until("j: the next row open", async () => (await hash(alice)) === `#/c/${order[at + 1]}`);
      await blur(alice);
      await alice.keyboard.press("k");
      await until("k: back", async () => (await hash(alice)) === `#/c/${parcel}`);
      await alice.locator("main section > header").filter({ hasText: "Parcel" }).waitFor();
      await blur(alice);
      await alice.keyboard.press("r");
      await until("r: the message box focused", () => alice.evaluate(() => document.activeElement?.matches("main form textarea") === true));
      const modes = alice.getByRole("group", { name: "Write a reply or a private note" });
      await blur(alice);
      await alice.keyboard.press("n");
      await modes.getByRole("button", { name: "Note", pressed: true }).waitFor();
      await until("n: the message box focused", () => alice.evaluate(() => document.activeElement?.matches("main form textarea") === true));
      await blur(alice);
      await alice.keyboard.press("r");
      await modes.getByRole("button", { name: "Reply", pressed: true }).waitFor();
      await blur(alice);
      await alice.keyboard.press("e");
      const close = alice.getByRole("dialog", { name: "Close this conversation?" });
      await close.waitFor();
      await alice.keyboard.press("Escape");
      await close.waitFor({ state: "detached" });
    });

    await step("the channel filter lists only that channel's conversations", async () => {
      await alice.getByRole("button", { name: /^More filters/ }).click();
      await alice.getByLabel("Channel filter").selectOption("whatsapp");
      await until("only the WhatsApp conversation", async () => {
        const names = await alice.getByTestId("inbox-row").allInnerTexts();
        return names.length === 1 && names[0].includes("Dan Whatsapp");
      });
      await alice.getByLabel("Channel filter").selectOption("");
      await until("all again", async () => (await alice.getByTestId("inbox-row").count()) >= 4);
      await alice.getByRole("button", { name: /^More filters/ }).click();
    });

    await step("on a phone the panel is a sheet from the header: no sideways scroll, axe clean", async () => {
      await alice.setViewportSize(PHONE);
      await alice.getByRole("button", { name: "Details" }).click();
      const sheet = alice.getByRole("dialog", { name: "Conversation details" });
      await sheet.waitFor();
      await sheet.getByTestId("panel-assignee").filter({ hasText: "Bob Stone" }).waitFor();
      await sheet.getByTestId("client-conversations").waitFor();
      await noSidewaysScroll(alice, "chat with the panel's sheet");
      await accessible(alice, "the panel's sheet", "[role=dialog]");
      await shot(alice, "panel-phone");
      await sheet.getByRole("button", { name: "Done" }).click();
      await sheet.waitFor({ state: "detached" });
      await noSidewaysScroll(alice, "chat");
      await alice.setViewportSize(DESKTOP);
    });

    await step("no console errors in normal use", async () => {
      check(consoleErrors.length === 0, `console errors:\n  ${consoleErrors.join("\n  ")}`);
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
