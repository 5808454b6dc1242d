// End-to-end, the conversation's composer and timeline (issue 20): two staff
// browsers (alice, bob) and a client (API and socket) against a real `parley
// serve` and `parley worker` (tests/e2e/test_web_composer.py starts them). A
// private note with an @mention chosen from the listbox (bob sees it and is
// notified; the client's API view and socket never get it), a canned
// response inserted via `/`, images uploaded by the picker (its progress bar
// seen), pasted and dropped, shown as thumbnails and opened in the lightbox, an
// image that cannot be loaded said in words, a file type refused (415)
// said plainly, the stale-action guard (Review, then Send anyway); axe-core
// on the composer with its listbox open and on the lightbox; no sideways
// scroll at 390×844; no console errors. Each step waits for a UI state,
// bounded by timeouts; a failed step prints why and exits 1. Screenshots:
// PARLEY_E2E_SHOTS/chat-note-attachment.png (1280×800) and mobile-chat.png.
//
// Environment: PARLEY_E2E_URL, PARLEY_E2E_ADMIN_TOKEN (alice),
// PARLEY_E2E_AGENT_TOKEN (bob), PARLEY_E2E_CLIENT_TOKEN (client
// PARLEY_E2E_CLIENT_ID), PARLEY_E2E_SHOTS, CHROMIUM.
import { deflateSync } from "node:zlib";
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


// -- a real PNG (the server checks the bytes, the worker decodes it in full) --------------

const CRC = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (bytes) => {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
function chunk(type, data) {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(crc32(body));
  return Buffer.concat([head, body, tail]);
}
/** A width×height PNG in two colours (stripes), RGB 8-bit. */
function png(width, height, [r1, g1, b1], [r2, g2, b2]) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) row.set(Math.floor((x + y) / 24) % 2 ? [r1, g1, b1] : [r2, g2, b2], 1 + x * 3);
    rows.push(row);
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(Buffer.concat(rows))), chunk("IEND", Buffer.alloc(0))]);
}

// -- pages --------------------------------------------------------------------------------

const consoleErrors = [];

