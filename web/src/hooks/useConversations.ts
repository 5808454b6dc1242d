/** The inbox (filtered, paged) and one conversation, kept fresh by the inbox
 * socket's CONVERSATION_ROW frames and the chat socket's events — no refetch. */
import { useInfiniteQuery, useQuery, useQueryClient, type InfiniteData } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { applyToConversation, keys } from "../lib/cache";
import { upsertInboxRow } from "../lib/inboxOrder";
import type { ParleySocket } from "../services/socket";
import type { Conversation, ConversationFilters, ConversationPage, EventFrame } from "../types";
import { useApi, useSession } from "./useApi";
import { COUNTS_KEY } from "./useInboxCounts";

/** The API's largest page: infinite scroll asks for the next one well before the end. */
export const PAGE_SIZE = 100;

export function useConversations(filters: ConversationFilters) {
  const api = useApi();
  return useInfiniteQuery({
    queryKey: keys.conversations(filters),
    queryFn: ({ pageParam }) => api.listConversations(filters, { cursor: pageParam, limit: PAGE_SIZE }),
    initialPageParam: null as string | null,
    getNextPageParam: (page) => page.next_cursor,
    staleTime: Number.POSITIVE_INFINITY, // live events keep it fresh
  });
}

/** How often, at most, live rows make the tab counts be asked again. */
export const COUNTS_REFRESH_MS = 2000;

export function useConversation(id: string | null) {
  const api = useApi();
  return useQuery({
    queryKey: keys.conversation(id ?? ""),
    queryFn: () => api.getConversation(id ?? ""),
    enabled: id !== null,
    staleTime: Number.POSITIVE_INFINITY,
  });
}

/** Where a chat starts: the conversation's row as first known when the chat
 * opens (its `version` and `position`), kept for the chat's lifetime.
 *
 * The conversation socket is opened with `after=version` and the first page of
 * messages is fetched only afterwards, with `min_position=position` (so the
 * timeline has every message up to `version`): whatever the page misses, the
 * socket replays, and what both carry is de-duplicated. Null until the row is in.
 */
export interface ChatStart {
  conversationId: string;
  version: number;
  position: number;
}

export function useChatStart(id: string, row: Conversation | undefined): ChatStart | null {
  const [start, setStart] = useState<ChatStart | null>(null);
  const current = start?.conversationId === id ? start : null;
  if (current === null && row !== undefined && row.conversation_id === id) {
    // (No version — a server from before it — gives 0: the socket replays everything.)
    const next = { conversationId: id, version: row.version ?? 0, position: row.position };
    setStart(next); // set while rendering: React renders again at once, before committing
    return next;
  }
  return current;
}

/** Write a fresh inbox row into every cached inbox list and the conversation's own
 * cache; the tab counts are asked again soon after (at most every COUNTS_REFRESH_MS). */
export function useRowWriter() {
  const client = useQueryClient();
  const me = useSession().identity.sub;
  const countsDue = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => clearTimeout(countsDue.current ?? undefined), []);
  return useCallback(
    (row: Conversation) => {
      for (const [key] of client.getQueriesData<InfiniteData<ConversationPage>>({ queryKey: keys.allConversations })) {
        const filters = (key[1] ?? {}) as ConversationFilters;
        client.setQueryData<InfiniteData<ConversationPage>>(key, (data) => upsertInboxRow(data, row, filters, me));
      }
      client.setQueryData<Conversation>(keys.conversation(row.conversation_id), (old) =>
        old && old.position > row.position ? old : row,
      );
      countsDue.current ??= setTimeout(() => {
        countsDue.current = null;
        void client.invalidateQueries({ queryKey: COUNTS_KEY });
      }, COUNTS_REFRESH_MS);
    },
    [client, me],
  );
}

/** Apply the inbox socket's rows to the caches; call `onEvent` for each event (sounds). */
export function useInboxLive(socket: ParleySocket | null, onEvent?: (frame: EventFrame) => void) {
  const write = useRowWriter();
  useEffect(() => {
    if (!socket) return undefined;
    const offFrame = socket.onFrame((frame) => {
      if (frame.type === "CONVERSATION_ROW") write(frame.conversation);
    });
    const offEvent = socket.onEvent((frame) => onEvent?.(frame));
    return () => {
      offFrame();
      offEvent();
    };
  }, [socket, write, onEvent]);
}

/** Apply a conversation socket's status and update events to the header's cache. */
export function useConversationLive(socket: ParleySocket | null, id: string | null) {
  const client = useQueryClient();
  useEffect(() => {
    if (!socket || id === null) return undefined;
    return socket.onEvent((frame) => {
      client.setQueryData<Conversation>(keys.conversation(id), (old) => applyToConversation(old, frame));
    });
  }, [socket, id, client]);
}
