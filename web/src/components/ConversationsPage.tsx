/** The inbox: tabs Mine / Unassigned / All with counts, filters, and a
 * virtual list — only the rows in view (and a few either side) are in the
 * page, each at a fixed height, however many are loaded; the next page is
 * asked for as the end comes near (infinite scroll). The rows are one Tab
 * stop: the arrow keys, Page Up/Down, Home and End move between them. */
import type { InfiniteData, UseInfiniteQueryResult } from "@tanstack/react-query";
import { useEffect, useId, useMemo, useRef, useState } from "react";
import { tabOf, withTab, type TabCounts } from "../hooks/useInboxCounts";
import { useRovingFocus } from "../hooks/useRovingFocus";
import { useVirtualRows } from "../hooks/useVirtualRows";
import type { Conversation, ConversationFilters, ConversationPage } from "../types";
import { InboxFilters } from "./InboxFilters";
import { InboxRow, ROW_HEIGHT } from "./InboxRow";
import { InboxTabs } from "./InboxTabs";

/** Ask for the next page when the view's end is this many rows from the loaded end. */
export const PREFETCH_ROWS = 40;
const OVERSCAN = 6;
const NO_ROWS: Conversation[] = [];

interface Props {
  filters: ConversationFilters;
  onFilters: (filters: ConversationFilters) => void;
  query: UseInfiniteQueryResult<InfiniteData<ConversationPage>>;
  selected: string | null;
  onSelect: (id: string) => void;
  counts?: TabCounts;
}

function filtered(filters: ConversationFilters): boolean {
  return Boolean(filters.status || filters.priority || filters.channel || filters.team || filters.label || filters.q?.trim() || filters.assignee);
}

/** The time rows measure waiting to, moved on every minute. */
function useMinuteClock(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 60_000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

export function ConversationsPage({ filters, onFilters, query, selected, onSelect, counts = {} }: Props) {
  const pages = query.data?.pages;
  const rows = useMemo(() => pages?.flatMap((page) => page.items) ?? NO_ROWS, [pages]);
  const ids = useMemo(() => rows.map((row) => row.conversation_id), [rows]);
  const tab = tabOf(filters);
  const panel = useId();
  const scroller = useRef<HTMLDivElement>(null);
  const view = useVirtualRows(scroller, { count: rows.length, rowHeight: ROW_HEIGHT, overscan: OVERSCAN });
  const roving = useRovingFocus(ids, selected, { reveal: view.reveal });
  const now = useMinuteClock();

  // Infinite scroll: the next page before the end is reached.
  const { hasNextPage, isFetchingNextPage, isError, fetchNextPage } = query;
  useEffect(() => {
    if (hasNextPage && !isFetchingNextPage && !isError && view.end >= rows.length - PREFETCH_ROWS) {
      void fetchNextPage();
    }
  }, [hasNextPage, isFetchingNextPage, isError, fetchNextPage, view.end, rows.length]);

  // The open conversation in view when it changes, and when the list shows again (a
  // phone's Back: a hidden list kept no scroll position).
  const { shown, reveal } = view;
  const selectedIndex = selected === null ? -1 : ids.indexOf(selected);
  const revealed = useRef<string | null>(null);
  useEffect(() => {
    if (!shown) revealed.current = null;
    else if (selectedIndex >= 0 && revealed.current !== selected) {
      revealed.current = selected;
      reveal(selectedIndex);
    }
  }, [shown, selected, selectedIndex, reveal]);

  // Other filters, another list: back to its top.
  const filterKey = JSON.stringify(filters);
  useEffect(() => {
    if (scroller.current) scroller.current.scrollTop = 0;
  }, [filterKey]);

  // The list's size for screen readers: known once all is loaded, or from the tab's exact count.
  const count = counts[tab];
  const countFits = tab !== "all" || filters.assignee === undefined;
  const setSize = !hasNextPage ? rows.length : count?.exact && countFits ? Math.max(count.total, rows.length) : -1;

  // The rows in view, and the Tab stop's row wherever it is (focus stays on it).
  const indices: number[] = [];
  for (let i = view.start; i < view.end; i++) indices.push(i);
  const stop = roving.active === null ? -1 : ids.indexOf(roving.active);
  if (stop >= 0 && (stop < view.start || stop >= view.end)) indices.push(stop);
  indices.sort((a, b) => a - b);

  return (
    <nav aria-label="Inbox" className="flex h-full min-h-0 flex-col">
      <InboxTabs tab={tab} counts={counts} onTab={(t) => onFilters(withTab(filters, t))} panel={panel} />
      <InboxFilters filters={filters} onFilters={onFilters} tab={tab} />
      <div
        ref={scroller}
        id={panel}
        role="tabpanel"
        aria-labelledby={`inbox-tab-${tab}`}
        data-testid="inbox-scroll"
        className="min-h-0 flex-1 overflow-y-auto"
      >
        {query.isPending && <p className="p-4 text-sm text-slate-600">Loading conversations…</p>}
        {query.isError && !query.isFetchNextPageError && (
          <div role="alert" className="p-4 text-sm text-red-700">
            Cannot load the inbox: {query.error.message}{" "}
            <button type="button" className="underline" onClick={() => void query.refetch()}>
              Try again
            </button>
          </div>
        )}
        {query.isSuccess && rows.length === 0 && (
          <p className="p-4 text-sm text-slate-600">
            {filtered(filters) ? "No conversations match these filters." : "No conversations yet."}
          </p>
        )}
        <ul
          onKeyDown={roving.onKeyDown}
          aria-label="Conversations"
          data-testid="inbox"
          data-rows={rows.length}
          className="relative"
          style={{ height: view.totalHeight }}
        >
          {indices.map((i) => {
            const row = rows[i];
            if (!row) return null;
            return (
              <InboxRow
                key={row.conversation_id}
                row={row}
                current={row.conversation_id === selected}
                tabIndex={i === stop || (stop === -1 && i === view.start) ? 0 : -1}
                onOpen={onSelect}
                onFocus={roving.onFocusRow}
                top={i * ROW_HEIGHT}
                position={i + 1}
                setSize={setSize}
                now={now}
              />
            );
          })}
        </ul>
        {hasNextPage && (
          <p role="status" className="p-3 text-center text-sm text-slate-600">
            {isFetchingNextPage ? "Loading more conversations…" : ""}
            {query.isFetchNextPageError && !isFetchingNextPage && (
              <>
                Cannot load more conversations.{" "}
                <button type="button" className="underline" onClick={() => void fetchNextPage()}>
                  Try again
                </button>
              </>
            )}
          </p>
        )}
      </div>
    </nav>
  );
}
