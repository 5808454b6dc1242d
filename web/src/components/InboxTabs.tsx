/** The inbox's tabs, Mine / Unassigned / All, each with its count (a floor
 * shown as "1,000+"). A tab list: the arrow keys, Home and End move between
 * the tabs and choose (one Tab stop). */
import { useRef, type KeyboardEvent } from "react";
import { TABS, type InboxTab, type TabCount, type TabCounts } from "../hooks/useInboxCounts";

const NAMES: Record<InboxTab, string> = { mine: "Mine", unassigned: "Unassigned", all: "All" };

export function countText(count: TabCount | undefined): string {
  if (!count) return "";
  return `${count.total.toLocaleString("en")}${count.exact ? "" : "+"}`;
}

interface Props {
  tab: InboxTab;
  counts: TabCounts;
  onTab: (tab: InboxTab) => void;
  /** The id of the panel the tabs control. */
  panel: string;
}

export function InboxTabs({ tab, counts, onTab, panel }: Props) {
  const list = useRef<HTMLDivElement>(null);
  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const i = TABS.indexOf(tab);
    const to: Record<string, number> = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1 };
    const index = to[event.key];
    if (index === undefined) return;
    event.preventDefault();
    const next = TABS[(index + TABS.length) % TABS.length] ?? tab;
    onTab(next);
    list.current?.querySelector<HTMLElement>(`[data-tab="${next}"]`)?.focus();
  };
  return (
    <div ref={list} role="tablist" aria-label="Inbox views" onKeyDown={onKeyDown} className="flex border-b border-slate-200">
      {TABS.map((t) => {
        const count = countText(counts[t]);
        return (
          <button
            key={t}
            type="button"
            role="tab"
            data-tab={t}
            id={`inbox-tab-${t}`}
            aria-selected={t === tab}
            aria-controls={panel}
            tabIndex={t === tab ? 0 : -1}
            onClick={() => onTab(t)}
            className={`flex min-w-0 flex-auto flex-wrap items-center justify-center gap-x-1.5 border-b-2 px-1 py-2 text-sm ${
              t === tab ? "border-blue-700 font-semibold text-blue-800" : "border-transparent text-slate-700 hover:bg-slate-50"
            }`}
          >
            {NAMES[t]}
            {count && (
              <span data-testid={`tab-count-${t}`} className="rounded-full bg-slate-200 px-1.5 text-xs font-medium text-slate-800">
                {count}
              </span>
            )}
          </button>
        );
      })}
    </div>
  );
}
