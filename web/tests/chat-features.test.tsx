import { act, fireEvent, render, renderHook, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ChatWindow } from "../src/components/ChatWindow";
import { PresenceDots } from "../src/components/PresenceDots";
import { SessionProvider, type Session } from "../src/hooks/useApi";
import { draftKey } from "../src/hooks/useDraft";
import { usePresence } from "../src/hooks/usePresence";
import { ApiClient } from "../src/services/api";
import { ParleySocket } from "../src/services/socket";
import type { Conversation, Message } from "../src/types";
import { conversationRow, FakeServer } from "./fakes";

const carol = (extra: Partial<Conversation> = {}) =>
  conversationRow("c1", { client_id: "c-1", client_name: "Carol Jensen", message_count: 1, position: 40, version: 7, ...extra });

function clientMessage(seq: number, extra: Partial<Message> = {}): Message {
  return {
    conversation_id: "c1", seq, message_id: `m${seq}`, sender: "client", sender_id: "carol", message_type: "text",
    content: `message ${seq}`, attachment: null, client_message_id: null, created_at: "2026-11-24T10:00:00Z",
    read_by_staff_at: null, read_by_client_at: null, position: seq * 10, ...extra,
  };
}

/** The chat window against a fake API and socket server. */
function chat(conversation: Conversation, messages: Message[]) {
  const fetch = vi.fn(async (url: RequestInfo | URL) => {
    const path = String(url).split("?")[0] ?? "";
    const json = (data: unknown) => new Response(JSON.stringify(data));
    if (path === "/api/conversations/c1") return json(conversation);
    if (path === "/api/messages") return json({ items: messages, next_before: null });
    if (path === "/api/conversations/c1/timeline") return json({ items: [], next_after: null, reached: 100 });
    if (path === "/api/agents") return json({ items: [{ agent_id: "bob", display_name: "Bob Stone", availability: "online", online: true }] });
    return new Response(JSON.stringify({ code: "nope", message: path }), { status: 404 });
  });
  const api = new ApiClient({ getToken: () => "tok", fetch: fetch as unknown as typeof globalThis.fetch, retries: 0 });
  const session: Session = { api, token: "tok", identity: { sub: "alice", role: "admin", exp: 2e9 }, wsUrl: (path) => `ws://test${path}` };
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={queryClient}>
      <SessionProvider value={session}>{children}</SessionProvider>
    </QueryClientProvider>
  );
  const server = new FakeServer();
  vi.stubGlobal("WebSocket", function WebSocket(url: string, protocols: string[]) {
    return server.factory(url, protocols);
  });
  const view = render(<ChatWindow conversationId="c1" onSocketState={vi.fn()} reconnectSignal={0} onBack={vi.fn()} />, { wrapper });
  const ready = async (online: unknown = []) => {
    await waitFor(() => expect(server.sockets.length).toBeGreaterThan(0));
    act(() => {
      server.last.open();
      server.last.receive({ type: "READY", conversation_id: "c1", stream_position: 7, position: 0, online });
    });
  };
  return { server, ready, view };
}

beforeEach(() => localStorage.clear());
afterEach(() => vi.unstubAllGlobals());

describe("presence in the chat window", () => {
  it("shows who is here from READY, then who joins and leaves, in words", async () => {
    const { server, ready } = chat(carol(), []);
    await ready([
      { user_id: "alice", role: "admin", since: "2026-12-04T10:00:00Z", connections: 1 },
      { user_id: "carol", role: "client", since: "2026-12-04T10:00:00Z", connections: 1 },
    ]);
    await waitFor(() => expect(screen.getByTestId("presence-client").textContent).toBe("Carol Jensen · online"));
    expect(screen.queryAllByTestId("presence-staff")).toHaveLength(0); // not oneself
    act(() => server.last.receive({ type: "PRESENCE", conversation_id: "c1", user_id: "bob", role: "agent", state: "joined" }));
    expect(screen.getByTestId("presence-staff").textContent).toBe("Bob Stone · here too");
    act(() => server.last.receive({ type: "PRESENCE", conversation_id: "c1", user_id: "carol", role: "client", state: "left" }));
    expect(screen.getByTestId("presence-client").textContent).toBe("Carol Jensen · offline");
    // Disconnected: nothing is claimed until READY says again.
    act(() => server.last.drop(1006));
    expect(screen.queryByTestId("presence")).toBeNull();
  });
});

