import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, render, renderHook, screen, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ChatWindow } from "../src/components/ChatWindow";
import { SessionProvider, type Session } from "../src/hooks/useApi";
import { useChatStart, useConversations, useInboxLive } from "../src/hooks/useConversations";
import { useMessages } from "../src/hooks/useMessages";
import { useTypingIndicator } from "../src/hooks/useTyping";
import { useWebSocket } from "../src/hooks/useWebSocket";
import { ApiClient } from "../src/services/api";
import { ParleySocket } from "../src/services/socket";
import type { Conversation, Message, MessagePage } from "../src/types";
import { conversationRow, created, FakeServer } from "./fakes";

function message(seq: number, extra: Partial<Message> = {}): Message {
  return {
    conversation_id: "c1",
    seq,
    message_id: `m${seq}`,
    sender: "client",
    sender_id: "carol",
    message_type: "text",
    content: `message ${seq}`,
    attachment: null,
    client_message_id: null,
    created_at: "2026-11-24T10:00:00Z",
    read_by_staff_at: null,
    read_by_client_at: null,
    position: seq,
    ...extra,
  };
}

function row(id: string, extra: Partial<Conversation> = {}): Conversation {
  return conversationRow(id, { client_id: "c-1", ...extra });
}

function setup(
  routes: Record<string, unknown[]>,
  fetch = vi.fn(async (url: RequestInfo | URL) => {
    const path = String(url).split("?")[0] ?? "";
    const next = routes[path]?.shift();
    if (next === undefined) return new Response(JSON.stringify({ code: "nope", message: path }), { status: 404 });
    return new Response(JSON.stringify(next), { status: 200 });
  }),
) {
  const api = new ApiClient({ getToken: () => "tok", fetch: fetch as unknown as typeof globalThis.fetch });
  const session: Session = {
    api,
    token: "tok",
    identity: { sub: "alice", role: "admin", exp: 2e9 },
    wsUrl: (path, query) => `ws://test${path}?${new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]))}`,
  };
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={queryClient}>
      <SessionProvider value={session}>{children}</SessionProvider>
    </QueryClientProvider>
  );
  const server = new FakeServer();
  const socket = (kind: "conversation" | "inbox") =>
    new ParleySocket({ kind, url: () => "ws://test", token: () => "tok", createSocket: server.factory });
  return { fetch, wrapper, server, socket };
}

function ready(server: FakeServer) {
  server.last.open();
  server.last.receive({ type: "READY", conversation_id: "c1", stream_position: 0, position: 0 });
}

describe("useWebSocket", () => {
  it("opens the conversation's socket with the token as a subprotocol and reports its state", async () => {
    const { wrapper, server } = setup({});
    const { result, unmount } = renderHook(
      () => useWebSocket({ kind: "conversation", id: "c1" }, { createSocket: server.factory }),
      { wrapper },
    );
    expect(result.current.state).toBe("connecting");
    expect(server.last.url).toBe("ws://test/ws/c1?after=0");
    expect(server.last.protocols).toContain("bearer.tok");
    act(() => ready(server));
    expect(result.current.state).toBe("connected");
    unmount();
    expect(server.last.closedWith).toBe(1000);
  });

  it("starts after the given version, and opens nothing without a target", () => {
    const { wrapper, server } = setup({});
    const { rerender } = renderHook(
      ({ target }: { target: { kind: "conversation"; id: string } | null }) =>
        useWebSocket(target, { createSocket: server.factory, after: 7 }),
      { wrapper, initialProps: { target: null } as { target: { kind: "conversation"; id: string } | null } },
    );
    expect(server.sockets).toHaveLength(0);
    rerender({ target: { kind: "conversation", id: "c1" } });
    expect(server.last.url).toBe("ws://test/ws/c1?after=7");
  });
});

describe("useChatStart", () => {
  it("keeps the row's version and position as first known, until another chat opens", () => {
    const { wrapper } = setup({});
    const { result, rerender } = renderHook(
      ({ id, data }: { id: string; data: Conversation | undefined }) => useChatStart(id, data),
      { wrapper, initialProps: { id: "c1", data: undefined as Conversation | undefined } },
    );
    expect(result.current).toBeNull();
    rerender({ id: "c1", data: row("c1", { version: 7, position: 40 }) });
    expect(result.current).toEqual({ conversationId: "c1", version: 7, position: 40 });
    // A fresher row (the inbox socket) does not move the start: the socket is open already.
    rerender({ id: "c1", data: row("c1", { version: 9, position: 55 }) });
    expect(result.current).toEqual({ conversationId: "c1", version: 7, position: 40 });
    // Another conversation's row (still cached under the old id) is not its start.
    rerender({ id: "c2", data: row("c1", { version: 9, position: 55 }) });
    expect(result.current).toBeNull();
    rerender({ id: "c2", data: row("c2", { version: 3, position: 60 }) });
    expect(result.current).toEqual({ conversationId: "c2", version: 3, position: 60 });
  });
});

