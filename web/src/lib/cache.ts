/** Pure updates of cached query data from live events (no refetch). */
import type { InfiniteData } from "@tanstack/react-query";
import type {
  Conversation,
  ConversationFilters,
  EventFrame,
  Message,
  MessagePage,
} from "../types";

export const keys = {
  conversations: (filters: ConversationFilters) => ["conversations", filters] as const,
  allConversations: ["conversations"] as const,
  conversation: (id: string) => ["conversation", id] as const,
  messages: (id: string) => ["messages", id] as const,
};

/** A conversation's header data after one of its events. */
export function applyToConversation(conversation: Conversation | undefined, frame: EventFrame): Conversation | undefined {
  if (!conversation || frame.position <= conversation.position) return conversation;
  switch (frame.type) {
    case "STATUS_CHANGED":
      return {
        ...conversation,
        status: frame.to,
        // A snooze says until when; a wake-up or any other change ends it.
        snoozed_until: frame.to === "snoozed" ? (frame.until ?? null) : null,
        position: frame.position,
        version: frame.stream_position,
      };
    case "CONVERSATION_UPDATED":
      return {
        ...conversation,
        ...(frame.priority ? { priority: frame.priority } : {}),
        ...(frame.summary !== undefined ? { summary: frame.summary } : {}),
        ...(frame.change === "deleted" ? { deleted: true } : {}),
        position: frame.position,
        version: frame.stream_position,
      };
    default:
      return conversation;
  }
}

// -- messages (pages newest first; items oldest first within a page) ----------------------

export function flattenMessages(data: InfiniteData<MessagePage> | undefined): Message[] {
  if (!data) return [];
  return [...data.pages].reverse().flatMap((page) => page.items);
}

/** Insert (or replace, by seq) a message: only at the live end — an older seq
 * outside the loaded window is left to infinite scroll. */
export function upsertMessage(
  data: InfiniteData<MessagePage> | undefined,
  message: Message,
): InfiniteData<MessagePage> | undefined {
  if (!data) return data;
  let found = false;
  const pages = data.pages.map((page) => {
    if (!page.items.some((m) => m.seq === message.seq)) return page;
    found = true;
    return { ...page, items: page.items.map((m) => (m.seq === message.seq ? { ...m, ...message } : m)) };
  });
  if (found) return { ...data, pages };
  const oldest = flattenMessages(data)[0];
  if (oldest && message.seq < oldest.seq) return data; // older than the loaded window
  const [first, ...rest] = pages;
  const head: MessagePage = first ?? { items: [], next_before: null };
  const items = [...head.items, message].sort((a, b) => a.seq - b.seq);
  return { ...data, pages: [{ ...head, items }, ...rest] };
}

export function messageFromFrame(frame: EventFrame & { type: "MESSAGE_CREATED" }): Message {
  return {
    conversation_id: frame.conversation_id,
    seq: frame.seq,
    message_id: frame.message_id,
    sender: frame.sender,
    sender_id: frame.sender_id,
    message_type: frame.message_type,
    content: frame.content,
    attachment: frame.attachment ?? null,
    client_message_id: frame.client_message_id ?? null,
    created_at: frame.at,
    read_by_staff_at: null,
    read_by_client_at: null,
    position: frame.position,
    sender_name: frame.sender_name ?? null,
  };
}

/** MESSAGES_READ: the other side's messages up to `up_to_seq` are read. */
export function markRead(
  data: InfiniteData<MessagePage> | undefined,
  reader: "admin" | "client",
  upToSeq: number,
  at: string,
): InfiniteData<MessagePage> | undefined {
  if (!data) return data;
  const field = reader === "admin" ? "read_by_staff_at" : "read_by_client_at";
  const readable = (m: Message) => (reader === "admin" ? m.sender === "client" : m.sender !== "client");
  return {
    ...data,
    pages: data.pages.map((page) => ({
      ...page,
      items: page.items.map((m) => (m.seq <= upToSeq && readable(m) && !m[field] ? { ...m, [field]: at } : m)),
    })),
  };
}
