/** Search across messages, notes, names and summaries (`GET /api/search`) as
 * the person types: debounced, paged on demand, nothing asked for a text
 * with nothing to search (no letter or digit, or a single character). */
import { useInfiniteQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useApi } from "./useApi";

export const SEARCH_PAGE = 20;

/** Whether `q` is worth sending: two characters or more, one a letter or digit. */
export function searchable(q: string): boolean {
  const text = q.trim();
  return text.length >= 2 && text.length <= 200 && /[\p{L}\p{N}]/u.test(text);
}

export function useSearch(q: string, debounceMs = 250) {
  const api = useApi();
  const [settled, setSettled] = useState(q.trim());
  useEffect(() => {
    const timer = setTimeout(() => setSettled(q.trim()), debounceMs);
    return () => clearTimeout(timer);
  }, [q, debounceMs]);
  const query = useInfiniteQuery({
    queryKey: ["search", settled],
    queryFn: ({ pageParam }) => api.search(settled, { after: pageParam, limit: SEARCH_PAGE }),
    initialPageParam: null as string | null,
    getNextPageParam: (page) => page.next_after,
    enabled: searchable(settled),
    staleTime: 30_000,
    retry: false,
  });
  const hits = query.data?.pages.flatMap((page) => page.items) ?? [];
  return { ...query, hits, settled, waiting: q.trim() !== settled };
}
