import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { ConnectionStatus, worstState } from "../src/components/ConnectionStatus";
import { validate } from "../src/components/ConversationCreationModal";
import { MessageBubble } from "../src/components/MessageBubble";
import { MessageInput } from "../src/components/MessageInput";
import type { ShownMessage } from "../src/hooks/useMessages";

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
        <MessageBubble message={bubble()} selfId="alice" online firstUnread={false} />
      </ul>,
    );
    expect(screen.getByTestId("message-content").textContent).toBe(XSS);
    expect(container.querySelector("img")).toBeNull();
  });

  it("links only http(s) attachments", () => {
    const { container, rerender } = render(
      <ul>
        <MessageBubble
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
          message={bubble({ message_type: "image", attachment: { url: "https://cdn.example/p.png", name: "photo" } })}
          selfId="alice"
          online
          firstUnread={false}
        />
      </ul>,
    );
    expect(screen.getByRole("img", { name: "photo" }).getAttribute("src")).toBe("https://cdn.example/p.png");
  });

  it("shows read ticks on staff messages, and queued ones as such", () => {
    const { rerender } = render(
      <ul>
        <MessageBubble message={bubble({ sender: "admin", sender_id: "alice", read_by_client_at: "2026-11-24T10:01:00Z" })} selfId="alice" online firstUnread={false} />
      </ul>,
    );
    expect(screen.getByLabelText("Read")).toBeTruthy();
    rerender(
      <ul>
        <MessageBubble message={bubble({ sender: "admin", sender_id: "alice", local: "pending" })} selfId="alice" online={false} firstUnread={false} />
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
    const props = { selfId: "alice", online: true, hasOlder: false, loadingOlder: false, onLoadOlder: vi.fn() };
    const { rerender } = render(<MessageList messages={messages} {...props} />);
    expect(scrolled).toHaveLength(1);
    expect(scrolled[0]).toContain("first unread");
    expect(screen.getByText("Unread messages")).toBeTruthy();
    rerender(<MessageList messages={messages.map((m) => ({ ...m, read_by_staff_at: read }))} {...props} />);
    expect(screen.getByText("Unread messages")).toBeTruthy();
  });
});
