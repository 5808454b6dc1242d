/** Roving focus over a list of rows: one Tab stop for the whole list (the
 * row last focused, else the open row, else the first); the arrow keys,
 * Home and End move between rows. Each row carries `data-roving-id`. */
import { useState, type KeyboardEvent } from "react";

export function useRovingFocus(ids: readonly string[], preferred: string | null) {
  const [focused, setFocused] = useState<string | null>(null);
  const active =
    (focused !== null && ids.includes(focused) ? focused : null) ??
    (preferred !== null && ids.includes(preferred) ? preferred : null) ??
    ids[0] ??
    null;

  const onKeyDown = (event: KeyboardEvent<HTMLElement>) => {
    const moves: Record<string, (index: number) => number> = {
      ArrowDown: (i) => i + 1,
      ArrowUp: (i) => i - 1,
      Home: () => 0,
      End: () => ids.length - 1,
    };
    const move = moves[event.key];
    if (!move || ids.length === 0) return;
    const current = (event.target as HTMLElement).closest<HTMLElement>("[data-roving-id]")?.dataset.rovingId;
    const index = current === undefined ? -1 : ids.indexOf(current);
    const next = ids[Math.max(0, Math.min(ids.length - 1, move(index)))];
    if (next === undefined) return;
    event.preventDefault();
    setFocused(next);
    const rows = event.currentTarget.querySelectorAll<HTMLElement>("[data-roving-id]");
    [...rows].find((row) => row.dataset.rovingId === next)?.focus();
  };

  return {
    onKeyDown,
    tabIndexOf: (id: string) => (id === active ? 0 : -1),
    onFocusRow: setFocused,
  };
}
