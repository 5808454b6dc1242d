/** A conversation's header: Back (narrow screens), the client, then its
 * status, priority and status actions — which wrap below the client's name
 * together when the screen is narrow — and, where the conversation panel is
 * not beside the chat, "Details", which opens it. */
import type { ReactNode } from "react";
import { usePanelOpener } from "../hooks/usePanel";
import { PRIORITIES, type Conversation, type Priority, type SettableStatus } from "../types";
import { StatusActions } from "./StatusActions";
import { StatusBadge } from "./StatusBadge";

export type ChatAction = { status: SettableStatus; reason?: string | undefined } | { priority: Priority } | { snoozeUntil: Date };

interface Props {
  conversation: Conversation;
  busy: boolean;
  onAction: (action: ChatAction) => void;
  onBack: () => void;
  /** Under the client's name: who is here (PresenceDots). */
  presence?: ReactNode;
}

/** What the `e` shortcut presses: the status actions' Close (it asks first). */
export const CLOSE_ACTION = "[data-status-actions] button[aria-haspopup=dialog]";

export function ChatHeader({ conversation, busy, onAction, onBack, presence }: Props) {
  const openPanel = usePanelOpener();
  return (
    <header className="flex flex-wrap items-center gap-x-3 gap-y-2 border-b border-slate-200 bg-white px-3 py-3 sm:px-4">
      <button
        type="button"
        onClick={onBack}
        className="rounded border border-slate-300 px-2 py-1 text-sm font-medium text-slate-800 hover:bg-slate-50 md:hidden"
      >
        <span aria-hidden="true">← </span>Back
      </button>
      <div className="min-w-0 flex-1 basis-40">
        <h2 className="truncate text-lg font-semibold" data-testid="chat-client">
          {conversation.client_name}
        </h2>
        <p className="truncate text-xs text-slate-600">
          {conversation.channel} · {conversation.client_id}
          {conversation.summary ? ` · ${conversation.summary}` : ""}
        </p>
        {presence}
      </div>
      <div className="flex flex-wrap items-center gap-x-3 gap-y-2">
        <StatusBadge status={conversation.status} snoozedUntil={conversation.snoozed_until} testId="chat-status" />
        <label className="flex items-center gap-1 text-sm">
          Priority
          <select
            aria-label="Conversation priority"
            value={conversation.priority}
            disabled={conversation.status === "closed" || busy}
            onChange={(e) => onAction({ priority: e.target.value as Priority })}
            className="rounded border border-slate-300 bg-white px-1 py-0.5"
          >
            {PRIORITIES.map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </label>
        <div data-status-actions className="contents">
          <StatusActions
            status={conversation.status}
            clientName={conversation.client_name}
            busy={busy}
            onStatus={(status, reason) => onAction({ status, reason })}
            onSnooze={(until) => onAction({ snoozeUntil: until })}
          />
        </div>
        {openPanel && (
          <button
            type="button"
            aria-haspopup="dialog"
            onClick={openPanel}
            className="rounded border border-slate-300 bg-white px-3 py-1 text-sm font-medium text-slate-800 hover:bg-slate-50"
          >
            Details
          </button>
        )}
      </div>
    </header>
  );
}
