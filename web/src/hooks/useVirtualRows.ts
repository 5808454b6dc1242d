/** A fixed-height virtualiser: of `count` rows, only those in the scroll
 * container's view (and `overscan` either side) are rendered, each placed at
 * `index * rowHeight`. The state changes only when that window does, so a
 * scroll inside one row's height renders nothing. */
import { useCallback, useLayoutEffect, useState, type RefObject } from "react";

export interface VirtualWindow {
  /** The first and one past the last index to render. */
  start: number;
  end: number;
}

/** Until the container is measured (or where nothing is laid out, as in jsdom). */
export const FALLBACK_HEIGHT = 800;

export function windowOf(
  scrollTop: number,
  viewport: number,
  count: number,
  rowHeight: number,
  overscan: number,
): VirtualWindow {
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const visible = Math.ceil((viewport > 0 ? viewport : FALLBACK_HEIGHT) / rowHeight) + 1;
  return {
    start: Math.max(0, Math.min(count, first - overscan)),
    end: Math.max(0, Math.min(count, first + visible + overscan)),
  };
}

interface Options {
  count: number;
  rowHeight: number;
  overscan?: number;
}

export function useVirtualRows<T extends HTMLElement>(
  container: RefObject<T | null>,
  { count, rowHeight, overscan = 6 }: Options,
) {
  const measure = useCallback((): VirtualWindow & { shown: boolean } => {
    const el = container.current;
    const shown = (el?.clientHeight ?? 0) > 0;
    return { ...windowOf(el?.scrollTop ?? 0, el?.clientHeight ?? 0, count, rowHeight, overscan), shown };
  }, [container, count, rowHeight, overscan]);
  const [range, setRange] = useState(() => ({ ...windowOf(0, 0, count, rowHeight, overscan), shown: false }));
  const update = useCallback(() => {
    const next = measure();
    setRange((old) => (old.start === next.start && old.end === next.end && old.shown === next.shown ? old : next));
  }, [measure]);

  // Scrolling, resizing and a new row count move the window.
  useLayoutEffect(() => {
    update();
    const el = container.current;
    if (!el) return undefined;
    const onScroll = () => update();
    el.addEventListener("scroll", onScroll, { passive: true });
    const resizes = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(() => update());
    resizes?.observe(el);
    return () => {
      el.removeEventListener("scroll", onScroll);
      resizes?.disconnect();
    };
  }, [container, update]);

  /** Scroll the least needed to show row `index` whole; the window follows at once. */
  const reveal = useCallback(
    (index: number) => {
      const el = container.current;
      if (!el) return;
      const top = index * rowHeight;
      const height = el.clientHeight || FALLBACK_HEIGHT;
      if (top < el.scrollTop) el.scrollTop = top;
      else if (top + rowHeight > el.scrollTop + height) el.scrollTop = top + rowHeight - height;
      update();
    },
    [container, rowHeight, update],
  );

  return {
    start: Math.min(range.start, count),
    end: Math.min(range.end, count),
    totalHeight: count * rowHeight,
    /** Whether the container is laid out (a hidden one, on a phone showing a chat, is not). */
    shown: range.shown,
    reveal,
  };
}
