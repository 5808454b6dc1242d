import type { InfiniteData, UseInfiniteQueryResult } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { ConnectionStatus, worstState } from "../src/components/ConnectionStatus";
import { validate } from "../src/components/ConversationCreationModal";
import { ConversationsPage } from "../src/components/ConversationsPage";
import { MessageBubble } from "../src/components/MessageBubble";
import { MessageInput } from "../src/components/MessageInput";
import type { ShownMessage } from "../src/hooks/useMessages";
import { timeOf } from "../src/lib/format";
import type { Conversation, ConversationFilters, ConversationPage, Status } from "../src/types";

const XSS = "<img src=x onerror=alert(1)>";

function bubble(extra: Partial<ShownMessage> = {}): ShownMessage {
  return {
    conversation_id: "c1",
    seq: 1,
    message_id: "m1",
    sender: "client",
    sender_id: "carol",
    message_type: "text",
    content: XSS,
    attachment: null,
    client_message_id: null,
    created_at: "2026-11-24T10:00:00Z",
    read_by_staff_at: null,
    read_by_client_at: null,
    position: 1,
    ...extra,
  };
}

describe("MessageBubble", () => {
  it("renders content as text, never as HTML", () => {
    const { container } = render(
      <ul>
        <MessageBubble senderName="Carol Jensen" message={bubble()} selfId="alice" online firstUnread={false} />
      </ul>,
    );
    expect(screen.getByTestId("message-content").textContent).toBe(XSS);
    expect(container.querySelector("img")).toBeNull();
  });

  it("links only http(s) attachments", () => {
    const { container, rerender } = render(
      <ul>
        <MessageBubble
          senderName="Carol Jensen"
          message={bubble({ message_type: "file", attachment: { url: "javascript:alert(1)", name: "x" } })}
          selfId="alice"
          online
          firstUnread={false}
        />
      </ul>,
    );
    expect(container.querySelector("a")).toBeNull();
    rerender(
      <ul>
        <MessageBubble
          senderName="Carol Jensen"
          message={bubble({ message_type: "image", attachment: { url: "https://cdn.example/p.png", name: "photo" } })}
          selfId="alice"
          online
          firstUnread={false}
        />
      </ul>,
    );
    expect(screen.getByRole("img", { name: "photo" }).getAttribute("src")).toBe("https://cdn.example/p.png");
  });

  it("shows read ticks on staff messages — ✓ sent, ✓✓ read, said in words too — and queued ones as such", () => {
    const { rerender } = render(
      <ul>
        <MessageBubble senderName="Alice" message={bubble({ sender: "admin", sender_id: "alice" })} selfId="alice" online firstUnread={false} />
      </ul>,
    );
    expect(screen.getByTestId("ticks").textContent).toBe("✓Sent");
    rerender(
      <ul>
        <MessageBubble senderName="Alice" message={bubble({ sender: "admin", sender_id: "alice", read_by_client_at: "2026-11-24T10:01:00Z" })} selfId="alice" online firstUnread={false} />
      </ul>,
    );
    expect(screen.getByTestId("ticks").textContent).toBe("✓✓Read");
    expect(screen.getByText("Read").className).toContain("sr-only");
    rerender(
      <ul>
        <MessageBubble senderName="Carol Jensen" message={bubble({ sender: "admin", sender_id: "alice", local: "pending" })} selfId="alice" online={false} firstUnread={false} />
      </ul>,
    );
    expect(screen.getByTestId("pending").textContent).toBe("Queued");
  });
});

describe("MessageInput", () => {
  it("sends on Enter, adds a line on Shift+Enter, counts characters", () => {
    const onSend = vi.fn();
    render(<MessageInput disabled={false} onSend={onSend} onTyping={vi.fn()} onStopTyping={vi.fn()} />);
    const box = screen.getByLabelText("Message") as HTMLTextAreaElement;
    fireEvent.change(box, { target: { value: "hello" } });
    expect(screen.getByText("5 / 4000")).toBeTruthy();
    fireEvent.keyDown(box, { key: "Enter", shiftKey: true });
    expect(onSend).not.toHaveBeenCalled();
    fireEvent.keyDown(box, { key: "Enter" });
    expect(onSend).toHaveBeenCalledWith("hello");
    expect(box.value).toBe("");
    fireEvent.keyDown(box, { key: "Enter" }); // blank: nothing
    expect(onSend).toHaveBeenCalledOnce();
  });

  it("is disabled when the conversation is closed", () => {
    render(<MessageInput disabled disabledReason="closed" onSend={vi.fn()} onTyping={vi.fn()} onStopTyping={vi.fn()} />);
    expect((screen.getByLabelText("Message") as HTMLTextAreaElement).disabled).toBe(true);
    expect((screen.getByRole("button", { name: "Send" }) as HTMLButtonElement).disabled).toBe(true);
  });
});

