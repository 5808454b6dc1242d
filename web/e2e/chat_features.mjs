// End-to-end, the chat's own features (issue 20): search from the top bar,
// presence dots, drafts across conversations and reloads, a token refreshed
// in place (sockets resume with it at the old token's expiry), per-agent
// unread in the tab title, a priority change that lifts no row. Headless
// Chromium against a real `parley serve` and `parley worker`
// (tests/e2e/test_web_chat_features.py starts them).
// Each step waits for a UI state, bounded by timeouts; a failed step prints
// why and exits 1. Screenshots of search results and presence go to
// PARLEY_E2E_SHOTS (desktop 1280×800 and phone 390×844).
//
// Environment: PARLEY_E2E_URL, PARLEY_E2E_ADMIN_TOKEN (alice, long-lived),
// PARLEY_E2E_JWT_SECRET (the server's: to sign alice a short-lived token the
// page starts with and must refresh), PARLEY_E2E_AGENT_TOKEN (bob),
// PARLEY_E2E_CLIENT_TOKEN (client PARLEY_E2E_CLIENT_ID), PARLEY_E2E_SHOTS, CHROMIUM.
import { createHmac } from "node:crypto";
import { DESKTOP, PHONE, apiAt, check, connected, consoleErrors, finish, input, launch, need } from "./harness.mjs";
import { noSidewaysScroll, openChat, shooter, staffPage as signedIn, step, until } from "./harness.mjs";

const BASE = need("PARLEY_E2E_URL");
const ADMIN = need("PARLEY_E2E_ADMIN_TOKEN");
const SECRET = need("PARLEY_E2E_JWT_SECRET");
const AGENT = need("PARLEY_E2E_AGENT_TOKEN");
const CLIENT = need("PARLEY_E2E_CLIENT_TOKEN");
const CLIENT_ID = need("PARLEY_E2E_CLIENT_ID");
const api = apiAt(BASE);
const shot = shooter(process.env.PARLEY_E2E_SHOTS ?? "");

const SHORT_LIFE = 24; // seconds: the page refreshes a token this short at half its life
const claims = (token) => JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
// The token is saved once (not on every load): a reload must find the token the page refreshed.
const staffPage = (browser, token, name) => signedIn(browser, BASE, token, name);
const savedToken = (page) => page.evaluate(() => localStorage.getItem("parley.token"));

