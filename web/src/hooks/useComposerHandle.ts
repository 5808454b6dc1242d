/** The open conversation's composer, reachable from anywhere (the global
 * keyboard shortcuts: `r` reply, `n` note): the composer registers itself
 * while it is mounted, and `focusComposer("note")` switches it to note mode
 * and focuses it. Without a composer on screen it does nothing (returns false).
 *
 * One composer is on screen at a time, so a module-level slot is enough; the
 * hook form is there for components. */
import { useCallback, useEffect, useRef } from "react";

export type ComposerMode = "reply" | "note";

export interface ComposerHandle {
  /** Switch to `mode` (the current one if omitted) and focus the text box. */
  focus: (mode?: ComposerMode) => void;
}

let current: ComposerHandle | null = null;

/** Focus the composer of the open conversation in `mode`; false when none is open. */
export function focusComposer(mode?: ComposerMode): boolean {
  if (!current) return false;
  current.focus(mode);
  return true;
}

/** For components (e.g. the shortcut bindings): the same as `focusComposer`, stable. */
export function useComposerFocus(): (mode?: ComposerMode) => boolean {
  return useCallback((mode?: ComposerMode) => focusComposer(mode), []);
}

/** The composer registers its handle while mounted (the latest one wins). */
export function useRegisterComposer(handle: ComposerHandle): void {
  const latest = useRef(handle);
  latest.current = handle;
  useEffect(() => {
    const mine: ComposerHandle = { focus: (mode) => latest.current.focus(mode) };
    current = mine;
    return () => {
      if (current === mine) current = null;
    };
  }, []);
}
