import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, renderHook, screen, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { describe, expect, it, vi } from "vitest";
import { InboxFilters, moreSet } from "../src/components/InboxFilters";
import { countText, InboxTabs } from "../src/components/InboxTabs";
import { SessionProvider, type Session } from "../src/hooks/useApi";
import { tabOf, useInboxCounts, withTab } from "../src/hooks/useInboxCounts";
import { ApiClient } from "../src/services/api";

/** A session whose API answers from `answer(path, query)`; the URLs asked are kept. */
function providers(answer: (path: string, query: URLSearchParams) => unknown) {
  const asked: URL[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL) => {
    const url = new URL(String(input), "http://test");
    asked.push(url);
    return new Response(JSON.stringify(answer(url.pathname, url.searchParams)), { status: 200 });
  });
  const session: Session = {
    api: new ApiClient({ getToken: () => "tok", fetch: fetch as unknown as typeof globalThis.fetch }),
    token: "tok",
    identity: { sub: "bob", role: "agent", exp: 2e9 },
    wsUrl: () => "ws://test",
  };
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={client}>
      <SessionProvider value={session}>{children}</SessionProvider>
    </QueryClientProvider>
  );
  return { asked, wrapper };
}

describe("the inbox tabs", () => {
  it("map to the API's assignee, keeping the other filters", () => {
    expect(tabOf({})).toBe("all");
    expect(tabOf({ assignee: "me" })).toBe("mine");
    expect(tabOf({ assignee: "unassigned" })).toBe("unassigned");
    expect(tabOf({ assignee: "carl" })).toBe("all");
    expect(withTab({ status: "pending", assignee: "carl" }, "mine")).toEqual({ status: "pending", assignee: "me" });
    expect(withTab({ assignee: "me" }, "all")).toEqual({ assignee: undefined });
  });

  it("show their counts, a floor with a plus, and choose with a click or the arrow keys", () => {
    const onTab = vi.fn();
    render(<InboxTabs tab="all" counts={{ mine: { total: 12, exact: true }, all: { total: 1000, exact: false } }} onTab={onTab} panel="p" />);
    const tabs = screen.getAllByRole("tab");
    expect(tabs.map((t) => t.textContent)).toEqual(["Mine12", "Unassigned", "All1,000+"]);
    expect(tabs.map((t) => t.getAttribute("aria-selected"))).toEqual(["false", "false", "true"]);
    expect(tabs.map((t) => t.tabIndex)).toEqual([-1, -1, 0]);
    fireEvent.click(tabs[0] as HTMLElement);
    expect(onTab).toHaveBeenLastCalledWith("mine");
    fireEvent.keyDown(tabs[2] as HTMLElement, { key: "ArrowRight" });
    expect(onTab).toHaveBeenLastCalledWith("mine"); // wraps around
    fireEvent.keyDown(tabs[2] as HTMLElement, { key: "ArrowLeft" });
    expect(onTab).toHaveBeenLastCalledWith("unassigned");
    expect(countText({ total: 10_000, exact: true })).toBe("10,000");
  });

  it("are counted with include_total under the other filters, the order left out", async () => {
    const totals: Record<string, number> = { me: 3, unassigned: 40 };
    const { asked, wrapper } = providers((_, query) => ({
      items: [],
      next_cursor: null,
      total: totals[query.get("assignee") ?? ""] ?? 100,
      total_exact: true,
    }));
    const { result } = renderHook(() => useInboxCounts({ status: "active", sort: "priority" }), { wrapper });
    await waitFor(() => expect(result.current).toEqual({ mine: { total: 3, exact: true }, unassigned: { total: 40, exact: true }, all: { total: 100, exact: true } }));
    for (const url of asked) {
      expect(url.searchParams.get("include_total")).toBe("true");
      expect(url.searchParams.get("limit")).toBe("1");
      expect(url.searchParams.get("status")).toBe("active");
      expect(url.searchParams.has("sort")).toBe(false);
    }
  });
});

describe("the inbox filters", () => {
  it("count the filters behind More", () => {
    expect(moreSet({}, "all")).toBe(0);
    expect(moreSet({ assignee: "me" }, "mine")).toBe(0);
    expect(moreSet({ assignee: "carl", team: "t1", label: "vip", sort: "waiting" }, "all")).toBe(4);
    expect(moreSet({ sort: "last_message" }, "all")).toBe(0);
  });

  it("offer assignee, team, label and order from the directory and catalogues", async () => {
    const { wrapper } = providers((path) => {
      if (path === "/api/agents") return { items: [{ agent_id: "carl", display_name: "Carl Berg", availability: "online", online: true }] };
      if (path === "/api/teams") return { items: [{ team_id: "t1", name: "Billing" }] };
      return { items: [{ label_id: "vip", name: "VIP", colour: "#c00" }] };
    });
    const onFilters = vi.fn();
    render(<InboxFilters filters={{ q: "car" }} onFilters={onFilters} tab="all" />, { wrapper });
    expect(screen.queryByRole("combobox", { name: "Team filter" })).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "More filters" }));
    await screen.findByRole("option", { name: "Carl Berg" });
    await screen.findByRole("option", { name: "Billing" });
    await screen.findByRole("option", { name: "VIP" });
    fireEvent.change(screen.getByRole("combobox", { name: "Assignee filter" }), { target: { value: "carl" } });
    expect(onFilters).toHaveBeenLastCalledWith({ q: "car", assignee: "carl" });
    fireEvent.change(screen.getByRole("combobox", { name: "Label filter" }), { target: { value: "vip" } });
    expect(onFilters).toHaveBeenLastCalledWith({ q: "car", label: "vip" });
    fireEvent.change(screen.getByRole("combobox", { name: "Sort order" }), { target: { value: "waiting" } });
    expect(onFilters).toHaveBeenLastCalledWith({ q: "car", sort: "waiting" });
    fireEvent.change(screen.getByRole("combobox", { name: "Sort order" }), { target: { value: "last_message" } });
    expect(onFilters).toHaveBeenLastCalledWith({ q: "car", sort: undefined });
  });

  it("offer no assignee under Mine or Unassigned", () => {
    const { wrapper } = providers(() => ({ items: [] }));
    render(<InboxFilters filters={{ assignee: "me" }} onFilters={vi.fn()} tab="mine" />, { wrapper });
    fireEvent.click(screen.getByRole("button", { name: "More filters" }));
    expect(screen.queryByRole("combobox", { name: "Assignee filter" })).toBeNull();
    expect(screen.getByRole("combobox", { name: "Team filter" })).toBeTruthy();
  });
});
