import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ChatHeader } from "../src/components/ChatHeader";
import { ChatWindow } from "../src/components/ChatWindow";
import { MessageBubble } from "../src/components/MessageBubble";
import { StatusActions } from "../src/components/StatusActions";
import { StatusEntry } from "../src/components/StatusEntry";
import { SessionProvider, type Session } from "../src/hooks/useApi";
import type { ShownMessage } from "../src/hooks/useMessages";
import { announcementOf } from "../src/hooks/useAnnouncement";
import { describeEntry, interleave } from "../src/lib/timeline";
import { ApiClient } from "../src/services/api";
import type { Conversation, Message, MessageCreatedFrame, SystemEntry } from "../src/types";
import { conversationRow, created, FakeServer } from "./fakes";

function message(seq: number, extra: Partial<ShownMessage> = {}): ShownMessage {
  return {
    conversation_id: "c1",
    seq,
    message_id: `m${seq}`,
    sender: "client",
    sender_id: "c-1",
    message_type: "text",
    content: `message ${seq}`,
    attachment: null,
    client_message_id: null,
    created_at: "2026-11-24T10:00:00Z",
    read_by_staff_at: null,
    read_by_client_at: null,
    position: seq * 10,
    ...extra,
  };
}

function entry(position: number, event_type: string, details: Record<string, unknown>, by_name: string | null = "Alice Martin"): SystemEntry {
  return { kind: "system", conversation_id: "c1", position, created_at: "2026-11-24T10:05:00Z", event_type, by: "alice", by_name, details };
}

const closing = (position: number, reason: string | null = null) =>
  entry(position, "ConversationStatusChanged", { from: "active", to: "closed", reason });

describe("a message bubble", () => {
  const shown = (m: ShownMessage, selfId = "alice") =>
    render(
      <ul>
        <MessageBubble message={m} senderName="Carol Jensen" selfId={selfId} online firstUnread={false} />
      </ul>,
    );

  it("names the sender, not their id, on messages that are not one's own", () => {
    shown(message(1));
    expect(screen.getByTestId("sender").textContent).toBe("Carol Jensen");
    expect(screen.queryByText("c-1")).toBeNull();
  });

  it("names nobody on one's own messages", () => {
    shown(message(1, { sender: "admin", sender_id: "alice" }));
    expect(screen.queryByTestId("sender")).toBeNull();
  });

  it("wraps a long word or URL anywhere instead of widening the page", () => {
    shown(message(1, { content: `https://example.com/${"a".repeat(300)}` }));
    expect(screen.getByTestId("message-content").className).toContain("[overflow-wrap:anywhere]");
  });
});