async function staffPage(browser, token, name) {
  const context = await browser.newContext({ viewport: DESKTOP });
  context.setDefaultTimeout(STEP_TIMEOUT);
  const page = await context.newPage();
  page.on("pageerror", (error) => consoleErrors.push(`${name}: page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(`${name}: ${message.text()}`);
  });
  await page.goto(BASE);
  await page.evaluate((t) => localStorage.setItem("parley.token", t), token);
  await page.reload();
  await page.locator('[data-testid="connection-status"][data-state="connected"]').waitFor();
  return page;
}

const box = (page) => page.locator('[data-testid="composer"] textarea');
const mode = (page, name) => page.getByRole("group", { name: "Write a reply or a private note" }).getByRole("button", { name, exact: true });
const bubble = (page, text) => page.getByTestId("message").filter({ hasText: text });




/** The page itself should not scroll (the timeline does): say where it is. */
async function pageScroll(page, where) {
  const at = await page.evaluate(() => ({ top: document.scrollingElement.scrollTop, height: document.scrollingElement.scrollHeight, inner: window.innerHeight }));
  console.log(`  the page itself ${where}: scrollTop ${at.top}, scrollHeight ${at.height}, window ${at.inner}`);
}

/** The image in `locator` loaded (decoded, not broken). */
const loaded = (locator) => locator.evaluate((img) => img.complete && img.naturalWidth > 0);

async function main() {
  const browser = await chromium.launch({
    executablePath: env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: 30_000,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const NOTE = "Please check the delivery address";
  const CANNED = "Thank you for your patience: we are looking into it now.";
  const parcelPng = png(480, 320, [37, 99, 235], [251, 191, 36]);
  const pastedPng = png(200, 140, [22, 163, 74], [244, 244, 245]);
  try {
    let alice;
    let bob;
    let client;
    let parcel;

    await step("two named agents, a shared canned response, a conversation with the client's message; the client's socket listens", async () => {
      await api("PUT", "/api/agents/me", ADMIN, { display_name: "Alice Martin" });
      const named = await api("PUT", "/api/agents/me", AGENT, { display_name: "Bob Stone" });
      await api("GET", `/api/agents?min_position=${named.position}&wait=10`, ADMIN);
      const canned = await api("POST", "/api/canned-responses", ADMIN, { code: "thanks", content: CANNED, shared: true });
      await api("GET", `/api/canned-responses?min_position=${canned.position}&wait=10`, ADMIN);
      parcel = (await api("POST", "/api/conversations", ADMIN, { client: { id: CLIENT_ID, name: "Carol Jensen" }, channel: "web", summary: "Parcel" })).conversation_id;
      await api("POST", "/api/messages", CLIENT, { conversation_id: parcel, content: "Where is my parcel?" });
      // The client's own socket, in a page of its own: every frame it gets is kept.
      client = await (await browser.newContext()).newPage();
      await client.goto(`${BASE}/web/config`);
      await client.evaluate(
        ([u, t]) =>
          new Promise((resolve, reject) => {
            window.frames_ = [];
            window.clientSocket = new WebSocket(u, ["parley.v1", `bearer.${t}`]);
            window.clientSocket.onmessage = (e) => {
              window.frames_.push(e.data);
              if (JSON.parse(e.data).type === "READY") resolve();
            };
            window.clientSocket.onclose = (e) => reject(new Error(`client socket closed ${e.code}`));
          }),
        [`${BASE.replace(/^http/, "ws")}/ws/${parcel}?after=0`, CLIENT],
      );
      alice = await staffPage(browser, ADMIN, "alice");
      bob = await staffPage(browser, AGENT, "bob");
      await openChat(alice, parcel, "Parcel");
      await openChat(bob, parcel, "Parcel");
    });

    await step("a note with an @mention from the listbox (axe with it open); bob sees it and is notified; the client never gets it", async () => {
      await mode(alice, "Note").click();
      await alice.getByTestId("note-mode-label").filter({ hasText: "Internal note — not sent to the client" }).waitFor();
      await box(alice).click();
      await alice.keyboard.type("@Bo");
      const list = alice.getByRole("listbox", { name: "Mention a colleague" });
      await list.getByRole("option", { name: /Bob Stone/ }).waitFor();
      await accessible(alice, "the composer with the mention listbox open", '[data-testid="composer"]');
      await alice.keyboard.press("Enter");
      check((await box(alice).inputValue()) === "@BobStone ", `after the mention: ${await box(alice).inputValue()}`);
      await alice.keyboard.type(NOTE);
      await alice.keyboard.press("Enter");
      const mine = alice.getByTestId("note").filter({ hasText: NOTE });
      await mine.waitFor();
      check((await mine.innerText()).includes("Internal note — not sent to the client"), "the note is not labelled as internal");
      const theirs = bob.getByTestId("note").filter({ hasText: NOTE });
      await theirs.waitFor();
      check((await theirs.getByTestId("mention").innerText()) === "@BobStone", "the mention is not highlighted for bob");
      const notifications = await until("bob's notification", async () => {
        const page = await api("GET", "/api/notifications", AGENT);
        return page.items.find((n) => n.conversation_id === parcel && n.excerpt.includes(NOTE)) && page;
      });
      check(notifications.unread_count >= 1, "bob's notification is not unread");
      const seen = await api("GET", `/api/messages?conversation_id=${parcel}`, CLIENT);
      check(!JSON.stringify(seen).includes(NOTE), "the client's API view holds the note");
      const frames = await client.evaluate(() => window.frames_);
      check(!frames.some((f) => f.includes("NOTE_ADDED") || f.includes(NOTE)), "the client's socket got the note");
      console.log(`  the client's socket: ${frames.length} frames, no note; bob has ${notifications.unread_count} unread mention(s)`);
    });

    await step("a canned response inserted via / and sent; the client gets it", async () => {
      await mode(alice, "Reply").click();
      await box(alice).click();
      await alice.keyboard.type("/tha");
      await alice.getByRole("listbox", { name: "Canned responses" }).getByRole("option", { name: /\/thanks/ }).waitFor();
      await alice.keyboard.press("Enter");
      check((await box(alice).inputValue()) === CANNED, `inserted: ${await box(alice).inputValue()}`);
      await alice.keyboard.press("Enter");
      await bubble(alice, CANNED).locator('[data-testid="ticks"]').waitFor();
      await until("the client's copy", async () => (await client.evaluate(() => window.frames_)).some((f) => f.includes(CANNED)));
    });

    await step("an image chosen with the picker: uploaded with progress, previewed, sent, shown as a thumbnail to both", async () => {
      // On localhost a small upload ends before a frame is drawn: the upload is
      // held back (then sent on, to the real server) till its progress bar is seen.
      let release;
      const held = new Promise((resolve) => (release = resolve));
      const upload = (url) => url.pathname === "/api/attachments";
      await alice.route(upload, async (route) => {
        await held;
        await route.continue();
      }, { times: 1 });
      await alice.getByTestId("attachment-input").setInputFiles({ name: "parcel.png", mimeType: "image/png", buffer: parcelPng });
      const bar = alice.getByTestId("pending-attachment").and(alice.locator('[data-status="uploading"]')).getByRole("progressbar", { name: "Uploading parcel.png" });
      await bar.waitFor();
      const progress = Number(await bar.getAttribute("aria-valuenow"));
      check(progress >= 0 && progress <= 100, `the progress bar says ${progress}`);
      console.log(`  the upload's progress bar shown at ${progress}%`);
      release();
      await alice.getByTestId("pending-attachment").filter({ hasText: "parcel.png" }).and(alice.locator('[data-status="done"]')).waitFor();
      check((await bar.count()) === 0, "the progress bar stayed after the upload");
      await alice.unroute(upload);
      await box(alice).fill("A photo of the label");
      await box(alice).press("Enter");
      await alice.getByTestId("pending-attachment").waitFor({ state: "detached" });
      for (const page of [alice, bob]) {
        const thumb = page.getByRole("button", { name: "Open image parcel.png" }).locator("img");
        await thumb.waitFor();
        await until("the thumbnail loaded", () => loaded(thumb));
      }
      await bubble(bob, "A photo of the label").waitFor();
      await shot(alice, "chat-note-attachment");
      await pageScroll(alice, "after the first image");
    });

    await step("an image pasted into the composer is uploaded and sent alone", async () => {
      await box(alice).focus();
      await alice.evaluate((base64) => {
        const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], "image.png", { type: "image/png" }));
        document.querySelector('[data-testid="composer"] textarea').dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
      }, pastedPng.toString("base64"));
      await alice.getByTestId("pending-attachment").and(alice.locator('[data-status="done"]')).waitFor();
      await alice.getByRole("button", { name: "Send", exact: true }).click();
      const thumb = alice.getByRole("button", { name: "Open image image.png" }).locator("img");
      await thumb.waitFor();
      await until("the pasted image loaded", () => loaded(thumb));
      await until("the client's copy", async () => (await client.evaluate(() => window.frames_)).some((f) => f.includes('"image.png"')));
    });

    await step("an image dropped on the conversation shows where it goes, then is uploaded and sent", async () => {
      await alice.evaluate((base64) => {
        const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], "dropped.png", { type: "image/png" }));
        const target = document.querySelector('section[aria-label^="Conversation with"]');
        target.dispatchEvent(new DragEvent("dragenter", { dataTransfer: data, bubbles: true, cancelable: true }));
        window.dropData_ = data;
      }, pastedPng.toString("base64"));
      await alice.getByText("Drop files to attach them").waitFor();
      await alice.evaluate(() => {
        const target = document.querySelector('section[aria-label^="Conversation with"]');
        target.dispatchEvent(new DragEvent("drop", { dataTransfer: window.dropData_, bubbles: true, cancelable: true }));
      });
      await alice.getByText("Drop files to attach them").waitFor({ state: "detached" });
      await alice.getByTestId("pending-attachment").filter({ hasText: "dropped.png" }).and(alice.locator('[data-status="done"]')).waitFor();
      await alice.getByRole("button", { name: "Send", exact: true }).click();
      const thumb = alice.getByRole("button", { name: "Open image dropped.png" }).locator("img");
      await thumb.waitFor();
      await until("the dropped image loaded", () => loaded(thumb));
    });

    await step("the lightbox: opens at full size, axe-clean, Escape closes it and gives focus back", async () => {
      const opener = alice.getByRole("button", { name: "Open image parcel.png" });
      await opener.click();
      const dialog = alice.getByRole("dialog", { name: "Image: parcel.png" });
      const image = dialog.getByRole("img", { name: "parcel.png" });
      await image.waitFor();
      await until("the full image loaded", () => loaded(image));
      const width = await image.evaluate((img) => img.naturalWidth);
      check(width === 480, `the lightbox shows a ${width} px wide image, not the original`);
      await accessible(alice, "the lightbox", '[data-testid="lightbox"]');
      await alice.keyboard.press("Escape");
      await dialog.waitFor({ state: "detached" });
      check(await opener.evaluate((el) => el === document.activeElement), "the focus did not return to the thumbnail");
      await pageScroll(alice, "after the lightbox");
    });

    await step("an image that cannot be loaded says so in words, not by its alt text alone", async () => {
      // An image the client links to (the way before uploads) that the server has not got: a 404.
      await api("POST", "/api/messages", CLIENT, {
        conversation_id: parcel,
        content: "The label, as I saw it",
        message_type: "image",
        attachment: { url: `${BASE}/health/no-such-label.png`, name: "label.png" },
      });
      const message = bubble(alice, "The label, as I saw it");
      await message.getByTestId("image-unavailable").filter({ hasText: "label.png — image unavailable" }).waitFor();
      check((await message.locator("img").count()) === 0, "the broken image is still shown");
    });

    await step("a file of a type the server refuses (415) is said plainly, and can be removed", async () => {
      await alice.getByTestId("attachment-input").setInputFiles({ name: "setup.png", mimeType: "image/png", buffer: Buffer.from("MZ\x90\x00 not an image at all") });
      const refused = alice.getByTestId("pending-attachment").and(alice.locator('[data-status="error"]'));
      await refused.filter({ hasText: "This type of file is not accepted" }).waitFor();
      await alice.getByRole("button", { name: "Remove setup.png" }).click();
      await refused.waitFor({ state: "detached" });
    });

    await step("the stale-action guard: a client message while alice types; Review, then send; again, Send anyway", async () => {
      await box(alice).fill("We will refund you today");
      await api("POST", "/api/messages", CLIENT, { conversation_id: parcel, content: "Actually, it just arrived!" });
      await bubble(alice, "Actually, it just arrived!").waitFor();
      await box(alice).press("Enter");
      const guard = alice.getByTestId("stale-guard");
      await guard.filter({ hasText: "A new message arrived while you were typing" }).waitFor();
      check((await bubble(alice, "We will refund you today").count()) === 0, "the refused reply shows as sent");
      await accessible(alice, "the composer with the stale-action question", '[data-testid="composer"]');
      await guard.getByRole("button", { name: "Review" }).click();
      await guard.waitFor({ state: "detached" });
      check((await box(alice).inputValue()) === "We will refund you today", "Review did not give the text back");
      await pageScroll(alice, "after Review");
      await box(alice).fill("Glad it arrived!");
      await box(alice).press("Enter");
      await bubble(alice, "Glad it arrived!").locator('[data-testid="ticks"]').waitFor();

      await box(alice).fill("Anything else I can do?");
      await api("POST", "/api/messages", CLIENT, { conversation_id: parcel, content: "No, thanks" });
      await bubble(alice, "No, thanks").waitFor();
      await box(alice).press("Enter");
      await guard.getByRole("button", { name: "Send anyway" }).click();
      await bubble(alice, "Anything else I can do?").locator('[data-testid="ticks"]').waitFor();
      await bubble(bob, "Anything else I can do?").waitFor();
      check((await guard.count()) === 0, "the question stayed");
      await pageScroll(alice, "after the guard");
    });

    await step("on a phone (390×844): note mode with the listbox, no sideways scroll", async () => {
      await alice.setViewportSize(PHONE);
      await mode(alice, "Note").click();
      await box(alice).click();
      await alice.keyboard.type("@");
      await alice.getByRole("listbox", { name: "Mention a colleague" }).waitFor();
      await noSidewaysScroll(alice, "the chat with the note composer and its listbox");
      await alice.keyboard.press("Escape");
      await box(alice).fill("");
      await mode(alice, "Reply").click();
      await alice.getByRole("region", { name: "Messages" }).evaluate((el) => (el.scrollTop = el.scrollHeight));
      await noSidewaysScroll(alice, "the chat with images");
      await pageScroll(alice, "at 390 px");
      await shot(alice, "mobile-chat");
      await alice.setViewportSize(DESKTOP);
    });

    await step("no console errors in normal use (the refused upload's 415 and the missing image's 404 aside)", async () => {
      const expected = (status) => consoleErrors.filter((e) => e.includes(`the server responded with a status of ${status}`));
      const unexpected = consoleErrors.filter((e) => !expected(415).includes(e) && !expected(404).includes(e));
      check(unexpected.length === 0, `console errors:\n  ${unexpected.join("\n  ")}`);
      check(expected(415).length <= 1, "more than the one refused upload was refused");
      check(expected(404).length <= 2, "more than the missing image (in two browsers) was not found");
      console.log(`  console errors: ${expected(415).length} refused upload (415), ${expected(404).length} missing image (404)`);
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
