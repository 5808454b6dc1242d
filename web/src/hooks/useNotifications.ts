/** The caller's mention notifications: the newest page (`GET
 * /api/notifications`) with the unread count, kept live by the inbox
 * socket — a NOTIFICATION is put on top (once: a resumed socket replays it),
 * a NOTIFICATIONS_READ (from another of the caller's screens) marks read —
 * and marking read (all, or one when it is opened). */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { deskFrame, type MentionNotification, type NotificationFrame, type NotificationPage } from "../services/desk";
import type { ParleySocket } from "../services/socket";
import { useApi } from "./useApi";

export const NOTIFICATIONS_KEY = ["notifications"] as const;
export const NOTIFICATIONS_SHOWN = 20;

/** The page with a new notification on top; unchanged when it is there already. */
export function withNotification(page: NotificationPage | undefined, frame: NotificationFrame): NotificationPage | undefined {
  if (!page || page.items.some((n) => n.note_id === frame.note_id)) return page;
  const added: MentionNotification = {
    note_id: frame.note_id,
    conversation_id: frame.conversation_id,
    author_id: frame.author_id,
    author_name: frame.author_name,
    excerpt: frame.excerpt,
    created_at: frame.at,
    position: frame.position,
    read: false,
  };
  return { ...page, items: [added, ...page.items].slice(0, NOTIFICATIONS_SHOWN), unread_count: page.unread_count + 1 };
}

/** The page with the notifications up to `upTo` (a note's position), or of `noteIds`, read. */
export function withRead(page: NotificationPage | undefined, upTo: number | null, noteIds: readonly string[]): NotificationPage | undefined {
  if (!page) return page;
  let newlyRead = 0;
  const items = page.items.map((n) => {
    if (n.read || !((upTo !== null && n.position <= upTo) || noteIds.includes(n.note_id))) return n;
    newlyRead += 1;
    return { ...n, read: true };
  });
  return { ...page, items, unread_count: Math.max(0, page.unread_count - newlyRead) };
}

export function useNotifications(socket: ParleySocket | null, onNew?: (notification: NotificationFrame) => void) {
  const api = useApi();
  const client = useQueryClient();
  const latest = useRef(onNew);
  latest.current = onNew;
  const query = useQuery({
    queryKey: NOTIFICATIONS_KEY,
    queryFn: () => api.listNotifications({ limit: NOTIFICATIONS_SHOWN }),
    staleTime: Number.POSITIVE_INFINITY, // the socket keeps it fresh
    retry: false,
  });

  // After a read, the server's count (the page shows only the newest).
  const reload = (position: number) =>
    api
      .listNotifications({ limit: NOTIFICATIONS_SHOWN, minPosition: position })
      .then((page) => client.setQueryData(NOTIFICATIONS_KEY, page))
      .catch(() => undefined); // the page as patched stays

  useEffect(() => {
    if (!socket) return undefined;
    return socket.onFrame((raw) => {
      const frame = deskFrame(raw);
      if (frame?.type === "NOTIFICATION") {
        const before = client.getQueryData<NotificationPage>(NOTIFICATIONS_KEY);
        const after = withNotification(before, frame);
        if (after === before) return;
        client.setQueryData(NOTIFICATIONS_KEY, after);
        latest.current?.(frame);
      } else if (frame?.type === "NOTIFICATIONS_READ") {
        client.setQueryData<NotificationPage>(NOTIFICATIONS_KEY, (old) => withRead(old, frame.up_to_position, frame.note_ids));
      }
    });
  }, [socket, client]);

  const readAll = useMutation({
    mutationFn: () => {
      const newest = Math.max(0, ...(query.data?.items.map((n) => n.position) ?? []));
      return api.readNotifications({ upToPosition: newest }).then((result) => ({ result, newest }));
    },
    onSuccess: ({ result, newest }) => {
      client.setQueryData<NotificationPage>(NOTIFICATIONS_KEY, (old) => withRead(old, newest, []));
      void reload(result.position);
    },
  });
  const readOne = useMutation({
    mutationFn: (noteId: string) => api.readNotifications({ noteIds: [noteId] }),
    onMutate: (noteId) => client.setQueryData<NotificationPage>(NOTIFICATIONS_KEY, (old) => withRead(old, null, [noteId])),
    onSuccess: (result) => void reload(result.position),
  });
  return { query, readAll, readOne };
}
