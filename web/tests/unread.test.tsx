import { renderHook, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, type ReactNode } from "react";
import { afterEach, describe, expect, it } from "vitest";
import { titleFor, unreadOf, unreadTotal, useUnreadTitle } from "../src/hooks/useUnreadTitle";
import { conversationRow } from "./fakes";

function cache() {
  const client = new QueryClient();
  const wrapper = ({ children }: { children: ReactNode }) => <QueryClientProvider client={client}>{children}</QueryClientProvider>;
  return { client, wrapper };
}
const page = (...items: ReturnType<typeof conversationRow>[]) => ({ pages: [{ items, next_cursor: null }], pageParams: [null] });

describe("per-agent unread", () => {
  afterEach(() => {
    document.title = "Parley";
  });

  it("is the viewer's own count when the row has it, else the conversation's", () => {
    expect(unreadOf(conversationRow("a", { unread_for_staff: 4, my_unread: 1 }))).toBe(1);
    expect(unreadOf(conversationRow("a", { unread_for_staff: 4, my_unread: 0 }))).toBe(0);
    expect(unreadOf(conversationRow("a", { unread_for_staff: 4 }))).toBe(4);
    expect([0, 1, 12].map((n) => titleFor(n))).toEqual(["Parley", "(1) Parley", "(12) Parley"]);
  });

  it("adds up every known conversation once, the newest copy of each", () => {
    const { client } = cache();
    client.setQueryData(["conversations", {}], page(conversationRow("a", { my_unread: 2, position: 5 }), conversationRow("b", { my_unread: 1 })));
    // The same conversation in a filtered list and as the open one: counted once, newest row wins.
    client.setQueryData(["conversations", { status: "active" }], page(conversationRow("a", { my_unread: 2, position: 5 })));
    client.setQueryData(["conversation", "a"], conversationRow("a", { my_unread: 0, position: 9 }));
    client.setQueryData(["conversation", "d"], conversationRow("d", { my_unread: 7, deleted: true }));
    client.setQueryData(["messages", "a"], { pages: [{ items: [{ conversation_id: "x", position: 1, my_unread: 50 }] }] });
    expect(unreadTotal(client)).toBe(1);
  });

  it("puts the total in the tab title, live", async () => {
    const { client, wrapper } = cache();
    client.setQueryData(["conversations", {}], page(conversationRow("a", { my_unread: 3 })));
    const hook = renderHook(() => useUnreadTitle(), { wrapper });
    expect(document.title).toBe("(3) Parley");
    act(() => client.setQueryData(["conversations", {}], page(conversationRow("a", { my_unread: 0, position: 2 }), conversationRow("b", { my_unread: 1 }))));
    await waitFor(() => expect(document.title).toBe("(1) Parley"));
    hook.unmount();
    expect(document.title).toBe("Parley");
  });
});
