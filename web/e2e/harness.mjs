// What the browser end-to-end scripts (web/e2e/*.mjs) share: reading the
// environment, numbered and timed steps, polling, the HTTP API, Debian's
// headless Chromium, staff pages with their console errors collected, the
// Parley page's common locators, axe-core audits, the no-sideways-scroll
// check, screenshots, the CONTROL channel to the test that owns the server,
// and the exit. One script runs per process: the step counter, the collected
// console errors and the control channel are the process's own.
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

// -- constants ------------------------------------------------------------------------------

/** Default timeout of a page's actions and of `until`, in ms. */
export const STEP_TIMEOUT = 20_000;
/** The desktop viewport (1280×800). */
export const DESKTOP = { width: 1280, height: 800 };
/** A phone's viewport (390×844). */
export const PHONE = { width: 390, height: 844 };
/** The narrowest phone viewport checked (360×740). */
export const NARROWEST = { width: 360, height: 740 };
/** axe-core's script, injected into pages by `audit`. */
export const AXE = fileURLToPath(new URL("../node_modules/axe-core/axe.min.js", import.meta.url));
/** Chromium's flags for `launch` (headless, no sandbox, no background traffic). */
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

// -- basics ---------------------------------------------------------------------------------

/** The environment variable `name`; if unset, prints "<prefix>: NAME is not set" and exits 2. */
export function need(name, prefix = "e2e") {
  const value = process.env[name];
  if (!value) {
    console.error(`${prefix}: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

/** Throws `message` unless `condition` holds: fails the step. */
export function check(condition, message) {
  if (!condition) throw new Error(message);
}

let stepNumber = 0;
/** Runs `body` as the next numbered step: prints "✓ n. name (ms)", or "✗ n. name" and the error, then rethrows. */
export async function step(name, body) {
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

/** Poll `probe` (in node) every 100 ms until it is truthy (returned), or throw after `timeout` ms. */
export async function until(what, probe, timeout = STEP_TIMEOUT) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** `api(method, path, token, body)` on the server at `base`: JSON in and out, a non-2xx answer fails the step. */
export function apiAt(base) {
  return async function api(method, path, token, body) {
    const response = await fetch(base + path, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json();
    check(response.ok, `${method} ${path}: ${response.status} ${JSON.stringify(data)}`);
    return data;
  };
}

/** Debian's Chromium (or $CHROMIUM), headless, with `args` (default CHROMIUM_ARGS). */
export function launch(args = CHROMIUM_ARGS) {
  return chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true, timeout: 30_000, args });
}

/** Ends the script with `run` (main()'s promise): "<prefix>: all steps passed" and exit 0, or exit 1 (printing the error if `print`). */
export function finish(run, { prefix = "e2e", print = false } = {}) {
  run.then(
    () => {
      console.log(`${prefix}: all steps passed`);
      process.exit(0);
    },
    (error) => {
      if (print) console.error(`${prefix}: ${error?.message ?? error}`);
      process.exit(1);
    },
  );
}

// -- control channel to the test that owns the server -----------------------------------------

let replies;
let waiting;
function listen() {
  replies = [];
  waiting = [];
  createInterface({ input: process.stdin }).on("line", (line) => {
    const next = waiting.shift();
    if (next) next(line);
    else replies.push(line);
  });
}

/** Prints "CONTROL <command>" (kill-server, start-server) and waits up to 30 s for the test's "ok" on stdin. */
export function control(command) {
  if (!replies) listen();
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

// -- pages ------------------------------------------------------------------------------------

/** Console errors and uncaught page errors of every page opened by `openPage`, each "name: …". */
export const consoleErrors = [];

/** Fails unless `consoleErrors` is empty; lists them, one per line after `indent`. */
export function noConsoleErrors(indent = "  ") {
  check(consoleErrors.length === 0, `console errors:\n${indent}${consoleErrors.join(`\n${indent}`)}`);
}

/** A page in a context of its own (`viewport`, STEP_TIMEOUT), its errors collected as `name` (echoing page errors if `echo`); with `token`, stored as the sign-in before every load. */
export async function openPage(browser, { viewport = DESKTOP, token = "", name = "", echo = false } = {}) {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(STEP_TIMEOUT);
  if (token) await context.addInitScript((t) => localStorage.setItem("parley.token", t), token);
  const page = await context.newPage();
  const tag = name ? `${name}: ` : "";
  page.on("pageerror", (error) => {
    if (echo) console.error(`page error: ${error.message}`);
    consoleErrors.push(`${tag}page error: ${error.message}`);
  });
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(`${tag}${message.text()}`);
  });
  return page;
}

/** A desktop page at `base` signed in with `token`, stored once (a reload finds a token the page refreshed); waits till connected. */
export async function staffPage(browser, base, token, name) {
  const page = await openPage(browser, { name });
  await page.goto(base);
  await page.evaluate((t) => localStorage.setItem("parley.token", t), token);
  await page.reload();
  await connected(page);
  return page;
}

/** Waits for the connection status to say connected. */
export const connected = (page) => page.locator('[data-testid="connection-status"][data-state="connected"]').waitFor();
/** The inbox row of the client `name`. */
export const row = (page, name) => page.getByTestId("inbox-row").filter({ hasText: name });
/** The message box. */
export const input = (page) => page.getByLabel("Message", { exact: true });
/** The message contents showing `text`. */
export const bubbles = (page, text) => page.getByTestId("message-content").filter({ hasText: text });
/** Opens a conversation by its URL; waits for its header (showing `summary`). */
export const openChat = async (page, id, summary) => {
  await page.evaluate((cid) => (window.location.hash = `#/c/${cid}`), id);
  await page.locator("main section > header").filter({ hasText: summary }).waitFor();
};

/** Sends `text` from the message box (Enter). */
export async function say(page, text) {
  await input(page).fill(text);
  await input(page).press("Enter");
}

/** Waits for `text` in a message; fails unless it is shown exactly once. */
export async function seesOnce(page, text) {
  await bubbles(page, text).first().waitFor();
  const count = await bubbles(page, text).count();
  check(count === 1, `"${text}" is shown ${count} times`);
}

/** The client name on the inbox's first row. */
export async function firstRowName(page) {
  return (await page.getByTestId("inbox-row").first().innerText()).split("\n")[0];
}

// -- checks and screenshots -------------------------------------------------------------------

/** axe-core in the page (injected once) on `selector`, or the whole document: { bad: serious or critical violations, minor, passed: rule ids, incomplete }. */
export async function audit(page, selector) {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ path: AXE });
  return page.evaluate(async (scope) => {
    const { violations, passes, incomplete } = await window.axe.run(scope ? document.querySelector(scope) : document);
    const bad = violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.slice(0, 4).map((n) => `${n.target.join(" ")}: ${n.failureSummary}`).join("\n    ")}`);
    const minor = violations.filter((v) => v.impact !== "serious" && v.impact !== "critical").map((v) => `${v.id} (${v.impact})`);
    const unsure = incomplete.map((i) => `${i.id}: ${i.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
    return { bad, minor, passed: passes.map((p) => p.id), incomplete: unsure };
  }, selector ?? null);
}

