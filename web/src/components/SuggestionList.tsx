/** The composer's listbox (mentions, canned responses). The text box keeps the
 * focus and points at the active option (`aria-activedescendant`); a click
 * picks an option without taking the focus away. */
import type { Suggestions } from "../hooks/useSuggestions";

interface Props {
  id: string;
  suggestions: Suggestions;
}

export const optionId = (listId: string, index: number) => `${listId}-option-${index}`;

export function SuggestionList({ id, suggestions }: Props) {
  const { kind, items, active } = suggestions;
  if (kind === null) return null;
  const label = kind === "mention" ? "Mention a colleague" : "Canned responses";
  return (
    <div className="absolute inset-x-0 bottom-full z-10 mb-1 max-h-64 overflow-y-auto rounded-lg border border-slate-300 bg-white shadow-lg">
      <p className="border-b border-slate-100 px-3 py-1 text-xs font-medium text-slate-600" aria-hidden="true">
        {label} · ↑ ↓ to choose, Enter to insert, Esc to close
      </p>
      {items.length === 0 ? (
        <p className="px-3 py-2 text-sm text-slate-600" role="status">
          {suggestions.loading ? "Looking…" : kind === "mention" ? "No colleague by that name" : "No canned response with that code"}
        </p>
      ) : (
        <ul id={id} role="listbox" aria-label={label} data-testid={`${kind}-list`}>
          {items.map((item, index) => (
            <li
              key={item.id}
              id={optionId(id, index)}
              role="option"
              aria-selected={index === active}
              onMouseDown={(event) => event.preventDefault()}
              onMouseEnter={() => suggestions.setActive(index)}
              onClick={() => suggestions.pick(index)}
              className={`cursor-pointer px-3 py-1.5 text-sm ${index === active ? "bg-blue-100 text-slate-900" : "text-slate-800"}`}
            >
              <span className="font-medium">{item.label}</span>{" "}
              <span className="block truncate text-xs text-slate-600">{item.detail}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