describe("ConnectionStatus", () => {
  it("offers a manual reconnect when not connected", () => {
    const onReconnect = vi.fn();
    render(<ConnectionStatus state="reconnecting" onReconnect={onReconnect} />);
    expect(screen.getByRole("status").textContent).toContain("Reconnecting");
    fireEvent.click(screen.getByRole("button", { name: "Reconnect" }));
    expect(onReconnect).toHaveBeenCalledOnce();
    expect(worstState(["connected", "reconnecting"])).toBe("reconnecting");
  });
});

describe("new conversation validation", () => {
  it("needs a client id and name, bounded lengths", () => {
    const form = { clientId: " ", clientName: "", channel: "web" as const, priority: "Medium" as const, summary: "x".repeat(501) };
    expect(Object.keys(validate(form)).sort()).toEqual(["clientId", "clientName", "summary"]);
    expect(validate({ ...form, clientId: "c-1", clientName: "Carol", summary: "" })).toEqual({});
  });
});

describe("MessageList", () => {
  it("opens at the first unread message and keeps the divider there", async () => {
    const { MessageList } = await import("../src/components/MessageList");
    const scrolled: string[] = [];
    Element.prototype.scrollIntoView = function (this: Element) {
      scrolled.push(this.textContent ?? "");
    };
    const read = "2026-11-24T10:00:00Z";
    const messages = [
      bubble({ seq: 1, message_id: "m1", content: "old", read_by_staff_at: read }),
      bubble({ seq: 2, message_id: "m2", content: "first unread" }),
      bubble({ seq: 3, message_id: "m3", content: "second unread" }),
    ];
    const props = {
      entries: [],
      nameOf: () => "Carol Jensen",
      selfId: "alice",
      online: true,
      hasOlder: false,
      loadingOlder: false,
      onLoadOlder: vi.fn(),
    };
    const { rerender } = render(<MessageList messages={messages} {...props} />);
    expect(scrolled).toHaveLength(1);
    expect(scrolled[0]).toContain("first unread");
    expect(screen.getByText("Unread messages")).toBeTruthy();
    rerender(<MessageList messages={messages.map((m) => ({ ...m, read_by_staff_at: read }))} {...props} />);
    expect(screen.getByText("Unread messages")).toBeTruthy();
  });
});

describe("StatusActions", () => {
  async function actions(status: Status) {
    const { StatusActions } = await import("../src/components/StatusActions");
    const onStatus = vi.fn();
    const onSnooze = vi.fn();
    render(<StatusActions status={status} clientName="Carol Jensen" busy={false} onStatus={onStatus} onSnooze={onSnooze} />);
    const names = screen.getAllByRole("button").map((b) => b.textContent?.replace("▾", "").trim());
    return { onStatus, onSnooze, names };
  }

  it("offers what the transition table allows from each status", async () => {
    expect((await actions("active")).names).toEqual(["Mark pending", "Snooze", "Close"]);
    cleanup();
    expect((await actions("pending")).names).toEqual(["Mark active", "Snooze", "Close"]);
    cleanup();
    expect((await actions("snoozed")).names).toEqual(["Unsnooze", "Snooze", "Close"]);
    cleanup();
    expect((await actions("closed")).names).toEqual(["Reopen"]);
  });

  it("sets pending, and unsnoozes to active", async () => {
    const { onStatus } = await actions("active");
    fireEvent.click(screen.getByRole("button", { name: "Mark pending" }));
    expect(onStatus).toHaveBeenLastCalledWith("pending");
    cleanup();
    const snoozed = await actions("snoozed");
    fireEvent.click(screen.getByRole("button", { name: "Unsnooze" }));
    expect(snoozed.onStatus).toHaveBeenLastCalledWith("active");
  });

  it("snoozes from a menu of presets that Escape closes", async () => {
    const { onSnooze } = await actions("active");
    const toggle = screen.getByRole("button", { name: "Snooze" });
    expect(toggle.getAttribute("aria-expanded")).toBe("false");
    fireEvent.click(toggle);
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    const menu = screen.getByRole("group", { name: "Snooze until" });
    expect([...menu.querySelectorAll("button")].map((b) => b.textContent)).toEqual([
      "For 1 hour",
      "Until tomorrow 09:00",
      "Until next Monday 09:00",
    ]);
    fireEvent.keyDown(menu, { key: "Escape" });
    expect(screen.queryByRole("group")).toBeNull();
    expect(document.activeElement).toBe(toggle);

    fireEvent.click(toggle);
    const before = Date.now();
    fireEvent.click(screen.getByRole("button", { name: "For 1 hour" }));
    const until = (onSnooze.mock.calls[0]?.[0] as Date).getTime();
    expect(until - before).toBeGreaterThanOrEqual(3_600_000 - 1000);
    expect(until - before).toBeLessThanOrEqual(3_600_000 + 1000);
    expect(screen.queryByRole("group")).toBeNull();
  });
});

