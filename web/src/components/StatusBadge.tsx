/** A conversation's status as a badge; a snoozed one says until when. Each
 * status has its own colour, every pair ≥ 6.5:1 (WCAG AA), and its name in
 * words, so colour is never the only cue. */
import { soonWhen } from "../lib/format";
import type { Status } from "../types";

const LOOK: Record<Status, string> = {
  active: "bg-emerald-100 text-emerald-800",
  pending: "bg-sky-100 text-sky-800",
  snoozed: "bg-violet-100 text-violet-800",
  closed: "bg-slate-200 text-slate-700",
};

export function statusText(status: Status, snoozedUntil?: string | null): string {
  if (status === "snoozed") return snoozedUntil ? `Snoozed until ${soonWhen(snoozedUntil)}` : "Snoozed";
  return status[0]?.toUpperCase() + status.slice(1);
}

interface Props {
  status: Status;
  snoozedUntil?: string | null | undefined;
  testId?: string;
}

export function StatusBadge({ status, snoozedUntil, testId = "status-badge" }: Props) {
  return (
    <span
      data-testid={testId}
      data-status={status}
      title={status === "snoozed" && snoozedUntil ? new Date(snoozedUntil).toLocaleString() : undefined}
      className={`whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium ${LOOK[status]}`}
    >
      {statusText(status, snoozedUntil)}
    </span>
  );
}
