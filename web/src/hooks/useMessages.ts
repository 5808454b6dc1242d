/** A conversation's messages: newest page first over HTTP, older pages on
 * demand (infinite scroll), live events written into the cache, and
 * optimistic sends confirmed by their ACK.
 *
 * With a `start` (see useChatStart), nothing is fetched until it is known, and
 * the first page waits for the read models to reach `start.position`: the
 * page then holds every message up to `start.version`, the point the
 * conversation socket replays from. The cache is dropped as soon as the chat
 * closes (`gcTime: 0`), since no socket keeps it fresh after that: each opening
 * fetches anew. */
import { useInfiniteQuery, useQueryClient, type InfiniteData } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useReducer, useRef } from "react";
import { flattenMessages, keys, markRead, messageFromFrame, upsertMessage } from "../lib/cache";
import { newId } from "../services/ids";
import type { ParleySocket } from "../services/socket";
import type { ChatStart } from "./useConversations";
import type { EventFrame, Message, MessagePage } from "../types";
import { useApi, useSession } from "./useApi";

export const MESSAGE_PAGE = 50;

export interface ShownMessage extends Message {
  /** Local only: waiting for its ACK (sending or queued offline), or refused. */
  local?: "pending" | "failed";
  error?: string;
}

/** A reply's options: its id (chosen by the caller), an upload it carries, the stale-action guard's version. */
export interface SendExtra {
  clientMessageId?: string;
  attachment?: { attachment_id: string; name: string; mime_type: string; size: number; isImage: boolean } | undefined;
  seenVersion?: number;
}

export function useMessages(
  conversationId: string,
  socket: ParleySocket | null,
  start?: ChatStart | null,
) {
  const api = useApi();
  const client = useQueryClient();
  const key = keys.messages(conversationId);
  const minPosition = start?.position;
  const query = useInfiniteQuery({
    queryKey: key,
    queryFn: ({ pageParam }) =>
      api.listMessages(conversationId, {
        before: pageParam,
        limit: MESSAGE_PAGE,
        // Only the first (newest) page must include everything up to the start.
        ...(pageParam === null && minPosition ? { minPosition } : {}),
      }),
    initialPageParam: null as number | null,
    getNextPageParam: (page) => page.next_before,
    enabled: start !== null,
    staleTime: Number.POSITIVE_INFINITY,
    gcTime: 0,
  });
  // Optimistic messages by client_message_id; `version` re-renders on change.
  const optimistic = useRef(new Map<string, ShownMessage>());
  const [version, changed] = useReducer((n: number) => n + 1, 0);
  const early = useRef<EventFrame[]>([]);

  const apply = useCallback(
    (frame: EventFrame) => {
      const update = (data: InfiniteData<MessagePage> | undefined) => {
        if (frame.type === "MESSAGE_CREATED") return upsertMessage(data, messageFromFrame(frame));
        if (frame.type === "MESSAGES_READ") return markRead(data, frame.reader, frame.up_to_seq, frame.at);
        return data;
      };
      if (client.getQueryData(keys.messages(conversationId)) === undefined) {
        early.current.push(frame); // before the first page: applied once it is in
        return;
      }
      client.setQueryData<InfiniteData<MessagePage>>(keys.messages(conversationId), update);
    },
    [client, conversationId],
  );

  // Events that came before the first page are applied once it is in.
  const loaded = query.data !== undefined;
  useEffect(() => {
    if (!loaded) return;
    const frames = early.current;
    early.current = [];
    frames.filter((frame) => frame.conversation_id === conversationId).forEach(apply);
  }, [loaded, apply]);

  const forget = useCallback((clientMessageId: string) => {
    if (optimistic.current.delete(clientMessageId)) changed();
  }, []);

  useEffect(() => {
    if (!socket) return undefined;
    const offEvent = socket.onEvent((frame) => {
      if (frame.conversation_id !== conversationId) return;
      apply(frame);
      if (frame.type === "MESSAGE_CREATED" && frame.client_message_id) forget(frame.client_message_id);
    });
    const offAck = socket.onAck((ack) => {
      const cmid = ack.client_message_id;
      if (!cmid || ack.seq == null || !ack.message_id) return;
      const pending = optimistic.current.get(cmid);
      if (!pending) return;
      const { local: _local, error: _error, ...message } = pending;
      const confirmed: Message = { ...message, seq: ack.seq, message_id: ack.message_id, position: ack.position };
      client.setQueryData<InfiniteData<MessagePage>>(keys.messages(conversationId), (data) =>
        upsertMessage(data, confirmed),
      );
      forget(cmid);
    });
    const offFailed = socket.onSendFailed(({ clientMessageId, error }) => {
      const pending = optimistic.current.get(clientMessageId);
      if (!pending) return;
      // Refused by the stale-action guard: not a failure to show, the composer offers to send it again.
      if (error.code === "conversation_moved") return forget(clientMessageId);
      optimistic.current.set(clientMessageId, { ...pending, local: "failed", error: error.message });
      changed();
    });
    return () => {
      offEvent();
      offAck();
      offFailed();
    };
  }, [socket, conversationId, apply, forget, client]);

  const { sub } = useSession().identity;
  const send = useCallback(
    (content: string, extra: SendExtra = {}): string | null => {
      if (!socket) return null;
      const clientMessageId = extra.clientMessageId ?? newId("m-");
      const attachment = extra.attachment ?? null;
      const message: ShownMessage = {
        conversation_id: conversationId,
        seq: Number.MAX_SAFE_INTEGER,
        message_id: clientMessageId,
        sender: "admin",
        sender_id: sub,
        message_type: attachment ? (attachment.isImage ? "image" : "file") : "text",
        content,
        attachment: attachment && { url: null, attachment_id: attachment.attachment_id, name: attachment.name, mime_type: attachment.mime_type, size: attachment.size },
        client_message_id: clientMessageId,
        created_at: new Date().toISOString(),
        read_by_staff_at: null,
        read_by_client_at: null,
        position: 0,
        local: "pending",
      };
      optimistic.current.set(clientMessageId, message);
      changed();
      socket.sendMessage({
        type: "SEND_MESSAGE",
        content,
        client_message_id: clientMessageId,
        ...(attachment ? { message_type: message.message_type, attachment: { attachment_id: attachment.attachment_id } } : {}),
        ...(extra.seenVersion !== undefined ? { seen_version: extra.seenVersion } : {}),
      });
      return clientMessageId;
    },
    [socket, conversationId, sub],
  );

  const messages = useMemo<ShownMessage[]>(() => {
    const stored = flattenMessages(query.data);
    const seen = new Set(stored.map((m) => m.client_message_id).filter(Boolean));
    const local = [...optimistic.current.values()].filter((m) => !seen.has(m.client_message_id));
    return [...stored, ...local];
    // `version` changes whenever the ref does.
  }, [query.data, version]);

  return { ...query, messages, send, key };
}
