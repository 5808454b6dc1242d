/** Where the conversation panel shows: beside the chat on a wide screen
 * (from 1024 px), else as a sheet the chat header's "Details" opens (the
 * header finds the opener in this context). */
import { createContext, useContext, useEffect, useMemo, useState } from "react";

export const WIDE = "(min-width: 1024px)";

/** Whether a media query matches, following changes (false without matchMedia). */
export function useMediaQuery(query: string): boolean {
  const media = useMemo(() => (typeof window.matchMedia === "function" ? window.matchMedia(query) : null), [query]);
  const [matches, setMatches] = useState(media?.matches ?? false);
  useEffect(() => {
    if (!media) return undefined;
    const follow = () => setMatches(media.matches);
    follow();
    media.addEventListener("change", follow);
    return () => media.removeEventListener("change", follow);
  }, [media]);
  return matches;
}

/** Open the panel's sheet; null where the panel is beside the chat. */
export const PanelOpener = createContext<(() => void) | null>(null);

export function usePanelOpener(): (() => void) | null {
  return useContext(PanelOpener);
}
