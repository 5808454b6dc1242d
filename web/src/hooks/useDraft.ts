/** A message being written, kept per person and conversation in localStorage:
 * it survives switching conversations, a reload, a token refresh and an
 * expired session, and is cleared once sent (all of a person's drafts when
 * they sign out). Without a key it is plain component state. */
import { useCallback, useState } from "react";

const PREFIX = "parley.draft.";

/** The storage key of `userId`'s draft in `conversationId`. */
export function draftKey(userId: string, conversationId: string): string {
  return `${PREFIX}${encodeURIComponent(userId)}.${conversationId}`;
}

/** Forget every draft of `userId` (an explicit sign-out: the browser may be shared). */
export function clearDrafts(userId: string): void {
  const mine = `${PREFIX}${encodeURIComponent(userId)}.`;
  try {
    const keys = Array.from({ length: localStorage.length }, (_, i) => localStorage.key(i));
    for (const key of keys) if (key?.startsWith(mine)) localStorage.removeItem(key);
  } catch {
    // storage off: nothing kept
  }
}

function read(key: string | null): string {
  if (key === null) return "";
  try {
    return localStorage.getItem(key) ?? "";
  } catch {
    return "";
  }
}

function write(key: string | null, text: string): void {
  if (key === null) return;
  try {
    if (text === "") localStorage.removeItem(key);
    else localStorage.setItem(key, text);
  } catch {
    // storage full or off: the draft lives in memory only
  }
}

export function useDraft(key: string | null): [string, (text: string) => void, () => void] {
  const [state, setState] = useState(() => ({ key, text: read(key) }));
  // Another key (another conversation in the same input): its own draft.
  const text = state.key === key ? state.text : read(key);
  if (state.key !== key) setState({ key, text });
  const set = useCallback(
    (next: string) => {
      write(key, next);
      setState({ key, text: next });
    },
    [key],
  );
  const clear = useCallback(() => set(""), [set]);
  return [text, set, clear];
}
