import { act, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { App } from "../src/App";
import { FakeServer } from "./fakes";

/** An unsigned token for alice (the client never checks signatures). */
function token(iat: number, exp: number): string {
  const part = (data: object) => btoa(JSON.stringify(data)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${part({ alg: "HS256" })}.${part({ sub: "alice", role: "admin", iat, exp })}.sig`;
}

afterEach(() => {
  vi.unstubAllGlobals();
  localStorage.clear();
});

describe("the signed-in app when its token is refreshed", () => {
  it("swaps the token in place: no new socket, no sign-in; the socket resumes with it at the old one's expiry", async () => {
    const now = Math.floor(Date.now() / 1000);
    const old = token(now - 180, now + 20); // 30 s before the end is now: refresh at once
    const next = token(now, now + 200);
    localStorage.setItem("parley.token", old);
    let answer: (value: Response) => void = () => undefined;
    const refreshed = new Promise<Response>((resolve) => (answer = resolve));
    const asked: string[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
        const path = String(url).split("?")[0] ?? "";
        if (path === "/api/session/refresh") {
          asked.push(new Headers(init?.headers).get("Authorization") ?? "");
          return refreshed;
        }
        if (path === "/api/conversations") return new Response(JSON.stringify({ items: [], next_cursor: null, total: 0, total_exact: true }));
        return new Response(JSON.stringify({ items: [] }));
      }),
    );
    const server = new FakeServer();
    vi.stubGlobal("WebSocket", function WebSocket(url: string, protocols: string[]) {
      return server.factory(url, protocols);
    });
    render(<App />);
    await waitFor(() => expect(server.sockets.length).toBeGreaterThan(0));
    const opened = server.sockets.length;
    act(() => {
      server.last.open();
      server.last.receive({ type: "READY", conversation_id: null, stream_position: null, position: 0, online: null });
    });
    expect(server.last.protocols).toContain(`bearer.${old}`);
    await waitFor(() => expect(asked).toEqual([`Bearer ${old}`]));

    await act(async () => answer(new Response(JSON.stringify({ token: next, expires_at: "", session_ends_at: "" }))));
    await waitFor(() => expect(localStorage.getItem("parley.token")).toBe(next));
    expect(server.sockets).toHaveLength(opened); // nothing reconnected for the refresh itself
    expect(screen.queryByLabelText("Access token")).toBeNull();

    // The server closes the socket at the old token's expiry: it comes back with the new one.
    act(() => server.last.drop(4401));
    expect(server.sockets).toHaveLength(opened + 1);
    expect(server.last.protocols).toContain(`bearer.${next}`);
    expect(screen.queryByLabelText("Access token")).toBeNull();
  });
});
