/** Search hits: the client, what was found (a message and who wrote it, a
 * note, the conversation itself), when, and the snippet with its matches
 * marked. Snippets are rendered as text runs (services/search.ts), never as
 * HTML. Arrow keys move between results; Escape goes back to the box. */
import type { KeyboardEvent } from "react";
import { shortWhen } from "../lib/format";
import { snippetParts, type SearchHit } from "../services/search";

interface Props {
  hits: SearchHit[];
  nameOf: (hit: SearchHit) => string;
  onOpen: (hit: SearchHit) => void;
  hasMore: boolean;
  loadingMore: boolean;
  onMore: () => void;
  onEscape: () => void;
}

export function Snippet({ snippet }: { snippet: string }) {
  return (
    <span data-testid="snippet" className="[overflow-wrap:anywhere]">
      {snippetParts(snippet).map((part, i) =>
        part.marked ? (
          <mark key={i} className="rounded-sm bg-amber-200 px-0.5 text-slate-900">
            {part.text}
          </mark>
        ) : (
          <span key={i}>{part.text}</span>
        ),
      )}
    </span>
  );
}

function what(hit: SearchHit, nameOf: (hit: SearchHit) => string): string {
  if (hit.kind === "note") return `Note by ${nameOf(hit)}`;
  if (hit.kind === "conversation") return "Client and summary";
  if (hit.sender === "system") return "System message";
  return hit.sender === "client" ? "Message from the client" : `Message from ${nameOf(hit)}`;
}

/** Arrow keys between the results of a list (the list's buttons). */
function moveFocus(event: KeyboardEvent<HTMLUListElement>, onEscape: () => void) {
  const buttons = [...event.currentTarget.querySelectorAll<HTMLButtonElement>("button[data-hit]")];
  const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
  if (event.key === "Escape") {
    event.preventDefault();
    onEscape();
  } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    const next = event.key === "ArrowDown" ? Math.min(buttons.length - 1, at + 1) : at - 1;
    if (next < 0) onEscape();
    else buttons[next]?.focus();
  }
}

export function SearchResults({ hits, nameOf, onOpen, hasMore, loadingMore, onMore, onEscape }: Props) {
  return (
    <>
      <ul className="divide-y divide-slate-100" onKeyDown={(e) => moveFocus(e, onEscape)}>
        {hits.map((hit) => (
          <li key={`${hit.kind}:${hit.id}`}>
            <button
              type="button"
              data-hit={hit.kind}
              data-testid="search-hit"
              onClick={() => onOpen(hit)}
              // Keep the focus where it is on a click (Safari would blur the box and close the list first).
              onMouseDown={(event) => event.preventDefault()}
              className="block w-full px-3 py-2 text-left hover:bg-slate-50 focus:bg-blue-50"
            >
              <span className="flex items-baseline gap-2 text-xs text-slate-600">
                <span className="truncate text-sm font-medium text-slate-900">{hit.client_name}</span>
                <span className="truncate">{what(hit, nameOf)}</span>
                {hit.status === "closed" && <span>· closed</span>}
                <span className="ml-auto shrink-0">{shortWhen(hit.created_at)}</span>
              </span>
              <span className="mt-0.5 block text-sm text-slate-800">
                <Snippet snippet={hit.snippet} />
              </span>
            </button>
          </li>
        ))}
      </ul>
      {hasMore && (
        <button
          type="button"
          onClick={onMore}
          onMouseDown={(event) => event.preventDefault()}
          disabled={loadingMore}
          className="w-full border-t border-slate-200 px-3 py-2 text-sm font-medium text-blue-700 hover:bg-slate-50"
        >
          {loadingMore ? "Loading…" : "More results"}
        </button>
      )}
    </>
  );
}