describe("per-agent read state in the chat window", () => {
  it("marks read what a colleague read but I have not (my_unread)", async () => {
    const read = "2026-11-24T10:01:00Z";
    const { server, ready } = chat(carol({ unread_for_staff: 0, my_unread: 2 }), [clientMessage(1, { read_by_staff_at: read }), clientMessage(2, { read_by_staff_at: read })]);
    await ready();
    await waitFor(() => expect(server.last.sentOfType("MARK_READ")).toEqual([{ type: "MARK_READ", up_to_seq: 2 }]));
  });

  it("marks nothing when I have read everything", async () => {
    const read = "2026-11-24T10:01:00Z";
    const { server, ready } = chat(carol({ my_unread: 0 }), [clientMessage(1, { read_by_staff_at: read })]);
    await ready();
    await waitFor(() => expect(screen.getByText("message 1")).toBeTruthy());
    expect(server.last.sentOfType("MARK_READ")).toEqual([]);
  });
});

describe("drafts in the chat window", () => {
  it("keeps what I was writing when I leave the conversation and come back", async () => {
    const first = chat(carol(), []);
    await first.ready();
    fireEvent.change(screen.getByLabelText("Message"), { target: { value: "Let me check" } });
    expect(localStorage.getItem(draftKey("alice", "c1"))).toBe("Let me check");
    first.view.unmount();
    const again = chat(carol(), []);
    await again.ready();
    expect(screen.getByLabelText<HTMLTextAreaElement>("Message").value).toBe("Let me check");
    fireEvent.keyDown(screen.getByLabelText("Message"), { key: "Enter" });
    expect(again.server.last.sentOfType("SEND_MESSAGE")).toHaveLength(1);
    expect(localStorage.getItem(draftKey("alice", "c1"))).toBeNull();
  });
});

describe("usePresence and PresenceDots", () => {
  it("ignores other conversations' presence frames (the inbox socket gets them all)", () => {
    const server = new FakeServer();
    const socket = new ParleySocket({ kind: "conversation", url: () => "ws://test", token: () => "tok", createSocket: server.factory });
    const { result } = renderHook(() => usePresence(socket, "c1"));
    expect(result.current.known).toBe(false);
    act(() => {
      socket.connect();
      server.last.open();
      server.last.receive({ type: "READY", conversation_id: "c1", stream_position: 1, position: 0, online: null });
    });
    expect(result.current).toEqual({ online: [], known: true });
    act(() => server.last.receive({ type: "PRESENCE", conversation_id: "c2", user_id: "x", role: "client", state: "joined" }));
    act(() => server.last.receive({ type: "PRESENCE", conversation_id: "c1", user_id: "y", role: "client", state: "joined" }));
    act(() => server.last.receive({ type: "PRESENCE", conversation_id: "c1", user_id: "y", role: "client", state: "joined" }));
    expect(result.current.online).toEqual([{ userId: "y", role: "client" }]);
  });

  it("tells online from offline by shape and words, not colour alone", () => {
    const { container } = render(
      <PresenceDots online={[{ userId: "bob", role: "agent" }]} known selfId="alice" clientName="Carol" nameOf={(id) => id.toUpperCase()} />,
    );
    expect(screen.getByRole("list", { name: "Who is here" })).toBeTruthy();
    expect(screen.getByTestId("presence-client").textContent).toBe("Carol · offline");
    expect(screen.getByTestId("presence-staff").textContent).toBe("BOB · here too");
    const dots = container.querySelectorAll("[aria-hidden=true]");
    expect(dots[0]?.className).toContain("border"); // hollow
    expect(dots[1]?.className).toContain("bg-emerald-600"); // filled
  });
});

describe("accessibility of the presence dots (axe-core in jsdom)", () => {
  it("has no violations", async () => {
    const { container } = render(
      <PresenceDots online={[{ userId: "carol", role: "client" }, { userId: "bob", role: "agent" }]} known selfId="alice" clientName="Carol" nameOf={(id) => id} />,
    );
    const axe = (await import("axe-core")).default;
    const result = await axe.run(container, { rules: { "color-contrast": { enabled: false }, region: { enabled: false } } });
    expect(result.passes.map((p) => p.id)).toContain("list");
    expect(result.violations.map((v) => v.id)).toEqual([]);
  });
});

describe("where my unread messages begin", () => {
  const m = (seq: number, sender: "client" | "admin", read = false) =>
    ({ ...clientMessage(seq, { sender, read_by_staff_at: read ? "2026-11-24T10:01:00Z" : null }) }) as Message;
  const shown = [m(1, "client", true), m(2, "admin"), m(3, "client", true), m(4, "client", true), m(5, "admin")];

  it("counts back my own unread client messages, whatever colleagues read", async () => {
    const { firstUnreadSeq } = await import("../src/components/MessageList");
    expect(firstUnreadSeq(shown, 2)).toBe(3);
    expect(firstUnreadSeq(shown, 9)).toBe(1); // more than loaded: the oldest loaded
    expect(firstUnreadSeq(shown, 0)).toBeNull();
    // A server without per-agent reads: the first client message no one read.
    expect(firstUnreadSeq([m(1, "client", true), m(2, "client")], undefined)).toBe(2);
  });
});
