/** "Skip to main content": the first Tab stop, shown when focused; it moves
 * focus past the top bar without touching the URL (which routes the app). */
import type { RefObject } from "react";

export function SkipLink({ target }: { target: RefObject<HTMLElement | null> }) {
  return (
    <a
      href="#content"
      onClick={(event) => {
        event.preventDefault();
        target.current?.focus();
      }}
      className="sr-only z-30 rounded bg-white px-3 py-2 font-medium text-blue-800 focus:not-sr-only focus:absolute focus:left-2 focus:top-2"
    >
      Skip to main content
    </a>
  );
}