describe("closing a conversation", () => {
  function actions() {
    const onStatus = vi.fn();
    render(<StatusActions status="active" clientName="Carol Jensen" busy={false} onStatus={onStatus} onSnooze={vi.fn()} />);
    return onStatus;
  }
  const dialog = () => screen.queryByRole("dialog", { name: "Close this conversation?" });

  it("asks for confirmation first, with the reason field focused", () => {
    const onStatus = actions();
    fireEvent.click(screen.getByRole("button", { name: "Close" }));
    expect(dialog()).toBeTruthy();
    expect(document.activeElement).toBe(screen.getByLabelText("Reason (optional)"));
    expect(onStatus).not.toHaveBeenCalled();
  });

  it("closes with the reason given", () => {
    const onStatus = actions();
    fireEvent.click(screen.getByRole("button", { name: "Close" }));
    fireEvent.change(screen.getByLabelText("Reason (optional)"), { target: { value: "  Resolved by phone " } });
    fireEvent.click(screen.getByRole("button", { name: "Close conversation" }));
    expect(onStatus).toHaveBeenCalledWith("closed", "Resolved by phone");
    expect(dialog()).toBeNull();
  });

  it("closes without a reason when none is given", () => {
    const onStatus = actions();
    fireEvent.click(screen.getByRole("button", { name: "Close" }));
    fireEvent.click(screen.getByRole("button", { name: "Close conversation" }));
    expect(onStatus).toHaveBeenCalledWith("closed", undefined);
  });

  it("does nothing on Cancel or Escape, and gives focus back to the Close button", () => {
    const onStatus = actions();
    const close = screen.getByRole("button", { name: "Close" });
    act(() => close.focus());
    fireEvent.click(close);
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(dialog()).toBeNull();
    expect(document.activeElement).toBe(close);
    fireEvent.click(close);
    fireEvent.keyDown(screen.getByLabelText("Reason (optional)"), { key: "Escape" });
    expect(dialog()).toBeNull();
    expect(onStatus).not.toHaveBeenCalled();
  });

  it("refuses a reason over 500 characters", () => {
    actions();
    fireEvent.click(screen.getByRole("button", { name: "Close" }));
    fireEvent.change(screen.getByLabelText("Reason (optional)"), { target: { value: "x".repeat(501) } });
    expect((screen.getByRole("button", { name: "Close conversation" }) as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByText(/501 \/ 500/)).toBeTruthy();
  });
});

describe("status changes in the timeline", () => {
  it("say who did what, and the reason", () => {
    render(
      <ol>
        <StatusEntry entry={closing(5, "Resolved by phone")} />
      </ol>,
    );
    expect(screen.getByTestId("status-entry").textContent).toMatch(/^Alice Martin closed the conversation · Reason: Resolved by phone · /);
  });

  it("read as a person would say them", () => {
    const said = (e: SystemEntry) => describeEntry(e).text;
    expect(said(entry(1, "ConversationStatusChanged", { from: "closed", to: "active" }))).toBe("Alice Martin reopened the conversation");
    expect(said(entry(1, "ConversationStatusChanged", { from: "active", to: "pending" }))).toBe("Alice Martin marked the conversation pending");
    expect(said(entry(1, "ConversationStatusChanged", { from: "snoozed", to: "active" }))).toBe("Alice Martin unsnoozed the conversation");
    expect(said(entry(1, "ConversationSnoozed", { until: new Date(Date.now() + 3_600_000).toISOString() }))).toMatch(
      /^Alice Martin snoozed the conversation until /,
    );
    expect(said(entry(1, "ConversationWoke", { reason: "client_message" }, null))).toBe("The conversation woke up: the client wrote");
    expect(said(entry(1, "ConversationWoke", { reason: "timer" }, null))).toBe("The conversation woke up: its snooze ended");
    expect(said({ ...closing(1), by_name: null, by: null })).toBe("Someone closed the conversation");
  });

  it("sit between the messages written before and after them; unsent messages stay last", () => {
    const sending = message(99, { local: "pending", position: 0, client_message_id: "m-x", message_id: "m-x" });
    const items = interleave([message(1), message(2), sending], [closing(25), closing(15)]);
    expect(items.map((i) => (i.kind === "message" ? `m${i.message.seq}` : `e${i.entry.position}`))).toEqual([
      "m1",
      "e15",
      "m2",
      "e25",
      "m99",
    ]);
  });
});

// -- the chat window against a fake server --------------------------------------------------

function row(extra: Partial<Conversation> = {}): Conversation {
  const carol = { client_id: "c-1", client_name: "Carol Jensen", message_count: 1 };
  return conversationRow("c1", { ...carol, position: 40, version: 7, ...extra });
}

interface Fake {
  conversation: Conversation;
  messages: Message[];
  timeline: () => SystemEntry[];
  /** The timeline page after a position, when the test pages it. */
  timelinePage?: (after: string) => unknown;
  agents?: { agent_id: string; display_name: string }[];
  command?: () => Response;
}

function chat(fake: Fake, onBack = vi.fn()) {
  const calls: { method: string; path: string; after: string | null; minPosition: string | null; body: unknown }[] = [];
  const fetch = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    const path = String(url).split("?")[0] ?? "";
    const query = new URL(String(url), "http://test").searchParams;
    const after = query.get("after");
    const method = init?.method ?? "GET";
    calls.push({ method, path, after, minPosition: query.get("min_position"), body: init?.body ? JSON.parse(String(init.body)) : null });
    const json = (data: unknown) => new Response(JSON.stringify(data));
    if (method !== "GET") return fake.command?.() ?? json({ conversation_id: "c1", position: 60, version: 9, events: [], replayed: false });
    if (path === "/api/conversations/c1") return json(fake.conversation);
    if (path === "/api/messages") return json({ items: fake.messages, next_before: null });
    if (path === "/api/conversations/c1/timeline") {
      return json(fake.timelinePage?.(after ?? "0") ?? { items: fake.timeline(), next_after: null, reached: 100 });
    }
    if (path === "/api/agents") return json({ items: (fake.agents ?? []).map((a) => ({ ...a, availability: "online", online: true })) });
    return new Response(JSON.stringify({ code: "nope", message: path }), { status: 404 });
  });
  const api = new ApiClient({ getToken: () => "tok", fetch: fetch as unknown as typeof globalThis.fetch, retries: 0 });
  const session: Session = {
    api,
    token: "tok",
    identity: { sub: "alice", role: "admin", exp: 2e9 },
    wsUrl: (path) => `ws://test${path}`,
  };
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
  render(<ChatWindow conversationId="c1" onSocketState={vi.fn()} reconnectSignal={0} onBack={onBack} />, { wrapper });
  const ready = async () => {
    await waitFor(() => expect(server.sockets).toHaveLength(1));
    act(() => {
      server.last.open();
      server.last.receive({ type: "READY", conversation_id: "c1", stream_position: 7, position: 40 });
    });
  };
  return { calls, server, ready, onBack };
}