describe("ChatWindow", () => {
  afterEach(() => vi.unstubAllGlobals());

  function deferred<T>() {
    let resolve: (value: T) => void = () => undefined;
    const promise = new Promise<T>((r) => (resolve = r));
    return { promise, resolve };
  }

  it("fetches the row, then subscribes after its version and fetches the messages; nothing is lost or doubled", async () => {
    const conversation = deferred<Conversation>();
    const messages = deferred<MessagePage>();
    const fetch = vi.fn(async (url: RequestInfo | URL) => {
      const path = String(url).split("?")[0] ?? "";
      if (path === "/api/conversations/c1") return new Response(JSON.stringify(await conversation.promise));
      if (path === "/api/messages") return new Response(JSON.stringify(await messages.promise));
      return new Response(JSON.stringify({ code: "nope", message: path }), { status: 404 });
    });
    const { wrapper, server } = setup({}, fetch);
    // ChatWindow makes its socket with `new WebSocket(url, protocols)`.
    vi.stubGlobal("WebSocket", function WebSocket(url: string, protocols: string[]) {
      return server.factory(url, protocols);
    });
    const socketState = vi.fn();
    render(<ChatWindow conversationId="c1" onSocketState={socketState} reconnectSignal={0} onBack={vi.fn()} />, { wrapper });
    // (The staff directory and the status entries are read beside these.)
    const paths = () =>
      fetch.mock.calls.map(([url]) => String(url)).filter((url) => !url.startsWith("/api/agents") && !url.includes("/timeline"));

    // Until the row is in: no socket, no message fetch.
    await waitFor(() => expect(paths()).toEqual(["/api/conversations/c1"]));
    expect(server.sockets).toHaveLength(0);
    expect(socketState).not.toHaveBeenCalledWith("connecting");

    // The row says the stream is at version 7 (global position 40).
    await act(async () => conversation.resolve(row("c1", { version: 7, position: 40, message_count: 3 })));
    await waitFor(() => expect(paths()).toHaveLength(2));
    const [, listed] = paths();
    expect(listed?.split("?")[0]).toBe("/api/messages");
    // The page waits for the read models to include everything up to the row.
    expect(new URL(listed ?? "", "http://test").searchParams.get("min_position")).toBe("40");
    expect(server.sockets.map((s) => s.url)).toEqual(["ws://test/ws/c1?after=7"]);
    await waitFor(() => expect(socketState).toHaveBeenLastCalledWith("connecting")); // in use

    // The socket replays what came after version 7, then READY — here before the page is in.
    act(() => {
      server.last.open();
      server.last.receive(created(4, 8));
      server.last.receive(created(5, 9));
      server.last.receive({ type: "READY", conversation_id: "c1", stream_position: 9, position: 62 });
    });
    // The page was read a little later: it holds message 4 too.
    await act(async () =>
      messages.resolve({ items: [message(2), message(3), message(4)], next_before: null }),
    );
    await waitFor(() =>
      expect(screen.getAllByTestId("message-content").map((m) => m.textContent)).toEqual([
        "message 2",
        "message 3",
        "message 4",
        "message 5",
      ]),
    );
  });
});

