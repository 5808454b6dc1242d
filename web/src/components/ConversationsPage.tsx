/** The inbox: filters by status (one of them, or all), priority and client name; unread rows
 * highlighted; live updates; "Load more" pages. */
import type { UseInfiniteQueryResult, InfiniteData } from "@tanstack/react-query";
import { useRef, type KeyboardEvent } from "react";
import { shortWhen } from "../lib/format";
import { PRIORITIES, STATUSES, type ConversationFilters, type ConversationPage, type Priority, type Status } from "../types";
import { StatusBadge, statusText } from "./StatusBadge";

interface Props {
  filters: ConversationFilters;
  onFilters: (filters: ConversationFilters) => void;
  query: UseInfiniteQueryResult<InfiniteData<ConversationPage>>;
  selected: string | null;
  onSelect: (id: string) => void;
}

const PRIORITY_LOOK: Record<Priority, string> = {
  High: "text-red-700",
  Medium: "text-amber-700",
  Low: "text-slate-500",
};

export function ConversationsPage({ filters, onFilters, query, selected, onSelect }: Props) {
  const list = useRef<HTMLUListElement>(null);
  const rows = query.data?.pages.flatMap((page) => page.items) ?? [];

  // Arrow keys move between rows; Enter/Space open (the rows are buttons).
  const onKeyDown = (event: KeyboardEvent<HTMLUListElement>) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const buttons = [...(list.current?.querySelectorAll<HTMLButtonElement>("button[data-row]") ?? [])];
    const index = buttons.indexOf(document.activeElement as HTMLButtonElement);
    const next = buttons[Math.max(0, Math.min(buttons.length - 1, index + (event.key === "ArrowDown" ? 1 : -1)))];
    next?.focus();
    event.preventDefault();
  };

  return (
    <nav aria-label="Inbox" className="flex h-full min-h-0 flex-col">
      <div className="space-y-2 border-b border-slate-200 p-3">
        <label className="block text-xs font-medium text-slate-600">
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
          <label className="flex-1 text-xs font-medium text-slate-600">
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
          <label className="flex-1 text-xs font-medium text-slate-600">
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
        {query.isPending && <p className="p-4 text-sm text-slate-500">Loading conversations…</p>}
        {query.isError && (
          <div role="alert" className="p-4 text-sm text-red-700">
            Cannot load the inbox: {query.error.message}{" "}
            <button type="button" className="underline" onClick={() => void query.refetch()}>
              Try again
            </button>
          </div>
        )}
        {query.isSuccess && rows.length === 0 && (
          <p className="p-4 text-sm text-slate-500">No conversations match these filters.</p>
        )}
        <ul ref={list} onKeyDown={onKeyDown} aria-label="Conversations" data-testid="inbox">
          {rows.map((row) => {
            const unread = row.unread_for_staff > 0;
            const current = row.conversation_id === selected;
            return (
              <li key={row.conversation_id} data-testid="inbox-row" data-conversation-id={row.conversation_id}>
                <button
                  type="button"
                  data-row
                  aria-current={current ? "true" : undefined}
                  onClick={() => onSelect(row.conversation_id)}
                  className={`block w-full border-b border-slate-100 px-3 py-2 text-left hover:bg-slate-50 ${
                    current ? "bg-blue-50" : unread ? "bg-amber-50" : "bg-white"
                  }`}
                >
                  <div className="flex items-baseline gap-2">
                    <span className={`flex-1 truncate ${unread ? "font-bold" : "font-medium"}`}>{row.client_name}</span>
                    <span className="text-xs text-slate-500">{shortWhen(row.last_message_at ?? row.last_update)}</span>
                  </div>
                  <div className="flex items-center gap-2">
                    <span className={`flex-1 truncate text-sm ${unread ? "text-slate-900" : "text-slate-500"}`}>
                      {row.last_message_preview ?? row.summary ?? "No messages yet"}
                    </span>
                    {unread && (
                      <span
                        data-testid="unread-badge"
                        aria-label={`${row.unread_for_staff} unread`}
                        className="rounded-full bg-blue-600 px-1.5 text-xs font-bold text-white"
                      >
                        {row.unread_for_staff}
                      </span>
                    )}
                  </div>
                  <div className="mt-0.5 flex items-center gap-2 text-xs">
                    <span className={PRIORITY_LOOK[row.priority]}>{row.priority}</span>
                    {row.status === "pending" || row.status === "snoozed" ? (
                      <StatusBadge status={row.status} snoozedUntil={row.snoozed_until} />
                    ) : (
                      <span className="text-slate-600">{row.status}</span>
                    )}
                    <span className="text-slate-500">{row.channel}</span>
                  </div>
                </button>
              </li>
            );
          })}
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
