/** The top bar's search across messages, notes, client names and summaries:
 * `/` focuses it (unless one is typing somewhere), results show under it as
 * one types, and choosing one opens its conversation. Escape closes them. */
import { useEffect, useId, useRef, useState, type KeyboardEvent } from "react";
import { searchable, useSearch } from "../hooks/useSearch";
import type { SearchHit } from "../services/search";
import { SearchResults } from "./SearchResults";

interface Props {
  onOpen: (conversationId: string) => void;
  /** A staff member's display name by id. */
  staffName: (id: string) => string;
}

/** Whether a key press belongs to a field being typed in. */
function typing(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

export function SearchBox({ onOpen, staffName }: Props) {
  const [q, setQ] = useState("");
  const [open, setOpen] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const box = useRef<HTMLDivElement>(null);
  const id = useId();
  const search = useSearch(q);

  useEffect(() => {
    const onKey = (event: globalThis.KeyboardEvent) => {
      if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
      if (document.querySelector("[role=dialog]")) return; // a dialog has the keyboard
      event.preventDefault();
      input.current?.focus();
      input.current?.select();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  const nameOf = (hit: SearchHit) => staffName(hit.author_id ?? "");
  const choose = (hit: SearchHit) => {
    setOpen(false);
    onOpen(hit.conversation_id);
  };
  const backToBox = () => input.current?.focus();
  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === "Escape") {
      if (open) setOpen(false);
      else setQ("");
    } else if (event.key === "ArrowDown") {
      const first = box.current?.querySelector<HTMLButtonElement>("button[data-hit]");
      if (first) {
        event.preventDefault();
        first.focus();
      }
    } else if (event.key === "Enter") {
      const first = search.waiting ? undefined : search.hits[0];
      if (first) choose(first);
    }
  };

  const shown = open && searchable(q);
  const status = search.isError
    ? `Search failed: ${search.error.message}`
    : search.isPending || search.waiting
      ? "Searching…"
      : search.hits.length === 0
        ? `Nothing found for “${search.settled}”.`
        : `${search.hits.length}${search.hasNextPage ? "+" : ""} result${search.hits.length === 1 ? "" : "s"}`;

  return (
    <div
      ref={box}
      role="search"
      className="relative order-last w-full sm:order-none sm:w-auto sm:max-w-md sm:flex-1"
      onBlur={(event) => {
        if (!box.current?.contains(event.relatedTarget as Node | null)) setOpen(false);
      }}
    >
      <label htmlFor={id} className="sr-only">
        Search messages, notes and clients
      </label>
      <input
        ref={input}
        id={id}
        type="search"
        value={q}
        placeholder="Search (press /)"
        autoComplete="off"
        aria-controls={`${id}-results`}
        aria-keyshortcuts="/"
        onChange={(event) => {
          setQ(event.target.value);
          setOpen(true);
        }}
        onFocus={() => setOpen(true)}
        onKeyDown={onKeyDown}
        className="w-full rounded border border-slate-600 bg-slate-800 px-2 py-1 text-sm text-white placeholder:text-slate-300"
      />
      <div
        id={`${id}-results`}
        role="region"
        aria-label="Search results"
        hidden={!shown}
        data-testid="search-results"
        className="absolute left-0 right-0 top-full z-30 mt-1 max-h-[70vh] overflow-y-auto rounded-lg border border-slate-200 bg-white text-slate-900 shadow-lg"
      >
        <p role="status" className="px-3 py-1.5 text-xs text-slate-600">
          {shown ? status : ""}
        </p>
        {shown && (
          <SearchResults
            hits={search.hits}
            nameOf={nameOf}
            onOpen={choose}
            hasMore={search.hasNextPage}
            loadingMore={search.isFetchingNextPage}
            onMore={() => void search.fetchNextPage()}
            onEscape={backToBox}
          />
        )}
      </div>
    </div>
  );
}