/** Fails on any serious or critical axe violation in `selector` (or the page) or an unmeasured contrast; prints the rules passed, those to review, the minor ones. */
export async function accessible(page, what, selector) {
  const result = await audit(page, selector);
  check(result.bad.length === 0, `axe on ${what}: ${result.bad.length} serious or critical violations:\n  ${result.bad.join("\n  ")}`);
  check(result.passed.includes("color-contrast"), `axe on ${what}: the text contrast was not measured`);
  const minor = result.minor.length ? `; minor: ${result.minor.join(", ")}` : "";
  const review = result.incomplete.length ? ` (${result.incomplete.join("; ")})` : "";
  console.log(
    `  axe on ${what}: 0 serious or critical violations, ${result.passed.length} rules passed (color-contrast among them), ` +
      `${result.incomplete.length} to review by hand${review}${minor}`,
  );
}

/** Fails if the page scrolls sideways at its viewport's width; prints the figures. */
export async function noSidewaysScroll(page, what) {
  const { width, height } = page.viewportSize();
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  check(scrollWidth <= width, `${what}: scrollWidth ${scrollWidth} > ${width}`);
  console.log(`  ${what} at ${width}×${height}: scrollWidth ${scrollWidth}`);
}

/** `shot(page, name)`: a screenshot to `<folder>/<name>.png` (none when `folder` is empty). */
export function shooter(folder) {
  return async function shot(page, name) {
    if (!folder) return;
    mkdirSync(folder, { recursive: true });
    await page.screenshot({ path: `${folder}/${name}.png` });
  };
}
