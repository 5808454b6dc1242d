import { describe, expect, it } from "vitest";
import { soonWhen } from "../src/lib/format";
import { rfc3339Local, SNOOZE_PRESETS } from "../src/lib/snooze";

const preset = (label: string) => {
  const found = SNOOZE_PRESETS.find((p) => p.label === label);
  if (!found) throw new Error(label);
  return found;
};

describe("snooze presets", () => {
  // 2026-11-24 is a Tuesday; the dates are local, so this holds in any time zone.
  const tuesday = new Date(2026, 10, 24, 15, 30, 12);

  it("in an hour, tomorrow at nine, next Monday at nine (local)", () => {
    expect(preset("For 1 hour").until(tuesday).getTime() - tuesday.getTime()).toBe(3_600_000);
    expect(preset("Until tomorrow 09:00").until(tuesday)).toEqual(new Date(2026, 10, 25, 9, 0, 0));
    expect(preset("Until next Monday 09:00").until(tuesday)).toEqual(new Date(2026, 10, 30, 9, 0, 0));
    // On a Sunday, next Monday is tomorrow; on a Monday, a week on.
    expect(preset("Until next Monday 09:00").until(new Date(2026, 10, 29, 20, 0))).toEqual(new Date(2026, 10, 30, 9, 0, 0));
    expect(preset("Until next Monday 09:00").until(new Date(2026, 10, 30, 8, 0))).toEqual(new Date(2026, 11, 7, 9, 0, 0));
  });

  it("are sent as RFC 3339 with the local offset, naming the same instant", () => {
    for (const date of [tuesday, new Date(2026, 6, 1, 9, 0, 0)]) {
      const text = rfc3339Local(date);
      expect(text).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
      expect(new Date(text).getTime()).toBe(Math.floor(date.getTime() / 1000) * 1000);
    }
    expect(rfc3339Local(tuesday).slice(0, 19)).toBe("2026-11-24T15:30:12");
  });

  it("says when it wakes: the time today, the weekday within the week, else the date", () => {
    const today = new Date(2026, 10, 24, 18, 0).toISOString();
    expect(soonWhen(today, tuesday)).not.toMatch(/[A-Za-z]{3}.*\d/); // no weekday
    const monday = new Date(2026, 10, 30, 9, 0).toISOString();
    expect(soonWhen(monday, tuesday)).toBe(new Date(monday).toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" }));
    expect(soonWhen(new Date(2026, 11, 24, 9, 0).toISOString(), tuesday)).toContain("24");
  });
});
