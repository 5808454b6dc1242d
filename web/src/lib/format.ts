/** Dates and times as staff read them. */
export function timeOf(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function dayKey(iso: string): string {
  const d = new Date(iso);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function dayLabel(iso: string, now: Date = new Date()): string {
  const day = new Date(iso);
  const start = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((start(now) - start(day)) / 86_400_000);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  return day.toLocaleDateString([], { weekday: "long", year: "numeric", month: "long", day: "numeric" });
}

export function shortWhen(iso: string | null, now: Date = new Date()): string {
  if (!iso) return "";
  return dayKey(iso) === dayKey(now.toISOString()) ? timeOf(iso) : new Date(iso).toLocaleDateString();
}

/** A moment soon, in local time: "14:30" today, "Tue 09:00" within the week, else with its date. */
export function soonWhen(iso: string, now: Date = new Date()): string {
  const when = new Date(iso);
  if (dayKey(iso) === dayKey(now.toISOString())) return timeOf(iso);
  const time = { hour: "2-digit", minute: "2-digit" } as const;
  const withinWeek = when.getTime() - now.getTime() < 6 * 86_400_000;
  return when.toLocaleString(
    [],
    withinWeek ? { weekday: "short", ...time } : { weekday: "short", day: "numeric", month: "short", ...time },
  );
}

/** Only http(s) URLs become links or images: never javascript: or data:. */
export function safeUrl(url: string | undefined | null): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}
