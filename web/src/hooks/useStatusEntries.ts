/** A conversation's status changes (closed with a reason, reopened, pending,
 * snoozed, woken) as system entries for its timeline: read from the staff
 * timeline from `from` on (the position of the oldest message on screen, or
 * 0), and read again when a STATUS_CHANGED frame comes, waiting for the read
 * models to hold it (so the entry says who did it). The same read gives the
 * private notes to useNotes (`notesKey`), so the timeline is read once. */
import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import type { ParleySocket } from "../services/socket";
import type { Note } from "../services/composer";
import type { SystemEntry } from "../types";
import { useApi } from "./useApi";

const STATUS_EVENTS: readonly string[] = [
  "ConversationStatusChanged",
  "ConversationSnoozed",
  "ConversationWoke",
];
const PAGE = 100;
const NONE: SystemEntry[] = [];
/** At most this many timeline pages per read: a window of 50 messages takes one. */
const MAX_PAGES = 20;

const key = (conversationId: string) => ["status-entries", conversationId] as const;
/** The notes the same read found (useNotes reads them). */
export const notesKey = (conversationId: string, from: number | null) => ["timeline-notes", conversationId, from] as const;

export function useStatusEntries(conversationId: string, socket: ParleySocket | null, from: number | null) {
  const api = useApi();
  const client = useQueryClient();
  const newest = useRef(0);

  useEffect(() => {
    if (!socket) return undefined;
    return socket.onEvent((frame) => {
      if (frame.type !== "STATUS_CHANGED" || frame.conversation_id !== conversationId) return;
      newest.current = Math.max(newest.current, frame.position);
      void client.invalidateQueries({ queryKey: key(conversationId) });
    });
  }, [socket, conversationId, client]);

  const query = useQuery({
    queryKey: [...key(conversationId), from],
    queryFn: async () => {
      const entries: SystemEntry[] = [];
      const notes: Note[] = [];
      let after: number | null = from ?? 0;
      for (let page = 0; after !== null && page < MAX_PAGES; page++) {
        const minPosition = newest.current || undefined;
        const result = await api.timeline(conversationId, { after, limit: PAGE, ...(minPosition ? { minPosition } : {}) });
        for (const item of result.items) {
          if (item.kind === "system" && STATUS_EVENTS.includes(item.event_type)) entries.push(item);
          else if (item.kind === "note") notes.push({ ...(item as unknown as Note), conversation_id: conversationId });
        }
        after = result.next_after ?? null;
      }
      client.setQueryData(notesKey(conversationId, from), notes);
      return entries;
    },
    enabled: from !== null,
    placeholderData: keepPreviousData,
    staleTime: Number.POSITIVE_INFINITY,
    gcTime: 0,
    retry: 1,
  });
  return query.data ?? NONE;
}
