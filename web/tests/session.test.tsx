import { act, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useSessionRefresh } from "../src/hooks/useSessionRefresh";
import { ApiClient } from "../src/services/api";
import { decodeToken, loadToken, refreshDelay, refreshLead, TokenHolder, TOKEN_KEY } from "../src/services/session";
import { ParleySocket } from "../src/services/socket";
import { FakeServer } from "./fakes";

const NOW = Date.UTC(2026, 11, 4, 12, 0, 0);

/** An unsigned token with these claims (the client never checks signatures). */
function token(claims: Record<string, unknown>): string {
  const part = (data: object) => btoa(JSON.stringify(data)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}.sig`;
}
const at = (ms: number) => Math.floor(ms / 1000);
const alice = (iat: number, life: number, extra: Record<string, unknown> = {}) =>
  token({ sub: "alice", role: "admin", iat: at(iat), exp: at(iat + life), ...extra });

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(NOW);
  localStorage.clear();
});
afterEach(() => vi.useRealTimers());

describe("when to refresh", () => {
  it("a tenth of the token's life before it ends, between 30 s and 5 min, at most half of it", () => {
    const lead = (life: number) => refreshLead({ sub: "a", role: "admin", iat: 0, exp: life });
    expect(lead(3600)).toBe(300_000); // 1 h: 5 min (a tenth would be 6)
    expect(lead(1200)).toBe(120_000); // 20 min: 2 min
    expect(lead(120)).toBe(30_000); // 2 min: 30 s
    expect(lead(20)).toBe(10_000); // 20 s: half of it, not 30 s (no refresh loop)
    const identity = decodeToken(alice(NOW, 3_600_000));
    expect(identity && refreshDelay(identity, NOW)).toBe(3_300_000);
    expect(identity && refreshDelay(identity, NOW + 4_000_000)).toBe(0);
  });
});

describe("the token holder", () => {
  it("swaps the token in place and tells its listeners", () => {
    const holder = new TokenHolder("a");
    const heard: string[] = [];
    const off = holder.subscribe((t) => heard.push(t));
    holder.set("b");
    holder.set("b");
    off();
    holder.set("c");
    expect(heard).toEqual(["b"]);
    expect(holder.get()).toBe("c");
  });
});

function refresher(answers: (() => Response)[]) {
  const calls: { path: string; auth: string | null }[] = [];
  const fetch = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ path: String(url), auth: new Headers(init?.headers).get("Authorization") });
    const next = answers.shift();
    if (!next) throw new Error("no answer left");
    return next();
  });
  const holder = new TokenHolder(alice(NOW, 3_600_000));
  const onUnauthenticated = vi.fn();
  const api = new ApiClient({
    getToken: holder.get,
    fetch: fetch as unknown as typeof globalThis.fetch,
    retries: 0,
    onUnauthenticated,
  });
  const onExpired = vi.fn();
  const hook = renderHook(() => useSessionRefresh(holder, api, onExpired));
  return { calls, holder, onExpired, onUnauthenticated, hook };
}
const fresh = (t: string) => () => new Response(JSON.stringify({ token: t, expires_at: "", session_ends_at: "" }));

describe("useSessionRefresh", () => {
  it("refreshes shortly before expiry and swaps the token in place (saved for a reload)", async () => {
    const next = alice(NOW + 3_300_000, 3_600_000);
    const { calls, holder, onExpired } = refresher([fresh(next)]);
    await act(async () => void vi.advanceTimersByTime(3_299_000));
    expect(calls).toHaveLength(0);
    await act(async () => void (await vi.advanceTimersByTimeAsync(1_000)));
    expect(calls).toEqual([{ path: "/api/session/refresh", auth: `Bearer ${alice(NOW, 3_600_000)}` }]);
    expect(holder.get()).toBe(next);
    expect(loadToken()).toBe(next);
    expect(onExpired).not.toHaveBeenCalled();
  });

  it("retries a refresh the network lost, and ends the session only when the token expires", async () => {
    const down = () => {
      throw new TypeError("offline");
    };
    const { calls, holder, onExpired } = refresher([down, down, fresh(alice(NOW + 3_400_000, 3_600_000))]);
    await act(async () => void (await vi.advanceTimersByTimeAsync(3_300_000)));
    expect(calls).toHaveLength(1);
    await act(async () => void (await vi.advanceTimersByTimeAsync(5_000)));
    expect(calls.length).toBeGreaterThanOrEqual(2);
    await act(async () => void (await vi.advanceTimersByTimeAsync(10_000)));
    expect(calls).toHaveLength(3);
    expect(decodeToken(holder.get())?.exp).toBe(at(NOW + 7_000_000));
    expect(onExpired).not.toHaveBeenCalled();
  });

  it("after a refusal (the session is over) keeps the token until it expires, then signs out", async () => {
    const refused = () =>
      new Response(JSON.stringify({ code: "unauthenticated", message: "invalid token: the session is over" }), { status: 401 });
    const { calls, onExpired, onUnauthenticated } = refresher([refused]);
    await act(async () => void (await vi.advanceTimersByTimeAsync(3_300_000)));
    expect(calls).toHaveLength(1);
    expect(onUnauthenticated).not.toHaveBeenCalled(); // not signed out on the spot
    await act(async () => void (await vi.advanceTimersByTimeAsync(299_000)));
    expect(onExpired).not.toHaveBeenCalled();
    await act(async () => void (await vi.advanceTimersByTimeAsync(1_000)));
    expect(onExpired).toHaveBeenCalledTimes(1);
    expect(calls).toHaveLength(1); // never asked again
  });

  it("never takes a token that names someone else", async () => {
    const bob = token({ sub: "bob", role: "admin", iat: at(NOW + 3_300_000), exp: at(NOW + 9_000_000) });
    const { calls, holder } = refresher([fresh(bob)]);
    await act(async () => void (await vi.advanceTimersByTimeAsync(3_300_000)));
    expect(calls).toHaveLength(1);
    expect(holder.get()).toBe(alice(NOW, 3_600_000));
    expect(loadToken()).toBeNull();
  });

  it("adopts a fresher token another tab saved for the same person, not someone else's", async () => {
    const { holder, calls } = refresher([]);
    const theirs = alice(NOW + 1_000, 3_600_000);
    const bob = token({ sub: "bob", role: "agent", iat: at(NOW), exp: at(NOW + 9_000_000) });
    act(() => window.dispatchEvent(new StorageEvent("storage", { key: TOKEN_KEY, newValue: bob })));
    expect(holder.get()).not.toBe(bob);
    act(() => window.dispatchEvent(new StorageEvent("storage", { key: TOKEN_KEY, newValue: theirs })));
    expect(holder.get()).toBe(theirs);
    await act(async () => void (await vi.advanceTimersByTimeAsync(3_300_000)));
    expect(calls).toHaveLength(0); // its own refresh moved on with it
  });
});

describe("a socket when the token was refreshed", () => {
  function socketWith(holder: TokenHolder) {
    const server = new FakeServer();
    const socket = new ParleySocket({ kind: "conversation", url: (after) => `ws://test?after=${after}`, token: holder.get, createSocket: server.factory });
    const states: string[] = [];
    socket.onState((s) => states.push(s));
    socket.connect();
    server.last.open();
    server.last.receive({ type: "READY", conversation_id: "c1", stream_position: 4, position: 0 });
    return { server, socket, states };
  }

  it("keeps its connection, and resumes with the new token when closed at the old one's expiry", () => {
    const holder = new TokenHolder("old");
    const { server, socket } = socketWith(holder);
    holder.set("new");
    expect(server.sockets).toHaveLength(1); // no reconnect just because of a refresh
    server.last.drop(4401);
    expect(server.sockets).toHaveLength(2);
    expect(server.last.protocols).toContain("bearer.new");
    expect(server.last.url).toBe("ws://test?after=4");
    expect(socket.fatalCode).toBeNull();
  });

  it("stops for good on 4401 when there is no newer token", () => {
    const holder = new TokenHolder("old");
    const { server, socket, states } = socketWith(holder);
    server.last.drop(4401);
    expect(server.sockets).toHaveLength(1);
    expect(socket.fatalCode).toBe(4401);
    expect(states.at(-1)).toBe("disconnected");
  });
});