function statusFrame(streamPosition: number, from: string, to: string) {
  return {
    type: "STATUS_CHANGED",
    conversation_id: "c1",
    stream_position: streamPosition,
    position: 40 + streamPosition,
    at: "2026-11-24T10:06:00Z",
    from,
    to,
    reason: null,
    until: null,
  };
}

describe("the chat window", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("marks a closed conversation's unread messages read, so its badge clears", async () => {
    const { server, ready } = chat({ conversation: row({ status: "closed", unread_for_staff: 1 }), messages: [message(1)], timeline: () => [] });
    await ready();
    await waitFor(() => expect(server.last.sentOfType("MARK_READ")).toEqual([{ type: "MARK_READ", up_to_seq: 1 }]));
  });

  it("shows status changes as timeline entries, and a new one as it happens", async () => {
    let entries = [closing(15, "Duplicate")];
    const { server, ready, calls } = chat({ conversation: row(), messages: [message(1), message(2)], timeline: () => entries });
    await ready();
    await waitFor(() => expect(screen.getAllByTestId("status-entry")).toHaveLength(1));
    expect(screen.getByTestId("status-entry").textContent).toContain("Alice Martin closed the conversation · Reason: Duplicate");

    entries = [...entries, entry(48, "ConversationStatusChanged", { from: "active", to: "pending" }, "Bob Stone")];
    act(() => server.last.receive(statusFrame(8, "active", "pending")));
    await waitFor(() => expect(screen.getAllByTestId("status-entry")).toHaveLength(2));
    expect(screen.getAllByTestId("status-entry")[1]?.textContent).toContain("Bob Stone marked the conversation pending");
    // The second read waits for the read models to hold the change (its global position, 48).
    const reads = calls.filter((c) => c.path.endsWith("/timeline"));
    expect(reads[0]?.minPosition).toBeNull();
    expect(reads[reads.length - 1]?.minPosition).toBe("48");
  });

  it("announces a new message from the client to screen readers, not one's own", async () => {
    const { server, ready } = chat({ conversation: row(), messages: [], timeline: () => [] });
    await ready();
    const announcer = screen.getByTestId("announcer");
    expect(announcer.getAttribute("role")).toBe("status");
    await waitFor(() => expect(screen.getByText("No messages yet. Say hello.")).toBeTruthy());
    act(() => server.last.receive(created(1, 8, { content: "Where is my parcel?", sender_id: "c-1" })));
    await waitFor(() => expect(announcer.textContent).toBe("New message from Carol Jensen: Where is my parcel?"));
    act(() => server.last.receive(created(2, 9, { content: "On its way", sender: "admin", sender_id: "alice" })));
    expect(announcer.textContent).toBe("New message from Carol Jensen: Where is my parcel?");
  });

  it("names a colleague by the staff directory when the message carries no name", async () => {
    const { ready } = chat({
      conversation: row(),
      messages: [message(1, { sender: "admin", sender_id: "bob", sender_name: null })],
      timeline: () => [],
      agents: [{ agent_id: "bob", display_name: "Bob Stone" }],
    });
    await ready();
    await waitFor(() => expect(screen.getByTestId("sender").textContent).toBe("Bob Stone"));
  });

  it("closes after the confirmation, sending the reason with the status", async () => {
    const { ready, calls } = chat({ conversation: row(), messages: [], timeline: () => [] });
    await ready();
    fireEvent.click(screen.getByRole("button", { name: "Close" }));
    fireEvent.change(screen.getByLabelText("Reason (optional)"), { target: { value: "Resolved by phone" } });
    fireEvent.click(screen.getByRole("button", { name: "Close conversation" }));
    await waitFor(() => expect(calls.filter((c) => c.method === "PATCH")).toHaveLength(1));
    expect(calls.find((c) => c.method === "PATCH")).toMatchObject({
      path: "/api/conversations/c1/status",
      body: { status: "closed", reason: "Resolved by phone" },
    });
  });

  it("has a Back button to the inbox, and a priority control named apart from the inbox filter", async () => {
    const { onBack } = chat({ conversation: row(), messages: [], timeline: () => [] });
    fireEvent.click(await screen.findByRole("button", { name: "Back" }));
    expect(onBack).toHaveBeenCalledOnce();
    expect(screen.getByRole("combobox", { name: "Conversation priority" })).toBeTruthy();
  });

  it("clears a 'cannot reach the server' banner once the connection is back", async () => {
    let online = true;
    const fake: Fake = {
      conversation: row(),
      messages: [],
      timeline: () => [],
      command: () => {
        if (!online) throw new TypeError("Failed to fetch");
        return new Response("{}");
      },
    };
    const { server, ready } = chat(fake);
    await ready();
    online = false;
    act(() => server.last.drop());
    fireEvent.click(screen.getByRole("button", { name: "Mark pending" }));
    const banner = await screen.findByRole("alert");
    expect(banner.textContent).toMatch(/cannot reach the server.*\(network_error\)/);
    online = true;
    await waitFor(() => expect(server.sockets).toHaveLength(2), { timeout: 5000 });
    act(() => {
      server.last.open();
      server.last.receive({ type: "READY", conversation_id: "c1", stream_position: 7, position: 40 });
    });
    await waitFor(() => expect(screen.queryByRole("alert")).toBeNull());
  });
});

