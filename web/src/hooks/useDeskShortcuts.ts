/** The desk's keyboard shortcuts (see SHORTCUTS): `j`/`k` open the next or
 * previous conversation of the inbox as listed, `r` and `n` focus the
 * composer (a reply, a note), `e` presses the open conversation's Close (it
 * asks first), `?` opens the help. */
import { CLOSE_ACTION } from "../components/ChatHeader";
import { focusComposer } from "./useComposerHandle";
import { useShortcuts } from "./useShortcuts";

/** The conversation `step` rows from `selected` (the first one when none is open, or it is not listed). */
export function neighbour(ids: readonly string[], selected: string | null, step: 1 | -1): string | null {
  const at = selected === null ? -1 : ids.indexOf(selected);
  if (at === -1) return ids[0] ?? null;
  return ids[at + step] ?? null;
}

interface Options {
  /** The inbox's conversations as listed (asked for when `j` or `k` is pressed). */
  ids: () => readonly string[];
  selected: string | null;
  open: (id: string) => void;
  onHelp: () => void;
}

export function useDeskShortcuts({ ids, selected, open, onHelp }: Options): void {
  const go = (step: 1 | -1) => {
    const next = neighbour(ids(), selected, step);
    if (next !== null && next !== selected) open(next);
  };
  useShortcuts({
    j: () => go(1),
    k: () => go(-1),
    r: () => void focusComposer("reply"),
    n: () => void focusComposer("note"),
    e: () => document.querySelector<HTMLButtonElement>(CLOSE_ACTION)?.click(),
    "?": onHelp,
  });
}
