/** The inbox tabs' counts: Mine, Unassigned and All under the other filters,
 * each a one-row page with `include_total` (answered from the maintained
 * counters, read_api/inbox_totals.py; with a name or label filter, counted up
 * to 1,000 and then "at least"). Live rows ask again (useRowWriter). */
import { useQueries } from "@tanstack/react-query";
import type { ConversationFilters } from "../types";
import { useApi } from "./useApi";

export type InboxTab = "mine" | "unassigned" | "all";
export const TABS: readonly InboxTab[] = ["mine", "unassigned", "all"];

export interface TabCount {
  total: number;
  exact: boolean;
}
export type TabCounts = Partial<Record<InboxTab, TabCount>>;

export const COUNTS_KEY = ["inbox-counts"] as const;

/** The tab a filter's `assignee` shows: `me`, `unassigned`, or anything else under All. */
export function tabOf(filters: ConversationFilters): InboxTab {
  if (filters.assignee === "me") return "mine";
  if (filters.assignee === "unassigned") return "unassigned";
  return "all";
}

/** The filters of `tab`, the others kept (an agent chosen under All is dropped by the other tabs). */
export function withTab(filters: ConversationFilters, tab: InboxTab): ConversationFilters {
  const assignee = tab === "mine" ? "me" : tab === "unassigned" ? "unassigned" : undefined;
  return { ...filters, assignee };
}

export function useInboxCounts(filters: ConversationFilters): TabCounts {
  const api = useApi();
  // Neither the order nor the page changes a count.
  const { sort: _sort, ...counted } = filters;
  const results = useQueries({
    queries: TABS.map((tab) => {
      const tabFilters = withTab(counted, tab);
      return {
        queryKey: [...COUNTS_KEY, tabFilters] as const,
        queryFn: () => api.listConversations(tabFilters, { limit: 1, includeTotal: true }),
        staleTime: 30_000,
        select: (page: { total?: number | null; total_exact?: boolean | null }): TabCount | null =>
          typeof page.total === "number" ? { total: page.total, exact: page.total_exact !== false } : null,
      };
    }),
  });
  const counts: TabCounts = {};
  TABS.forEach((tab, i) => {
    const count = results[i]?.data;
    if (count) counts[tab] = count;
  });
  return counts;
}
