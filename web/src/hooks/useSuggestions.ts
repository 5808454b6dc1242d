/** The composer's listbox: staff for an `@name` in a note, canned responses
 * for a `/code` at the start. Arrow keys move, Enter (or Tab) inserts,
 * Escape closes it until the text changes. */
import { useCallback, useEffect, useMemo, useState, type KeyboardEvent } from "react";
import { cannedAt, matchAgents, mentionAt, mentionToken, replaceRange } from "../lib/suggest";
import type { CannedResponse } from "../services/composer";
import type { Agent } from "../types";
import type { ComposerMode } from "./useComposerHandle";
import { useAgents } from "./useDirectory";
import { useApi } from "./useApi";

/** Where suggestions come from: the staff directory and the canned-response lookup. */
export interface SuggestionSources {
  agents: Agent[];
  canned: (prefix: string) => Promise<CannedResponse[]>;
}

/** The sources of a signed-in page (`GET /api/agents`, `GET /api/canned-responses`). */
export function useSuggestionSources(): SuggestionSources {
  const api = useApi();
  const agents = useAgents().data?.items;
  const canned = useCallback((prefix: string) => api.cannedResponses(prefix, 20).then((page) => page.items), [api]);
  return useMemo(() => ({ agents: agents ?? [], canned }), [agents, canned]);
}

/** The canned responses for `code` (null: none asked), the last answer kept while the next comes. */
function useCanned(sources: SuggestionSources | undefined, code: string | null) {
  const [found, setFound] = useState<{ code: string; items: CannedResponse[] } | null>(null);
  const [loading, setLoading] = useState(false);
  useEffect(() => {
    if (!sources || code === null) return undefined;
    let current = true;
    setLoading(true);
    sources.canned(code).then(
      (items) => current && setFound({ code, items }),
      () => current && setFound({ code, items: [] }),
    ).finally(() => current && setLoading(false));
    return () => {
      current = false;
    };
  }, [sources, code]);
  return { items: found?.items ?? [], loading };
}

export interface Suggestion {
  id: string;
  label: string;
  detail: string;
}

export interface Suggestions {
  kind: "mention" | "canned" | null;
  items: Suggestion[];
  active: number;
  loading: boolean;
  setActive: (index: number) => void;
  /** Insert the `index`-th suggestion: the new text and caret. */
  pick: (index: number) => void;
  /** Handles the key when the listbox is open; true when it did. */
  onKeyDown: (event: KeyboardEvent<HTMLTextAreaElement>) => boolean;
}

interface Options {
  /** Without sources, no suggestions. */
  sources?: SuggestionSources | undefined;
  text: string;
  caret: number;
  mode: ComposerMode;
  /** The text after an insertion, the caret to put, and (a mention) who was inserted. */
  onInsert: (text: string, caret: number, mentioned?: { id: string; token: string }) => void;
}

export function useSuggestions({ sources, text, caret, mode, onInsert }: Options): Suggestions {
  const [active, setActive] = useState(0);
  const [dismissed, setDismissed] = useState<string | null>(null);
  const code = sources ? cannedAt(text) : null;
  const mention = sources && mode === "note" && code === null ? mentionAt(text, caret) : null;
  const closed = dismissed === text;
  const canned = useCanned(sources, closed ? null : code);

  let kind: Suggestions["kind"] = null;
  let items: Suggestion[] = [];
  if (!closed && code !== null) {
    kind = "canned";
    items = canned.items
      .filter((r) => r.code.toLowerCase().startsWith(code.toLowerCase()))
      .map((r) => ({ id: r.response_id, label: `/${r.code}`, detail: r.content }));
  } else if (!closed && mention) {
    kind = "mention";
    items = matchAgents(sources?.agents ?? [], mention.query).map((a) => ({
      id: a.agent_id,
      label: a.display_name,
      detail: `@${mentionToken(a)}`,
    }));
  }
  const current = Math.min(active, Math.max(0, items.length - 1));

  const pick = (index: number) => {
    const item = items[index];
    if (!item) return;
    setActive(0);
    if (kind === "canned") {
      const response = canned.items.find((r) => r.response_id === item.id);
      const content = response?.content ?? item.detail;
      onInsert(content, content.length);
    } else if (kind === "mention" && mention) {
      const token = item.detail.slice(1);
      const next = replaceRange(text, mention.start, caret, `@${token}`);
      onInsert(next.text, next.caret, { id: item.id, token });
    }
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>): boolean => {
    if (kind === null || items.length === 0) return false;
    const move = (by: number) => {
      event.preventDefault();
      setActive((current + by + items.length) % items.length);
    };
    switch (event.key) {
      case "ArrowDown":
        move(1);
        return true;
      case "ArrowUp":
        move(-1);
        return true;
      case "Enter":
      case "Tab":
        if (event.shiftKey || event.nativeEvent.isComposing) return false;
        event.preventDefault();
        pick(current);
        return true;
      case "Escape":
        event.preventDefault();
        setDismissed(text);
        return true;
      default:
        return false;
    }
  };

  return { kind, items, active: current, loading: kind === "canned" && canned.loading, setActive, pick, onKeyDown };
}
