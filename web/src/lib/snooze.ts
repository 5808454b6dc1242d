/** Snooze presets, computed from the staff member's clock in their own time
 * zone, and sent as RFC 3339 with that zone's offset (docs/COMMANDS.md,
 * "Snooze and wake-ups"). */

export interface SnoozePreset {
  label: string;
  until: (now: Date) => Date;
}

const HOUR = 3_600_000;

function at9(now: Date, daysAhead: number): Date {
  // Built from calendar fields, so a DST change in between still gives 09:00 local.
  return new Date(now.getFullYear(), now.getMonth(), now.getDate() + daysAhead, 9, 0, 0);
}

export const SNOOZE_PRESETS: readonly SnoozePreset[] = [
  { label: "For 1 hour", until: (now) => new Date(now.getTime() + HOUR) },
  { label: "Until tomorrow 09:00", until: (now) => at9(now, 1) },
  // Next Monday: a Monday's next Monday is a week on.
  { label: "Until next Monday 09:00", until: (now) => at9(now, (8 - now.getDay()) % 7 || 7) },
];

const pad = (n: number) => String(Math.abs(n)).padStart(2, "0");

/** `2026-11-25T09:00:00+01:00`: the local wall time with its offset (whole seconds). */
export function rfc3339Local(date: Date): string {
  const offset = -date.getTimezoneOffset(); // minutes east of UTC
  const sign = offset < 0 ? "-" : "+";
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`
  );
}