describe("what a screen reader hears of a new message", () => {
  const frame = (extra: Partial<MessageCreatedFrame>) => ({ ...created(1, 8), ...extra }) as MessageCreatedFrame;

  it("says an image or a file is one, with its caption", () => {
    expect(announcementOf(frame({ message_type: "image", content: "the parcel" }), "Carol Jensen")).toBe(
      "New message from Carol Jensen: an image the parcel",
    );
    expect(announcementOf(frame({ message_type: "file", content: "" }), "Carol Jensen")).toBe("New message from Carol Jensen: a file");
  });

  it("cuts a long message after 140 characters", () => {
    const said = announcementOf(frame({ content: "x".repeat(500) }), "Carol Jensen");
    expect(said).toBe(`New message from Carol Jensen: ${"x".repeat(140)}…`);
  });
});

describe("reading the status changes", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("follows the timeline's pages to the end, keeping only status changes", async () => {
    const pages: Record<string, unknown> = {
      "0": { items: [{ kind: "message", position: 10 }, closing(15)], next_after: 15, reached: 30 },
      "15": { items: [{ kind: "note", position: 20 }, entry(25, "ConversationWoke", { reason: "timer" }, null)], next_after: null, reached: 30 },
    };
    const { ready, calls } = chat({
      conversation: row(),
      messages: [message(1), message(2), message(3)],
      timeline: () => [],
      timelinePage: (after) => pages[after],
    });
    await ready();
    await waitFor(() => expect(screen.getAllByTestId("status-entry")).toHaveLength(2));
    expect(screen.getAllByTestId("status-entry").map((e) => e.textContent?.split(" · ")[0])).toEqual([
      "Alice Martin closed the conversation",
      "The conversation woke up: its snooze ended",
    ]);
    const afters = calls.filter((c) => c.path.endsWith("/timeline")).map((c) => c.after);
    expect(afters).toEqual(["0", "15"]);
  });
});

describe("the chat header", () => {
  it("offers only Reopen on a closed conversation, whose priority is then fixed", () => {
    const onAction = vi.fn();
    render(<ChatHeader conversation={row({ status: "closed" })} busy={false} onAction={onAction} onBack={vi.fn()} />);
    expect(screen.getByTestId("chat-status").textContent).toBe("Closed");
    expect((screen.getByRole("combobox", { name: "Conversation priority" }) as HTMLSelectElement).disabled).toBe(true);
    expect(screen.queryByRole("button", { name: "Close" })).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Reopen" }));
    expect(onAction).toHaveBeenCalledWith({ status: "active", reason: undefined });
  });

  it("changes the priority", () => {
    const onAction = vi.fn();
    render(<ChatHeader conversation={row()} busy={false} onAction={onAction} onBack={vi.fn()} />);
    fireEvent.change(screen.getByRole("combobox", { name: "Conversation priority" }), { target: { value: "High" } });
    expect(onAction).toHaveBeenCalledWith({ priority: "High" });
  });
});
