import type { InfiniteData, UseInfiniteQueryResult } from "@tanstack/react-query";
import { act, fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { ConversationsPage } from "../src/components/ConversationsPage";
import { previewOf } from "../src/components/InboxRow";
import type { Conversation, ConversationFilters, ConversationPage } from "../src/types";
import { conversationRow as conversation } from "./fakes";

function inbox(items: Conversation[], { filters = {}, selected = null }: { filters?: ConversationFilters; selected?: string | null } = {}) {
  const onSelect = vi.fn();
  const query = {
    data: { pages: [{ items, next_cursor: null }], pageParams: [null] },
    isPending: false,
    isError: false,
    isSuccess: true,
    hasNextPage: false,
  } as unknown as UseInfiniteQueryResult<InfiniteData<ConversationPage>>;
  render(<ConversationsPage filters={filters} onFilters={vi.fn()} query={query} selected={selected} onSelect={onSelect} />);
  return { onSelect, rows: () => screen.getAllByTestId("inbox-row").map((row) => row.querySelector("button") as HTMLButtonElement) };
}

describe("an empty inbox", () => {
  it("says there are no conversations yet when nothing filters it", () => {
    inbox([]);
    expect(screen.getByText("No conversations yet.")).toBeTruthy();
    expect(screen.queryByText("No conversations match these filters.")).toBeNull();
  });

  it("says the filters match nothing when some are set", () => {
    inbox([], { filters: { priority: "High" } });
    expect(screen.getByText("No conversations match these filters.")).toBeTruthy();
  });

  it("counts blanks in the name search as no filter", () => {
    inbox([], { filters: { q: "   " } });
    expect(screen.getByText("No conversations yet.")).toBeTruthy();
  });
});

describe("an inbox row's preview", () => {
  it("says who wrote last, by name", () => {
    const fromClient = conversation("a", {
      last_message_preview: "Where is my parcel?",
      last_message_sender: "client",
      last_message_sender_name: "Carol Jensen",
    });
    const fromStaff = conversation("b", {
      last_message_preview: "It left the depot",
      last_message_sender: "admin",
      last_message_sender_name: "Alice Martin",
    });
    inbox([fromClient, fromStaff]);
    expect(screen.getAllByTestId("preview").map((p) => p.textContent)).toEqual([
      "Carol Jensen: Where is my parcel?",
      "Alice Martin: It left the depot",
    ]);
  });

  it("names nobody for the system's messages, and falls back to the summary without messages", () => {
    expect(previewOf(conversation("a", { last_message_preview: "Merged", last_message_sender: "system", last_message_sender_name: null }))).toBe(
      "Merged",
    );
    expect(previewOf(conversation("b", { summary: "Parcel late" }))).toBe("Parcel late");
    expect(previewOf(conversation("c"))).toBe("No messages yet");
  });

  it("shows the unread count, said as unread to screen readers", () => {
    inbox([conversation("a", { unread_for_staff: 3 })]);
    expect(screen.getByTestId("unread-badge").textContent).toBe("3 unread");
  });
});

describe("keyboard in the inbox", () => {
  const three = () => [conversation("a"), conversation("b"), conversation("c")];

  it("makes the rows one Tab stop: the open one, else the first", () => {
    const first = inbox(three());
    expect(first.rows().map((b) => b.tabIndex)).toEqual([0, -1, -1]);
  });

  it("starts at the open conversation", () => {
    const { rows } = inbox(three(), { selected: "b" });
    expect(rows().map((b) => b.tabIndex)).toEqual([-1, 0, -1]);
  });

  it("moves with the arrow keys, Home and End, and opens with Enter (a button)", () => {
    const { rows, onSelect } = inbox(three());
    act(() => rows()[0]?.focus());
    fireEvent.keyDown(document.activeElement as Element, { key: "ArrowDown" });
    expect(document.activeElement).toBe(rows()[1]);
    expect(rows().map((b) => b.tabIndex)).toEqual([-1, 0, -1]);
    fireEvent.keyDown(document.activeElement as Element, { key: "End" });
    expect(document.activeElement).toBe(rows()[2]);
    fireEvent.keyDown(document.activeElement as Element, { key: "ArrowDown" }); // stays at the end
    expect(document.activeElement).toBe(rows()[2]);
    fireEvent.keyDown(document.activeElement as Element, { key: "Home" });
    expect(document.activeElement).toBe(rows()[0]);
    fireEvent.keyDown(document.activeElement as Element, { key: "ArrowUp" }); // stays at the top
    expect(document.activeElement).toBe(rows()[0]);
    fireEvent.click(rows()[0] as HTMLButtonElement);
    expect(onSelect).toHaveBeenCalledWith("a");
  });
});
