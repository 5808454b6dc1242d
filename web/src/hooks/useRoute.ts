/** Which conversation is open, kept in the URL (`#/c/<id>`) so the browser's
 * back and forward (and a phone's back gesture) move between the inbox and
 * the conversations opened from it. */
import { useCallback, useEffect, useState } from "react";

/** Set on the history entry of a conversation opened from the inbox screen. */
const FROM_INBOX = "parley.fromInbox";

function conversationInUrl(): string | null {
  const match = /^#\/c\/([0-9a-f-]{36})$/i.exec(window.location.hash);
  return match?.[1] ?? null;
}

export interface Route {
  selected: string | null;
  /** Open a conversation: a new history entry, so "back" returns here. */
  open: (id: string) => void;
  /** Back to the inbox: the previous history entry when that is the inbox, else a new entry. */
  back: () => void;
}

export function useRoute(): Route {
  const [selected, setSelected] = useState(conversationInUrl);
  useEffect(() => {
    const follow = () => setSelected(conversationInUrl());
    window.addEventListener("popstate", follow);
    window.addEventListener("hashchange", follow);
    return () => {
      window.removeEventListener("popstate", follow);
      window.removeEventListener("hashchange", follow);
    };
  }, []);

  const open = useCallback((id: string) => {
    const current = conversationInUrl();
    if (current === id) return;
    window.history.pushState({ [FROM_INBOX]: current === null }, "", `#/c/${id}`);
    setSelected(id);
  }, []);

  const back = useCallback(() => {
    const state = window.history.state as Record<string, unknown> | null;
    if (state?.[FROM_INBOX] === true) {
      window.history.back(); // popstate follows
      return;
    }
    window.history.pushState(null, "", "#/");
    setSelected(null);
  }, []);

  return { selected, open, back };
}
