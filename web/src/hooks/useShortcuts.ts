/** Single-key shortcuts on the whole page (`j`, `k`, `r`, `n`, `e`, `?`…):
 * never while one types in a field, never while a dialog is open (it has the
 * keyboard), never with Ctrl, Alt or Meta (the browser's own). `/` stays
 * the search box's (SearchBox). */
import { useEffect, useRef } from "react";

export type Shortcuts = Partial<Record<string, () => void>>;

/** The shortcuts the help dialog lists, in its order. */
export const SHORTCUTS: readonly [string, string][] = [
  ["j", "Next conversation in the inbox"],
  ["k", "Previous conversation in the inbox"],
  ["r", "Reply: focus the message box"],
  ["n", "Write a private note"],
  ["e", "Close the conversation (asks first)"],
  ["/", "Search"],
  ["?", "This list of shortcuts"],
];

/** Whether a key press belongs to a field being typed in. */
export function typingIn(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

export function dialogOpen(): boolean {
  return document.querySelector("[role=dialog], [role=alertdialog]") !== null;
}

export function useShortcuts(bindings: Shortcuts): void {
  const current = useRef(bindings);
  current.current = bindings;
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
      if (typingIn(event.target) || dialogOpen()) return;
      const action = current.current[event.key];
      if (!action) return;
      event.preventDefault();
      action();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);
}
