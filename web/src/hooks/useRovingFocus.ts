/** Roving focus over a list of rows: one Tab stop for the whole list (the
 * row last focused, else the open row, else the first); the arrow keys,
 * Page Up/Down, Home and End move between rows. Each row carries
 * `data-roving-id`. In a virtual list the row to move to may not be rendered
 * yet: `reveal(index)` scrolls it in, and it is focused once it is. */
import { useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";

interface Options {
  /** Bring row `index` into view (a virtual list renders it then). */
  reveal?: (index: number) => void;
  /** Rows a Page Up/Down moves by. */
  page?: number;
}

function rowOf(list: HTMLElement | null, id: string): HTMLElement | undefined {
  if (!list) return undefined;
  return [...list.querySelectorAll<HTMLElement>("[data-roving-id]")].find((row) => row.dataset.rovingId === id);
}

export function useRovingFocus(ids: readonly string[], preferred: string | null, { reveal, page = 10 }: Options = {}) {
  const [focused, setFocused] = useState<string | null>(null);
  const indexOf = useMemo(() => new Map(ids.map((id, i) => [id, i])), [ids]);
  const active =
    (focused !== null && indexOf.has(focused) ? focused : null) ??
    (preferred !== null && indexOf.has(preferred) ? preferred : null) ??
    ids[0] ??
    null;

  // A move to a row not rendered yet: focus it after the render that brings it.
  const list = useRef<HTMLElement | null>(null);
  const [pending, setPending] = useState<string | null>(null);
  useLayoutEffect(() => {
    if (pending === null) return;
    const row = rowOf(list.current, pending);
    if (row) {
      row.focus();
      setPending(null);
    }
  });

  const onKeyDown = (event: KeyboardEvent<HTMLElement>) => {
    const last = ids.length - 1;
    const moves: Record<string, (index: number) => number> = {
      ArrowDown: (i) => i + 1,
      ArrowUp: (i) => i - 1,
      PageDown: (i) => i + page,
      PageUp: (i) => i - page,
      Home: () => 0,
      End: () => last,
    };
    const move = moves[event.key];
    if (!move || ids.length === 0) return;
    const current = (event.target as HTMLElement).closest<HTMLElement>("[data-roving-id]")?.dataset.rovingId;
    const index = current === undefined ? -1 : (indexOf.get(current) ?? -1);
    const target = Math.max(0, Math.min(last, move(index)));
    const next = ids[target];
    if (next === undefined) return;
    event.preventDefault();
    list.current = event.currentTarget;
    setFocused(next);
    reveal?.(target);
    const row = rowOf(event.currentTarget, next);
    if (row) row.focus();
    else setPending(next);
  };

  return {
    onKeyDown,
    /** The row that holds the list's Tab stop. */
    active,
    tabIndexOf: (id: string) => (id === active ? 0 : -1),
    onFocusRow: setFocused,
  };
}