describe("ChatWindow status actions", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("sets pending, snoozes with an RFC 3339 until, follows STATUS_CHANGED frames, unsnoozes", async () => {
    const sent: { method: string; path: string; body: Record<string, unknown> }[] = [];
    const fetch = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
      const path = String(url).split("?")[0] ?? "";
      if (init?.method && init.method !== "GET") {
        sent.push({ method: init.method, path, body: JSON.parse(String(init.body)) as Record<string, unknown> });
        return new Response(JSON.stringify({ conversation_id: "c1", position: 50, version: 9, events: [], replayed: false }));
      }
      if (path === "/api/conversations/c1") return new Response(JSON.stringify(row("c1", { version: 7, position: 40 })));
      return new Response(JSON.stringify({ items: [], next_before: null }));
    });
    const { wrapper, server } = setup({}, fetch);
    vi.stubGlobal("WebSocket", function WebSocket(url: string, protocols: string[]) {
      return server.factory(url, protocols);
    });
    render(<ChatWindow conversationId="c1" onSocketState={vi.fn()} reconnectSignal={0} onBack={vi.fn()} />, { wrapper });
    await waitFor(() => expect(server.sockets).toHaveLength(1));
    act(() => {
      server.last.open();
      server.last.receive({ type: "READY", conversation_id: "c1", stream_position: 7, position: 40 });
    });
    const badge = () => screen.getByTestId("chat-status").textContent ?? "";
    const click = (name: string) => act(() => screen.getByRole("button", { name }).click());
    const status = (stream_position: number, from: string, to: string, extra: Record<string, unknown> = {}) =>
      act(() =>
        server.last.receive({
          type: "STATUS_CHANGED",
          conversation_id: "c1",
          stream_position,
          position: 40 + stream_position,
          at: "2026-11-24T10:00:00Z",
          from,
          to,
          reason: null,
          until: null,
          ...extra,
        }),
      );
    expect(badge()).toBe("Active");

    click("Mark pending");
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(sent[0]).toMatchObject({ method: "PATCH", path: "/api/conversations/c1/status", body: { status: "pending" } });
    status(8, "active", "pending");
    await waitFor(() => expect(badge()).toBe("Pending"));

    click("Snooze");
    click("For 1 hour");
    await waitFor(() => expect(sent).toHaveLength(2));
    expect(sent[1]).toMatchObject({ method: "POST", path: "/api/conversations/c1/snooze" });
    const until = String(sent[1]?.body.until);
    expect(until).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
    expect(Math.abs(new Date(until).getTime() - Date.now() - 3_600_000)).toBeLessThan(5_000);
    status(9, "pending", "snoozed", { until: new Date(until).toISOString() });
    await waitFor(() => expect(badge()).toMatch(/^Snoozed until /));

    click("Unsnooze");
    await waitFor(() => expect(sent).toHaveLength(3));
    expect(sent[2]).toMatchObject({ method: "PATCH", body: { status: "active" } });
    // The timer may win the race: a wake-up is the same frame, with its reason.
    status(10, "snoozed", "active", { reason: "timer" });
    await waitFor(() => expect(badge()).toBe("Active"));
    expect(screen.getByRole("button", { name: "Mark pending" })).toBeTruthy();
  });
});

describe("useMessages", () => {
  it("pages older messages, and appends live ones to the cache without refetching", async () => {
    const { wrapper, socket, server, fetch } = setup({
      "/api/messages": [
        { items: [message(3), message(4)], next_before: 3 },
        { items: [message(1), message(2)], next_before: null },
      ],
    });
    const live = socket("conversation");
    live.connect();
    act(() => ready(server));
    const { result } = renderHook(() => useMessages("c1", live), { wrapper });
    await waitFor(() => expect(result.current.messages.map((m) => m.seq)).toEqual([3, 4]));
    await act(() => result.current.fetchNextPage());
    await waitFor(() => expect(result.current.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4]));
    expect(result.current.hasNextPage).toBe(false);

    act(() => server.last.receive(created(5, 9)));
    // TanStack Query notifies observers on its own (batched) tick.
    await waitFor(() => expect(result.current.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]));
    act(() => server.last.receive(created(5, 9))); // a duplicate
    act(() =>
      server.last.receive({
        type: "MESSAGES_READ",
        conversation_id: "c1",
        stream_position: 10,
        position: 110,
        at: "2026-11-24T10:01:00Z",
        reader: "admin",
        reader_id: "bob",
        up_to_seq: 5,
      }),
    );
    await waitFor(() => expect(result.current.messages.every((m) => m.read_by_staff_at !== null)).toBe(true));
    expect(result.current.messages).toHaveLength(5);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it("shows a send at once, confirms it by its ACK, and never doubles it", async () => {
    const { wrapper, socket, server } = setup({ "/api/messages": [{ items: [message(1)], next_before: null }] });
    const live = socket("conversation");
    live.connect();
    act(() => ready(server));
    const { result } = renderHook(() => useMessages("c1", live), { wrapper });
    await waitFor(() => expect(result.current.messages).toHaveLength(1));

    act(() => result.current.send("hello"));
    const pending = result.current.messages[1];
    expect(pending).toMatchObject({ content: "hello", local: "pending", sender: "admin" });
    const sent = server.last.sentOfType("SEND_MESSAGE")[0];
    expect(sent).toMatchObject({ content: "hello", client_message_id: pending?.client_message_id });

    const cmid = String(sent?.client_message_id);
    act(() =>
      server.last.receive({ type: "ACK", client_message_id: cmid, message_id: "m2", seq: 2, position: 50, replayed: false }),
    );
    await waitFor(() => expect(result.current.messages.map((m) => [m.seq, m.local])).toEqual([
      [1, undefined],
      [2, undefined],
    ]));
    act(() => server.last.receive(created(2, 3, { client_message_id: cmid, sender: "admin", content: "hello" })));
    await waitFor(() => expect(result.current.messages.map((m) => m.content)).toEqual(["message 1", "hello"]));
  });

  it("marks a refused send as failed", async () => {
    const { wrapper, socket, server } = setup({ "/api/messages": [{ items: [], next_before: null }] });
    const live = socket("conversation");
    live.connect();
    act(() => ready(server));
    const { result } = renderHook(() => useMessages("c1", live), { wrapper });
    await waitFor(() => expect(result.current.isSuccess).toBe(true));
    act(() => result.current.send("too late"));
    const cmid = String(server.last.sentOfType("SEND_MESSAGE")[0]?.client_message_id);
    act(() => server.last.receive({ type: "ERROR", code: "conversation_closed", message: "closed", ref: cmid }));
    expect(result.current.messages[0]).toMatchObject({ local: "failed", error: "closed" });
  });
});

