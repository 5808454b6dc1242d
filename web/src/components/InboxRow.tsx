/** One inbox row: the client, when, who wrote last and what, unread count,
 * priority, status and channel. A button that opens the conversation; the
 * list gives it its place in the roving focus (`tabIndex`). */
import { shortWhen } from "../lib/format";
import type { Conversation, Priority } from "../types";
import { StatusBadge } from "./StatusBadge";

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

interface Props {
  row: Conversation;
  current: boolean;
  tabIndex: number;
  onOpen: () => void;
  onFocus: () => void;
}

export function InboxRow({ row, current, tabIndex, onOpen, onFocus }: Props) {
  const unread = row.unread_for_staff > 0;
  return (
    <li data-testid="inbox-row" data-conversation-id={row.conversation_id}>
      <button
        type="button"
        data-roving-id={row.conversation_id}
        tabIndex={tabIndex}
        aria-current={current ? "true" : undefined}
        onClick={onOpen}
        onFocus={onFocus}
        className={`block w-full border-b border-slate-100 px-3 py-2 text-left hover:bg-slate-50 ${
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
              {row.unread_for_staff}
              <span className="sr-only"> unread</span>
            </span>
          )}
        </div>
        <div className="mt-0.5 flex flex-wrap items-center gap-x-2 text-xs">
          <span className={PRIORITY_LOOK[row.priority]}>{row.priority}</span>
          {row.status === "pending" || row.status === "snoozed" ? (
            <StatusBadge status={row.status} snoozedUntil={row.snoozed_until} />
          ) : (
            <span className="text-slate-700">{row.status}</span>
          )}
          <span className="text-slate-700">{row.channel}</span>
        </div>
      </button>
    </li>
  );
}