describe("StatusBadge", () => {
  it("names the status in words; a snoozed one says until when", async () => {
    const { StatusBadge } = await import("../src/components/StatusBadge");
    const until = new Date(Date.now() + 3_600_000);
    render(<StatusBadge status="snoozed" snoozedUntil={until.toISOString()} />);
    const text = screen.getByTestId("status-badge").textContent ?? "";
    expect(text.startsWith("Snoozed until ")).toBe(true);
    expect(text).toContain(timeOf(until.toISOString()));
    cleanup();
    render(<StatusBadge status="pending" />);
    expect(screen.getByTestId("status-badge").textContent).toBe("Pending");
  });
});

describe("ConversationsPage", () => {
  function inbox(items: Conversation[], filters: ConversationFilters = {}) {
    const onFilters = vi.fn();
    const query = {
      data: { pages: [{ items, next_cursor: null }], pageParams: [null] },
      isPending: false,
      isError: false,
      isSuccess: true,
      hasNextPage: false,
    } as unknown as UseInfiniteQueryResult<InfiniteData<ConversationPage>>;
    render(<ConversationsPage filters={filters} onFilters={onFilters} query={query} selected={null} onSelect={vi.fn()} />);
    return onFilters;
  }
  const conversation = (id: string, extra: Partial<Conversation>) =>
    ({ conversation_id: id, client_name: `Client ${id}`, priority: "Medium", status: "active", channel: "web", unread_for_staff: 0, last_update: "2026-11-24T09:00:00Z", last_message_at: null, last_message_preview: null, summary: null, ...extra }) as Conversation;

  it("filters by one status at a time, as the API takes it", () => {
    const onFilters = inbox([], { q: "car" });
    const select = screen.getByRole("combobox", { name: "Status filter" }) as HTMLSelectElement;
    expect([...select.options].map((o) => [o.value, o.textContent])).toEqual([
      ["", "All"],
      ["active", "Active"],
      ["pending", "Pending"],
      ["snoozed", "Snoozed"],
      ["closed", "Closed"],
    ]);
    fireEvent.change(select, { target: { value: "pending" } });
    expect(onFilters).toHaveBeenLastCalledWith({ q: "car", status: "pending" });
    fireEvent.change(select, { target: { value: "" } });
    expect(onFilters).toHaveBeenLastCalledWith({ q: "car", status: undefined });
    // Its filters' names differ from the chat header's "Priority".
    expect(screen.getByRole("combobox", { name: "Priority filter" })).toBeTruthy();
  });

  it("shows a badge on pending and snoozed rows", () => {
    const until = new Date(Date.now() + 3_600_000).toISOString();
    inbox([
      conversation("a", { status: "pending" }),
      conversation("b", { status: "snoozed", snoozed_until: until }),
      conversation("c", { status: "active" }),
    ]);
    const badges = screen.getAllByTestId("status-badge");
    expect(badges.map((b) => b.dataset.status)).toEqual(["pending", "snoozed"]);
    expect(badges[1]?.textContent).toContain(`Snoozed until`);
    expect(badges[1]?.textContent).toContain(timeOf(until));
  });
});