describe("useConversations + useInboxLive", () => {
  it("writes live rows into the cached inbox: bumped to the top, filtered, no refetch", async () => {
    const { wrapper, socket, server, fetch } = setup({
      "/api/conversations": [{ items: [row("a", { last_update: "2026-11-24T10:00:00Z" }), row("b")], next_cursor: null }],
    });
    const inbox = socket("inbox");
    inbox.connect();
    act(() => ready(server));
    const { result } = renderHook(
      () => {
        useInboxLive(inbox);
        return useConversations({ status: "active" });
      },
      { wrapper },
    );
    await waitFor(() => expect(result.current.isSuccess).toBe(true));
    const ids = () => result.current.data?.pages.flatMap((p) => p.items.map((c) => `${c.conversation_id}:${c.unread_for_staff}`));
    expect(ids()).toEqual(["a:0", "b:0"]);

    const bumped = row("b", { last_update: "2026-11-24T11:00:00Z", unread_for_staff: 1, position: 5 });
    act(() => server.last.receive({ type: "CONVERSATION_ROW", conversation: bumped }));
    await waitFor(() => expect(ids()).toEqual(["b:1", "a:0"]));

    act(() => server.last.receive({ type: "CONVERSATION_ROW", conversation: row("c", { last_update: "2026-11-24T12:00:00Z", position: 6 }) }));
    await waitFor(() => expect(ids()).toEqual(["c:0", "b:1", "a:0"]));

    const closed = row("a", { status: "closed", last_update: "2026-11-24T10:00:00Z", position: 7 });
    act(() => server.last.receive({ type: "CONVERSATION_ROW", conversation: closed }));
    await waitFor(() => expect(ids()).toEqual(["c:0", "b:1"]));

    act(() => server.last.receive({ type: "CONVERSATION_ROW", conversation: row("b", { position: 2 }) })); // stale
    expect(ids()).toEqual(["c:0", "b:1"]);
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});

describe("useTypingIndicator", () => {
  it("shows others typing until they stop or send; never oneself", () => {
    const { wrapper, socket, server } = setup({});
    const live = socket("conversation");
    live.connect();
    act(() => ready(server));
    const { result } = renderHook(() => useTypingIndicator(live, "alice"), { wrapper });
    const typing = (user: string, state: string) =>
      act(() => server.last.receive({ type: "TYPING", conversation_id: "c1", user_id: user, role: "admin", state }));
    typing("alice", "started");
    typing("bob", "started");
    expect(result.current).toEqual(["bob"]);
    typing("bob", "stopped");
    expect(result.current).toEqual([]);
    typing("carol", "started");
    act(() => server.last.receive(created(1, 1, { sender_id: "carol" })));
    expect(result.current).toEqual([]);
  });
});
