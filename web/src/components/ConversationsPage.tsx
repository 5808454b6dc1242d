/** The inbox: filters by status (one of them, or all), priority and client name; unread rows
 * highlighted; live updates; "Load more" pages. The rows are one Tab stop:
 * the arrow keys, Home and End move between them. */
import type { UseInfiniteQueryResult, InfiniteData } from "@tanstack/react-query";
import { useRovingFocus } from "../hooks/useRovingFocus";
import { PRIORITIES, STATUSES, type ConversationFilters, type ConversationPage, type Priority, type Status } from "../types";
import { InboxRow } from "./InboxRow";
import { statusText } from "./StatusBadge";

interface Props {
  filters: ConversationFilters;
  onFilters: (filters: ConversationFilters) => void;
  query: UseInfiniteQueryResult<InfiniteData<ConversationPage>>;
  selected: string | null;
  onSelect: (id: string) => void;
}

function filtered(filters: ConversationFilters): boolean {
  return Boolean(filters.status || filters.priority || filters.q?.trim());
}

export function ConversationsPage({ filters, onFilters, query, selected, onSelect }: Props) {
  const rows = query.data?.pages.flatMap((page) => page.items) ?? [];
  const roving = useRovingFocus(
    rows.map((row) => row.conversation_id),
    selected,
  );

  return (
    <nav aria-label="Inbox" className="flex h-full min-h-0 flex-col">
      <div className="space-y-2 border-b border-slate-200 p-3">
        <label className="block text-xs font-medium text-slate-700">
          Client name
          <input
            type="search"
            value={filters.q ?? ""}
            onChange={(e) => onFilters({ ...filters, q: e.target.value })}
            placeholder="Search clients"
            className="mt-0.5 w-full rounded border border-slate-300 px-2 py-1 text-sm"
          />
        </label>
        <div className="flex gap-2">
          <label className="min-w-0 flex-1 text-xs font-medium text-slate-700">
            Status
            <select
              aria-label="Status filter"
              value={filters.status ?? ""}
              onChange={(e) => onFilters({ ...filters, status: (e.target.value || undefined) as Status | undefined })}
              className="mt-0.5 w-full rounded border border-slate-300 bg-white px-1 py-1 text-sm"
            >
              <option value="">All</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {statusText(s)}
                </option>
              ))}
            </select>
          </label>
          <label className="min-w-0 flex-1 text-xs font-medium text-slate-700">
            Priority
            <select
              aria-label="Priority filter"
              value={filters.priority ?? ""}
              onChange={(e) => onFilters({ ...filters, priority: (e.target.value || undefined) as Priority | undefined })}
              className="mt-0.5 w-full rounded border border-slate-300 bg-white px-1 py-1 text-sm"
            >
              <option value="">All</option>
              {PRIORITIES.map((p) => (
                <option key={p}>{p}</option>
              ))}
            </select>
          </label>
        </div>
      </div>
      <div className="min-h-0 flex-1 overflow-y-auto">
        {query.isPending && <p className="p-4 text-sm text-slate-600">Loading conversations…</p>}
        {query.isError && (
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
        <ul onKeyDown={roving.onKeyDown} aria-label="Conversations" data-testid="inbox">
          {rows.map((row) => (
            <InboxRow
              key={row.conversation_id}
              row={row}
              current={row.conversation_id === selected}
              tabIndex={roving.tabIndexOf(row.conversation_id)}
              onOpen={() => onSelect(row.conversation_id)}
              onFocus={() => roving.onFocusRow(row.conversation_id)}
            />
          ))}
        </ul>
        {query.hasNextPage && (
          <div className="p-3 text-center">
            <button
              type="button"
              onClick={() => void query.fetchNextPage()}
              disabled={query.isFetchingNextPage}
              className="rounded border border-slate-300 bg-white px-3 py-1 text-sm hover:bg-slate-50 disabled:opacity-50"
            >
              {query.isFetchingNextPage ? "Loading…" : "Load more"}
            </button>
          </div>
        )}
      </div>
    </nav>
  );
}
