import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TypingEmitter, type TypingEvent } from "../src/services/typing";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function emitter() {
  const events: { event: TypingEvent; at: number }[] = [];
  const typing = new TypingEmitter({ emit: (event) => events.push({ event, at: Date.now() }) });
  return { typing, events };
}

describe("TypingEmitter", () => {
  it("sends START once for a burst of keystrokes, refreshes every 5 s, STOPs after 3 s idle", () => {
    const { typing, events } = emitter();
    for (let i = 0; i < 60; i++) {
      typing.keystroke();
      vi.advanceTimersByTime(100); // 10 keystrokes a second for 6 s
    }
    expect(events.map((e) => e.event)).toEqual(["TYPING_START", "TYPING_START"]);
    vi.advanceTimersByTime(3000);
    expect(events.map((e) => e.event)).toEqual(["TYPING_START", "TYPING_START", "TYPING_STOP"]);
  });

  it("never sends two events within a second", () => {
    const { typing, events } = emitter();
    for (let i = 0; i < 20; i++) {
      typing.keystroke();
      vi.advanceTimersByTime(50);
      typing.stop();
      vi.advanceTimersByTime(50);
    }
    vi.advanceTimersByTime(5000);
    const gaps = events.slice(1).map((e, i) => e.at - (events[i]?.at ?? 0));
    expect(gaps.every((gap) => gap >= 1000)).toBe(true);
    expect(events.at(-1)?.event).toBe("TYPING_STOP");
  });

  it("a send stops silently (the server ends the indicator itself)", () => {
    const { typing, events } = emitter();
    typing.keystroke();
    typing.stop(true);
    vi.advanceTimersByTime(5000);
    expect(events.map((e) => e.event)).toEqual(["TYPING_START"]);
  });
});