/** An HS256 token of alice's (admin), issued now, living ``seconds``. */
function shortToken(seconds) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${part({ alg: "HS256", typ: "JWT" })}.${part({ sub: "alice", role: "admin", iat: now, exp: now + seconds })}`;
  return `${unsigned}.${createHmac("sha256", SECRET).update(unsigned).digest("base64url")}`;
}

async function main() {
  const browser = await launch();
  try {
    let alice;
    let bob;
    let first;
    let second;
    const sockets = []; // alice's WebSocket URLs and when each opened

    await step("two conversations of one client, with messages; staff have names", async () => {
      await api("PUT", "/api/agents/me", ADMIN, { display_name: "Alice Martin" });
      const named = await api("PUT", "/api/agents/me", AGENT, { display_name: "Bob Stone" });
      await api("GET", `/api/agents?min_position=${named.position}&wait=10`, ADMIN);
      const client = { id: CLIENT_ID, name: "Carol Jensen" };
      first = (await api("POST", "/api/conversations", ADMIN, { client, channel: "web", summary: "Parcel" })).conversation_id;
      second = (await api("POST", "/api/conversations", ADMIN, { client, channel: "email", summary: "Invoice" })).conversation_id;
      await api("POST", "/api/messages", CLIENT, { conversation_id: first, content: "Where is my parcel with the blue ribbon?" });
      await api("POST", "/api/messages", CLIENT, { conversation_id: first, content: "It was sent <b>twice</b> & never came" });
    });

    let short;
    await step("alice's page starts with a token about to expire and refreshes it in place", async () => {
      short = shortToken(SHORT_LIFE);
      alice = await staffPage(browser, short, "alice");
      alice.on("websocket", (ws) => sockets.push({ url: ws.url(), at: Date.now() }));
      await openChat(alice, first, "Parcel");
      await input(alice).fill("Half-written reply");
      await alice.evaluate(() => (window.__noReload = true));
      check((await savedToken(alice)) === short, "refreshed before the sockets were open: start later");
      const refreshed = await until("a refreshed token", async () => {
        const token = await savedToken(alice);
        return token !== short && token;
      });
      const [old, now] = [claims(short), claims(refreshed)];
      check(now.sub === "alice" && now.role === "admin" && now.exp > old.exp, `refreshed claims ${JSON.stringify(now)}`);
      check(await alice.evaluate(() => window.__noReload === true), "the page reloaded");
      check((await input(alice).inputValue()) === "Half-written reply", "the draft was lost");
      console.log(`  token refreshed: exp ${old.exp} -> ${now.exp} (session began ${now.auth_time})`);
    });

    await step("at the old token's expiry the sockets resume with the new one; nothing is lost", async () => {
      const expiry = claims(short).exp * 1000;
      await until("the old token's expiry", async () => Date.now() > expiry + 500, 60_000);
      // Both sockets were opened with the old token (before the refresh): the
      // server closed them at its expiry (4401) and they came back with the new one.
      for (const path of [`/ws/${first}`, "/ws/inbox"]) {
        await until(`${path} reopened`, async () => sockets.some((s) => s.url.includes(path) && s.at >= expiry - 1000));
      }
      await connected(alice);
      check(await alice.getByLabel("Access token").count() === 0, "alice was signed out");
      await api("POST", "/api/messages", CLIENT, { conversation_id: first, content: "Any news after the refresh?" });
      await alice.getByTestId("message-content").filter({ hasText: "Any news after the refresh?" }).waitFor();
      check((await input(alice).inputValue()) === "Half-written reply", "the draft was lost");
      check(await alice.evaluate(() => window.__noReload === true), "the page reloaded");
    });

    await step("a draft stays with its conversation across a switch and a reload, and goes once sent", async () => {
      await openChat(alice, second, "Invoice");
      check((await input(alice).inputValue()) === "", "the other conversation shows the draft");
      await input(alice).fill("Invoice draft");
      await openChat(alice, first, "Parcel");
      await until("the first draft back", async () => (await input(alice).inputValue()) === "Half-written reply");
      await alice.reload();
      await connected(alice);
      await until("the draft after a reload", async () => (await input(alice).inputValue()) === "Half-written reply");
      await input(alice).press("Enter");
      await alice.getByTestId("message-content").filter({ hasText: "Half-written reply" }).waitFor();
      await alice.reload();
      await connected(alice);
      await input(alice).waitFor();
      check((await input(alice).inputValue()) === "", "the sent draft came back");
      await openChat(alice, second, "Invoice");
      await until("the second draft", async () => (await input(alice).inputValue()) === "Invoice draft");
    });

    await step("presence: the client and a colleague show as here, in words; the client leaving too", async () => {
      await openChat(alice, first, "Parcel");
      const client = await alice.context().newPage();
      await client.goto(`${BASE}/web/config`);
      const url = `${BASE.replace(/^http/, "ws")}/ws/${first}?after=0`;
      await client.evaluate(
        ([u, t]) =>
          new Promise((resolve, reject) => {
            window.clientSocket = new WebSocket(u, ["parley.v1", `bearer.${t}`]);
            window.clientSocket.onmessage = (e) => JSON.parse(e.data).type === "READY" && resolve();
            window.clientSocket.onclose = (e) => reject(new Error(`client socket closed ${e.code}`));
          }),
        [url, CLIENT],
      );
      const carol = alice.getByTestId("presence-client");
      await carol.filter({ hasText: "Carol Jensen · online" }).waitFor();
      bob = await staffPage(browser, AGENT, "bob");
      await openChat(bob, first, "Parcel");
      await alice.getByTestId("presence-staff").filter({ hasText: "Bob Stone · here too" }).waitFor();
      await bob.getByTestId("presence-staff").filter({ hasText: "Alice Martin · here too" }).waitFor();
      await shot(alice, "chat-presence-desktop");
      await alice.setViewportSize(PHONE);
      await noSidewaysScroll(alice, "chat with presence");
      await shot(alice, "chat-presence-phone");
      await alice.setViewportSize(DESKTOP);
      await client.evaluate(() => window.clientSocket.close(1000));
      await carol.filter({ hasText: "Carol Jensen · offline" }).waitFor();
      await client.close();
    });

    await step("search from the top bar: / focuses it, hits are highlighted as text, one opens its conversation", async () => {
      await openChat(alice, second, "Invoice");
      await alice.evaluate(() => document.activeElement?.blur());
      await alice.keyboard.press("/");
      const box = alice.getByRole("searchbox", { name: "Search messages, notes and clients" });
      check(await box.evaluate((el) => el === document.activeElement), "/ did not focus the search box");
      await box.fill("twice");
      const hit = alice.getByTestId("search-hit").filter({ hasText: "never came" });
      await hit.waitFor();
      check((await hit.locator("mark").first().innerText()) === "twice", "the match is not highlighted");
      check((await hit.locator("b").count()) === 0, "the message's markup was rendered as HTML");
      check((await hit.innerText()).includes("<b>twice</b>"), `the snippet does not show the text as written: ${await hit.innerText()}`);
      await box.fill("ribbon");
      await alice.getByTestId("search-hit").filter({ hasText: "blue" }).waitFor();
      await shot(alice, "chat-search-desktop");
      await alice.setViewportSize(PHONE);
      await noSidewaysScroll(alice, "search results");
      await shot(alice, "chat-search-phone");
      await alice.setViewportSize(DESKTOP);
      await alice.getByTestId("search-hit").filter({ hasText: "blue" }).click();
      await until("the hit's conversation open", async () => (await alice.evaluate(() => location.hash)) === `#/c/${first}`);
      await alice.getByTestId("search-results").waitFor({ state: "hidden" });
    });

    await step("the tab title counts my unread, not what a colleague read", async () => {
      await openChat(alice, first, "Parcel");
      await until("no unread in the title", async () => (await alice.title()) === "Parley");
      await api("POST", "/api/messages", CLIENT, { conversation_id: second, content: "About the invoice" });
      await until("(1) in alice's title", async () => (await alice.title()) === "(1) Parley");
      await openChat(bob, second, "Invoice");
      await until("bob has read it", async () => (await bob.title()) === "Parley");
      // One more: alice has two unread (her own cursor), whatever bob read.
      await api("POST", "/api/messages", CLIENT, { conversation_id: second, content: "And the receipt" });
      await until("(2) in alice's title", async () => (await alice.title()) === "(2) Parley");
      await openChat(alice, second, "Invoice");
      await until("alice's title clear", async () => (await alice.title()) === "Parley");
    });

    await step("a priority change updates its row in place: rows keep the order of their last message", async () => {
      const ids = () => alice.getByTestId("inbox-row").evaluateAll((rows) => rows.map((r) => r.dataset.conversationId));
      await until("the newest message's conversation on top", async () => (await ids())[0] === second);
      await api("PUT", `/api/conversations/${first}`, ADMIN, { priority: "High" });
      const older = alice.locator(`[data-testid="inbox-row"][data-conversation-id="${first}"]`);
      await older.filter({ hasText: "High" }).waitFor();
      const order = await ids();
      check(order.indexOf(second) < order.indexOf(first), `the older conversation was lifted: ${order.join(", ")}`);
    });

    await step("no console errors in normal use", async () => {
      check(consoleErrors.length === 0, `console errors:\n  ${consoleErrors.join("\n  ")}`);
    });
  } finally {
    await browser.close();
  }
}

finish(main());
