/** A status change in the timeline: who did what, when, and the reason given. */
import { describeEntry } from "../lib/timeline";
import { timeOf } from "../lib/format";
import type { SystemEntry } from "../types";

export function StatusEntry({ entry }: { entry: SystemEntry }) {
  const { text, reason } = describeEntry(entry);
  return (
    <li className="my-2 flex justify-center" data-testid="status-entry" data-event={entry.event_type}>
      <p className="max-w-[90%] rounded-full bg-slate-200 px-3 py-1 text-center text-xs text-slate-800 [overflow-wrap:anywhere]">
        {text}
        {reason && (
          <>
            {" "}
            · Reason: <span className="italic">{reason}</span>
          </>
        )}{" "}
        · <time dateTime={entry.created_at}>{timeOf(entry.created_at)}</time>
      </p>
    </li>
  );
}
