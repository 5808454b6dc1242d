import type { InfiniteData, UseInfiniteQueryResult } from "@tanstack/react-query";
import { act, fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { ConversationsPage, PREFETCH_ROWS } from "../src/components/ConversationsPage";
import { initialsOf, ROW_HEIGHT, waitedFor } from "../src/components/InboxRow";
import { FALLBACK_HEIGHT, windowOf } from "../src/hooks/useVirtualRows";
import type { TabCounts } from "../src/hooks/useInboxCounts";
import type { Conversation, ConversationFilters, ConversationPage } from "../src/types";
import { conversationRow } from "./fakes";

const many = (n: number) => Array.from({ length: n }, (_, i) => conversationRow(`r${String(i).padStart(5, "0")}`));

function inbox(
  items: Conversation[],
  {
    hasNextPage = false,
    isFetchingNextPage = false,
    counts = {},
    filters = {},
    selected = null,
  }: { hasNextPage?: boolean; isFetchingNextPage?: boolean; counts?: TabCounts; filters?: ConversationFilters; selected?: string | null } = {},
) {
  const fetchNextPage = vi.fn(async () => undefined);
  const onFilters = vi.fn();
  const query = {
    data: { pages: [{ items, next_cursor: hasNextPage ? "more" : null }], pageParams: [null] },
    isPending: false,
    isError: false,
    isSuccess: true,
    hasNextPage,
    isFetchingNextPage,
    isFetchNextPageError: false,
    fetchNextPage,
  } as unknown as UseInfiniteQueryResult<InfiniteData<ConversationPage>>;
  render(<ConversationsPage filters={filters} onFilters={onFilters} query={query} selected={selected} onSelect={vi.fn()} counts={counts} />);
  const scroller = screen.getByTestId("inbox-scroll");
  // jsdom lays nothing out: the test says how tall the view is and where it is scrolled.
  Object.defineProperty(scroller, "clientHeight", { configurable: true, value: 400 });
  const scrollTo = (top: number) =>
    act(() => {
      Object.defineProperty(scroller, "scrollTop", { configurable: true, writable: true, value: top });
      fireEvent.scroll(scroller);
    });
  const rows = () => screen.getAllByTestId("inbox-row");
  return { fetchNextPage, onFilters, scrollTo, rows, scroller };
}

describe("the virtual window", () => {
  it("covers the rows in view and the overscan, within the list", () => {
    expect(windowOf(0, 400, 1000, 80, 5)).toEqual({ start: 0, end: 11 });
    expect(windowOf(8000, 400, 1000, 80, 5)).toEqual({ start: 95, end: 111 });
    expect(windowOf(80_000, 400, 1000, 80, 5)).toEqual({ start: 995, end: 1000 });
    expect(windowOf(0, 0, 3, 80, 5)).toEqual({ start: 0, end: 3 });
    expect(windowOf(0, 0, 1000, 80, 0).end).toBe(Math.ceil(FALLBACK_HEIGHT / 80) + 1);
  });
});

describe("the inbox as a virtual list", () => {
  it("renders only the rows near the view, each placed at its index, however many are loaded", () => {
    const { rows, scrollTo } = inbox(many(5000));
    expect(rows().length).toBeLessThan(40);
    expect(screen.getByTestId("inbox").style.height).toBe(`${5000 * ROW_HEIGHT}px`);
    scrollTo(2500 * ROW_HEIGHT);
    const shown = rows();
    expect(shown.length).toBeLessThan(40);
    expect(shown.some((r) => r.dataset.conversationId === "r02500")).toBe(true);
    // Far rows are gone; the first stays, as the list's Tab stop.
    expect(shown.some((r) => r.dataset.conversationId === "r00001")).toBe(false);
    expect(shown.map((r) => r.dataset.conversationId)[0]).toBe("r00000");
    const row = shown.find((r) => r.dataset.conversationId === "r02500");
    expect(row?.style.top).toBe(`${2500 * ROW_HEIGHT}px`);
  });

  it("tells screen readers each row's place and the list's size", () => {
    const { rows } = inbox(many(30));
    expect(rows()[0]?.getAttribute("aria-posinset")).toBe("1");
    expect(rows()[0]?.getAttribute("aria-setsize")).toBe("30");
  });

  it("takes the size from the tab's exact count while pages remain, else says it is unknown", () => {
    const counted = inbox(many(100), { hasNextPage: true, counts: { all: { total: 10_000, exact: true } } });
    expect(counted.rows()[0]?.getAttribute("aria-setsize")).toBe("10000");
    act(() => document.body.replaceChildren());
    const floor = inbox(many(100), { hasNextPage: true, counts: { all: { total: 1000, exact: false } } });
    expect(floor.rows()[0]?.getAttribute("aria-setsize")).toBe("-1");
  });

  it("asks for the next page as the end comes near, not before", () => {
    const { fetchNextPage, scrollTo } = inbox(many(200), { hasNextPage: true });
    expect(fetchNextPage).not.toHaveBeenCalled();
    scrollTo((200 - PREFETCH_ROWS) * ROW_HEIGHT);
    expect(fetchNextPage).toHaveBeenCalledTimes(1);
  });

  it("asks for nothing more at the end of the last page, or while a page is on its way", () => {
    const last = inbox(many(50));
    last.scrollTo(50 * ROW_HEIGHT);
    expect(last.fetchNextPage).not.toHaveBeenCalled();
    act(() => document.body.replaceChildren());
    const loading = inbox(many(50), { hasNextPage: true, isFetchingNextPage: true });
    expect(loading.fetchNextPage).not.toHaveBeenCalled();
    expect(screen.getByRole("status").textContent).toBe("Loading more conversations…");
  });

  it("moves the focus with End and Home to rows that were not rendered, keeping one Tab stop", () => {
    const { rows } = inbox(many(3000));
    const first = rows()[0]?.querySelector("button") as HTMLButtonElement;
    act(() => first.focus());
    fireEvent.keyDown(first, { key: "End" });
    expect(document.activeElement?.closest("li")?.dataset.conversationId).toBe("r02999");
    expect(rows().filter((r) => r.querySelector("button")?.tabIndex === 0)).toHaveLength(1);
    fireEvent.keyDown(document.activeElement as Element, { key: "PageUp" });
    expect(document.activeElement?.closest("li")?.dataset.conversationId).toBe("r02989");
    fireEvent.keyDown(document.activeElement as Element, { key: "Home" });
    expect(document.activeElement?.closest("li")?.dataset.conversationId).toBe("r00000");
  });

  it("scrolls the open conversation into view once the list is laid out (a phone's Back)", () => {
    const { scrollTo, scroller, rows } = inbox(many(3000), { selected: "r02000" });
    scrollTo(0); // the list is measured: 400 px tall
    expect(scroller.scrollTop).toBe(2001 * ROW_HEIGHT - 400);
    scrollTo(scroller.scrollTop);
    expect(rows().some((r) => r.dataset.conversationId === "r02000")).toBe(true);
  });

  it("keeps the focused row in the page when the view scrolls away from it", () => {
    const { rows, scrollTo } = inbox(many(3000));
    const first = rows()[0]?.querySelector("button") as HTMLButtonElement;
    act(() => first.focus());
    scrollTo(2000 * ROW_HEIGHT);
    expect(document.activeElement).toBe(first);
    expect(first.tabIndex).toBe(0);
  });
});

describe("an inbox row's assignee, labels and waiting time", () => {
  it("shows them, in words for screen readers", () => {
    const row = conversationRow("a", {
      assignee_id: "bob",
      assignee_name: "Bob Stone",
      waiting_since: new Date(Date.now() - 3 * 3_600_000).toISOString(),
      labels: [
        { label_id: "vip", name: "VIP", colour: "#c00" },
        { label_id: "billing", name: "Billing", colour: "#06c" },
        { label_id: "late", name: "Late", colour: "#999" },
      ],
    });
    inbox([row]);
    expect(screen.getByTestId("assignee").textContent).toBe("BSassigned to Bob Stone");
    expect(screen.getByTestId("waiting").textContent).toBe("waiting 3h");
    expect(screen.getByTestId("row-labels").textContent).toBe("VIPBilling+1");
  });

  it("says waiting times shortly, and initials from names", () => {
    const now = Date.parse("2026-11-24T12:00:00Z");
    expect(waitedFor("2026-11-24T11:59:30Z", now)).toBe("<1m");
    expect(waitedFor("2026-11-24T11:18:00Z", now)).toBe("42m");
    expect(waitedFor("2026-11-23T12:00:00Z", now)).toBe("24h");
    expect(waitedFor("2026-11-20T12:00:00Z", now)).toBe("4d");
    expect(initialsOf("Alice van Martin")).toBe("AM");
    expect(initialsOf("A2")).toBe("A2");
    expect(initialsOf("bob")).toBe("BO");
  });
});
