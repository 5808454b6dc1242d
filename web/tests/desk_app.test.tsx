import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { App } from "../src/App";
import { conversationRow, FakeServer } from "./fakes";

const C1 = "11111111-1111-4111-8111-111111111111";
const C2 = "22222222-2222-4222-8222-222222222222";

function token(): string {
  const part = (data: object) => btoa(JSON.stringify(data)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  const now = Math.floor(Date.now() / 1000);
  return `${part({ alg: "HS256" })}.${part({ sub: "alice", role: "admin", iat: now, exp: now + 3600 })}.sig`;
}

/** The whole app against a fake API and socket server, at a wide or a narrow width. */
function app(wide: boolean) {
  localStorage.setItem("parley.token", token());
  window.history.replaceState(null, "", "#/");
  const rows = [conversationRow(C1, { summary: "Parcel", client_id: "c-1" }), conversationRow(C2, { summary: "Invoice", client_id: "c-1" })];
  vi.stubGlobal("matchMedia", (query: string) => ({
    matches: wide && query.includes("1024"),
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
  }));
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: RequestInfo | URL) => {
      const path = String(url).split("?")[0] ?? "";
      const json = (data: unknown) => new Response(JSON.stringify(data));
      if (path === "/api/conversations") return json({ items: rows, next_cursor: null, total: 2, total_exact: true });
      const one = rows.find((r) => path === `/api/conversations/${r.conversation_id}`);
      if (one) return json(one);
      if (path === "/api/messages") return json({ items: [], next_before: null });
      if (path.endsWith("/timeline")) return json({ items: [], next_after: null, reached: 1 });
      if (path === "/api/notifications") return json({ items: [], next_before: null, unread_count: 0 });
      return json({ items: [] });
    }),
  );
  const server = new FakeServer();
  vi.stubGlobal("WebSocket", function WebSocket(url: string, protocols: string[]) {
    return server.factory(url, protocols);
  });
  render(<App />);
  return { server };
}

afterEach(() => {
  vi.unstubAllGlobals();
  localStorage.clear();
  window.history.replaceState(null, "", "#/");
});

describe("the desk in the app", () => {
  it("wide: j opens the first conversation with its panel beside it; ? lists the shortcuts", async () => {
    const { server } = app(true);
    await screen.findAllByTestId("inbox-row");
    (document.activeElement as HTMLElement | null)?.blur();
    fireEvent.keyDown(document.body, { key: "j" });
    await waitFor(() => expect(window.location.hash).toBe(`#/c/${C1}`));
    const panel = await screen.findByRole("complementary", { name: "Conversation details" });
    await within(panel).findByRole("link", { name: /Invoice/ });
    expect(screen.queryByRole("button", { name: "Details" })).toBeNull();
    (document.activeElement as HTMLElement | null)?.blur();
    fireEvent.keyDown(document.body, { key: "j" });
    await waitFor(() => expect(window.location.hash).toBe(`#/c/${C2}`));

    fireEvent.keyDown(document.body, { key: "?" });
    expect(screen.getByRole("dialog", { name: "Keyboard shortcuts" })).toBeTruthy();

    // A mention on the inbox socket rings the bell.
    const inbox = server.sockets.find((s) => s.url.includes("/ws/inbox"));
    act(() => {
      inbox?.open();
      inbox?.receive({ type: "READY", conversation_id: null, stream_position: null, position: 10, online: null });
      inbox?.receive({ type: "NOTIFICATION", note_id: "n1", conversation_id: C1, author_id: "bob", author_name: "Bob", excerpt: "@alice hi", position: 11, at: "2026-11-24T10:00:00Z" });
    });
    await screen.findByRole("button", { name: "Notifications, 1 unread" });
  });

  it("narrow: the chat header's Details opens the panel in a sheet", async () => {
    app(false);
    window.history.replaceState(null, "", `#/c/${C1}`);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
    fireEvent.click(await screen.findByRole("button", { name: "Details" }));
    const sheet = screen.getByRole("dialog", { name: "Conversation details" });
    await within(sheet).findByRole("link", { name: /Invoice/ });
    expect(screen.queryByRole("complementary", { name: "Conversation details" })).toBeNull();
    fireEvent.click(within(sheet).getByRole("button", { name: "Done" }));
    expect(screen.queryByRole("dialog")).toBeNull();
  });
});
