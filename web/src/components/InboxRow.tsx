/** One inbox row: the client, when, who wrote last and what, unread count,
 * priority, status, channel, labels, how long it has waited for an agent and
 * the assignee. A button that opens the conversation; the list gives it its
 * place (a fixed height at `top`, `aria-posinset` of `aria-setsize`) and its
 * place in the roving focus (`tabIndex`). */
import { memo } from "react";
import { shortWhen } from "../lib/format";
import type { Conversation, Label, Priority } from "../types";
import { unreadOf } from "../hooks/useUnreadTitle";
import { StatusBadge } from "./StatusBadge";

/** Every row's height in pixels (the virtual list places rows by it). */
export const ROW_HEIGHT = 80;
const SHOWN_LABELS = 2;

const PRIORITY_LOOK: Record<Priority, string> = {
  High: "text-red-700",
  Medium: "text-amber-800",
  Low: "text-slate-600",
};

/** "Carol Jensen: Where is my parcel?"; the system's messages without a name. */
export function previewOf(row: Conversation): string {
  const text = row.last_message_preview;
  if (text === null) return row.summary ?? "No messages yet";
  const name = row.last_message_sender === "system" ? null : row.last_message_sender_name;
  return name ? `${name}: ${text}` : text;
}

/** How long since `iso`, shortly: "<1m", "42m", "3h", "2d". */
export function waitedFor(iso: string, now: number = Date.now()): string {
  const minutes = Math.floor((now - Date.parse(iso)) / 60_000);
  if (minutes < 1) return "<1m";
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours}h` : `${Math.floor(hours / 24)}d`;
}

/** "Alice Martin" → "AM"; one word, its first two characters: "bob" → "BO", "A2" → "A2". */
export function initialsOf(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const first = words[0] ?? "";
  const last = words[words.length - 1] ?? "";
  return (words.length > 1 ? `${first[0]}${last[0]}` : first.slice(0, 2)).toUpperCase();
}

function Labels({ labels }: { labels: Label[] }) {
  const more = labels.length - SHOWN_LABELS;
  return (
    <span data-testid="row-labels" className="flex min-w-0 items-center gap-1 overflow-hidden">
      {labels.slice(0, SHOWN_LABELS).map((label) => (
        <span key={label.label_id} className="flex min-w-0 items-center gap-0.5 rounded border border-slate-200 px-1 text-slate-700">
          <span aria-hidden="true" className="h-2 w-2 shrink-0 rounded-full" style={{ background: label.colour }} />
          <span className="truncate">{label.name}</span>
        </span>
      ))}
      {more > 0 && <span className="shrink-0 text-slate-700">+{more}</span>}
    </span>
  );
}

interface Props {
  row: Conversation;
  current: boolean;
  tabIndex: number;
  onOpen: (id: string) => void;
  onFocus: (id: string) => void;
  /** Where the list places it (omitted: in the flow). */
  top?: number;
  position?: number;
  setSize?: number;
  /** The time waiting is measured to (ms); the list ticks it. */
  now?: number;
}

export const InboxRow = memo(function InboxRow({ row, current, tabIndex, onOpen, onFocus, top, position, setSize, now }: Props) {
  const count = unreadOf(row); // this agent's own unread
  const unread = count > 0;
  const waiting = row.waiting_since ? waitedFor(row.waiting_since, now) : null;
  const assignee = row.assignee_name ?? row.assignee_id ?? null;
  return (
    <li
      data-testid="inbox-row"
      data-conversation-id={row.conversation_id}
      aria-posinset={position}
      aria-setsize={setSize}
      className={top === undefined ? undefined : "absolute inset-x-0"}
      style={top === undefined ? undefined : { top, height: ROW_HEIGHT }}
    >
      <button
        type="button"
        data-roving-id={row.conversation_id}
        tabIndex={tabIndex}
        aria-current={current ? "true" : undefined}
        onClick={() => onOpen(row.conversation_id)}
        onFocus={() => onFocus(row.conversation_id)}
        style={{ height: ROW_HEIGHT }}
        className={`block w-full overflow-hidden border-b border-slate-100 px-3 py-2 text-left hover:bg-slate-50 focus-visible:outline-2 focus-visible:-outline-offset-2 focus-visible:outline-blue-700 ${
          current ? "bg-blue-50" : unread ? "bg-amber-50" : "bg-white"
        }`}
      >
        <div className="flex items-baseline gap-2">
          <span className={`min-w-0 flex-1 truncate ${unread ? "font-bold" : "font-medium"}`}>{row.client_name}</span>
          <span className="shrink-0 text-xs text-slate-600">{shortWhen(row.last_message_at ?? row.last_update)}</span>
        </div>
        <div className="flex items-center gap-2">
          <span data-testid="preview" className={`min-w-0 flex-1 truncate text-sm ${unread ? "text-slate-900" : "text-slate-600"}`}>
            {previewOf(row)}
          </span>
          {unread && (
            <span data-testid="unread-badge" className="shrink-0 rounded-full bg-blue-700 px-1.5 text-xs font-bold text-white">
              {count}
              <span className="sr-only"> unread</span>
            </span>
          )}
        </div>
        <div className="mt-0.5 flex items-center gap-x-2 whitespace-nowrap text-xs">
          <span className={PRIORITY_LOOK[row.priority]}>{row.priority}</span>
          {row.status === "pending" || row.status === "snoozed" ? (
            <StatusBadge status={row.status} snoozedUntil={row.snoozed_until} />
          ) : (
            <span className="text-slate-700">{row.status}</span>
          )}
          <span className="text-slate-700">{row.channel}</span>
          {row.labels && row.labels.length > 0 && <Labels labels={row.labels} />}
          <span className="ml-auto flex shrink-0 items-center gap-1.5">
            {waiting && (
              <span data-testid="waiting" className="font-medium text-amber-800" title={`Waiting since ${new Date(row.waiting_since ?? "").toLocaleString()}`}>
                <span className="sr-only">waiting </span>
                {waiting}
              </span>
            )}
            {assignee && (
              <span
                data-testid="assignee"
                title={`Assigned to ${assignee}`}
                className="flex h-5 w-5 items-center justify-center rounded-full bg-slate-700 text-[10px] font-bold text-white"
              >
                <span aria-hidden="true">{initialsOf(assignee)}</span>
                <span className="sr-only">assigned to {assignee}</span>
              </span>
            )}
          </span>
        </div>
      </button>
    </li>
  );
});
