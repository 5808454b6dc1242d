/** Pure updates of cached query data from live events (no refetch). */
import type { InfiniteData } from "@tanstack/react-query";
import type {
  Conversation,
  ConversationFilters,
  ConversationPage,
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

export function matches(row: Conversation, filters: ConversationFilters): boolean {
  if (row.deleted) return false;
  if (filters.status && row.status !== filters.status) return false;
  if (filters.priority && row.priority !== filters.priority) return false;
  const q = filters.q?.trim().toLowerCase();
  if (q && !row.client_name.toLowerCase().includes(q)) return false;
  return true;
}

function newer(a: Conversation, b: Conversation): number {
  return b.last_update.localeCompare(a.last_update) || b.conversation_id.localeCompare(a.conversation_id);
}

/** Put a fresh inbox row where it belongs: replaced in place, moved to the top
 * when it was bumped, added when new, dropped when it no longer matches. */
export function upsertRow(
  data: InfiniteData<ConversationPage> | undefined,
  row: Conversation,
  filters: ConversationFilters,
): InfiniteData<ConversationPage> | undefined {
  if (!data) return data;
  const old = data.pages.flatMap((page) => page.items).find((c) => c.conversation_id === row.conversation_id);
  if (old && old.position > row.position) return data; // an older row than we have
  const keep = matches(row, filters);
  const pages = data.pages.map((page) => ({
    ...page,
    items: page.items.filter((c) => c.conversation_id !== row.conversation_id),
  }));
  if (keep) {
    const first = pages[0];
    if (first) {
      // Rows are sorted by last_update: a bumped or new row goes to the first page.
      const target = old && old.last_update === row.last_update ? pageOf(data, row.conversation_id) : 0;
      const page = pages[target] ?? first;
      page.items = [...page.items, row].sort(newer);
    }
  }
  return { ...data, pages };
}

function pageOf(data: InfiniteData<ConversationPage>, id: string): number {
  return Math.max(
    0,
    data.pages.findIndex((page) => page.items.some((c) => c.conversation_id === id)),
  );
}

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
