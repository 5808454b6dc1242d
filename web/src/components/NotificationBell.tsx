/** The top bar's bell: how many mentions are unread, and under it the
 * newest, each opening its conversation (and read then); "Mark all read";
 * and, asked for only when pressed, desktop notifications. */
import { useEffect, useId, useRef, useState } from "react";
import type { DesktopNotifications } from "../hooks/useDesktopNotifications";
import { useNotifications } from "../hooks/useNotifications";
import { shortWhen } from "../lib/format";

interface Props {
  notifications: ReturnType<typeof useNotifications>;
  desktop: DesktopNotifications;
  onOpen: (conversationId: string) => void;
}

function DesktopChoice({ desktop }: { desktop: DesktopNotifications }) {
  if (desktop.permission === "unsupported") return null;
  if (desktop.permission === "granted") {
    return <p className="px-3 py-2 text-xs text-slate-600">Desktop notifications are on (while this tab is hidden).</p>;
  }
  if (desktop.permission === "denied") {
    return <p className="px-3 py-2 text-xs text-slate-600">Desktop notifications are blocked in this browser's settings.</p>;
  }
  return (
    <div className="px-3 py-2">
      <button
        type="button"
        onClick={() => void desktop.enable()}
        className="rounded border border-slate-300 px-2 py-1 text-xs font-medium text-slate-800 hover:bg-slate-50"
      >
        Enable desktop notifications
      </button>
    </div>
  );
}

export function NotificationBell({ notifications, desktop, onOpen }: Props) {
  const [open, setOpen] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const toggle = useRef<HTMLButtonElement>(null);
  const panel = useId();
  const { query, readAll, readOne } = notifications;
  const unread = query.data?.unread_count ?? 0;
  const items = query.data?.items ?? [];

  useEffect(() => {
    if (!open) return undefined;
    const away = (event: PointerEvent) => {
      if (!box.current?.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener("pointerdown", away);
    return () => document.removeEventListener("pointerdown", away);
  }, [open]);

  return (
    <div
      ref={box}
      className="relative"
      onKeyDown={(event) => {
        if (event.key === "Escape" && open) {
          setOpen(false);
          toggle.current?.focus();
        }
      }}
    >
      <button
        ref={toggle}
        type="button"
        aria-expanded={open}
        aria-controls={panel}
        aria-label={unread > 0 ? `Notifications, ${unread} unread` : "Notifications"}
        data-testid="notification-bell"
        data-unread={unread}
        onClick={() => setOpen((o) => !o)}
        className="relative rounded border border-slate-600 px-2 py-1 text-sm hover:bg-slate-800"
      >
        <svg aria-hidden="true" viewBox="0 0 20 20" className="inline h-4 w-4 align-[-3px]" fill="currentColor">
          <path d="M10 2a5 5 0 0 0-5 5v2.6L3.6 12.4A1 1 0 0 0 4.5 14h11a1 1 0 0 0 .9-1.6L15 9.6V7a5 5 0 0 0-5-5Zm0 16a2.5 2.5 0 0 0 2.4-2h-4.8a2.5 2.5 0 0 0 2.4 2Z" />
        </svg>
        {unread > 0 && (
          <span aria-hidden="true" className="ml-1 rounded-full bg-red-600 px-1.5 text-xs font-semibold text-white">
            {unread > 99 ? "99+" : unread}
          </span>
        )}
      </button>
      <div
        id={panel}
        role="region"
        aria-label="Mentions"
        hidden={!open}
        data-testid="notifications"
        className="absolute right-0 top-full z-30 mt-1 w-80 rounded-lg border border-slate-200 bg-white text-slate-900 shadow-lg max-sm:fixed max-sm:inset-x-2 max-sm:top-12 max-sm:w-auto"
      >
        <div className="flex items-center justify-between border-b border-slate-200 px-3 py-2">
          <h2 className="text-sm font-semibold">Mentions</h2>
          <button
            type="button"
            disabled={unread === 0 || readAll.isPending}
            onClick={() => readAll.mutate()}
            className="text-xs text-blue-800 underline disabled:text-slate-500 disabled:no-underline"
          >
            Mark all read
          </button>
        </div>
        {query.isError ? (
          <p role="alert" className="px-3 py-2 text-sm text-red-700">
            Cannot load them: {query.error.message}
          </p>
        ) : items.length === 0 ? (
          <p className="px-3 py-2 text-sm text-slate-600">{query.isPending ? "Loading…" : "Nobody has mentioned you yet."}</p>
        ) : (
          <ul className="max-h-80 overflow-y-auto">
            {items.map((n) => (
              <li key={n.note_id}>
                <button
                  type="button"
                  data-testid="notification"
                  data-read={n.read}
                  onClick={() => {
                    setOpen(false);
                    if (!n.read) readOne.mutate(n.note_id);
                    onOpen(n.conversation_id);
                  }}
                  className="block w-full px-3 py-2 text-left text-sm hover:bg-slate-50"
                >
                  <span className={`flex items-baseline justify-between gap-2 ${n.read ? "" : "font-semibold"}`}>
                    <span className="truncate">
                      {n.read ? "" : <span className="sr-only">Unread: </span>}
                      {n.author_name ?? n.author_id} mentioned you
                    </span>
                    <span className="shrink-0 text-xs font-normal text-slate-600">{shortWhen(n.created_at)}</span>
                  </span>
                  <span className="mt-0.5 block truncate text-slate-700">{n.excerpt}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
        <div className="border-t border-slate-200">
          <DesktopChoice desktop={desktop} />
        </div>
      </div>
    </div>
  );
}
