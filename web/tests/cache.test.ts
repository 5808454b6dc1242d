import type { InfiniteData } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import { applyToConversation, flattenMessages, markRead, upsertMessage } from "../src/lib/cache";
import { matchesInbox as matches } from "../src/lib/inboxOrder";
import type { Conversation, Message, MessagePage } from "../src/types";

const base: Message = {
  conversation_id: "c1",
  seq: 1,
  message_id: "m1",
  sender: "client",
  sender_id: "carol",
  message_type: "text",
  content: "hi",
  attachment: null,
  client_message_id: null,
  created_at: "2026-11-24T10:00:00Z",
  read_by_staff_at: null,
  read_by_client_at: null,
  position: 1,
};
const m = (seq: number, extra: Partial<Message> = {}): Message => ({ ...base, seq, message_id: `m${seq}`, ...extra });
const data = (...pages: Message[][]): InfiniteData<MessagePage> => ({
  pages: pages.map((items) => ({ items, next_before: null })),
  pageParams: pages.map(() => null),
});

describe("message cache", () => {
  it("ignores a message older than the loaded window (infinite scroll brings it)", () => {
    const cached = data([m(5), m(6)]);
    expect(upsertMessage(cached, m(2))).toBe(cached);
    expect(flattenMessages(upsertMessage(cached, m(7))).map((x) => x.seq)).toEqual([5, 6, 7]);
  });

  it("marks only the other side's messages read, up to the seq", () => {
    const cached = data([m(1), m(2, { sender: "admin" }), m(3)]);
    const staffRead = flattenMessages(markRead(cached, "admin", 2, "t"));
    expect(staffRead.map((x) => x.read_by_staff_at)).toEqual(["t", null, null]);
    const clientRead = flattenMessages(markRead(cached, "client", 3, "t"));
    expect(clientRead.map((x) => x.read_by_client_at)).toEqual([null, "t", null]);
  });
});

describe("conversation cache", () => {
  const row = { conversation_id: "c1", client_name: "Carol Jensen", status: "active", priority: "High", deleted: false, position: 3, version: 2 } as Conversation;

  it("matches the inbox filters", () => {
    expect(matches(row, { q: "jens" })).toBe(true);
    expect(matches(row, { q: "dave" })).toBe(false);
    expect(matches(row, { status: "closed" })).toBe(false);
    expect(matches(row, { priority: "High", status: "active" })).toBe(true);
    expect(matches({ ...row, deleted: true }, {})).toBe(false);
  });

  it("follows status and priority events, never going back", () => {
    const at = { conversation_id: "c1", stream_position: 4, at: "t" };
    const closed = applyToConversation(row, { ...at, type: "STATUS_CHANGED", position: 4, from: "active", to: "closed" });
    expect(closed?.status).toBe("closed");
    expect([closed?.position, closed?.version]).toEqual([4, 4]); // the row follows the stream
    const stale = applyToConversation(closed, { ...at, type: "CONVERSATION_UPDATED", position: 2, change: "updated", priority: "Low" });
    expect(stale?.priority).toBe("High");
  });

  it("keeps a snooze's until, and drops it when the conversation wakes", () => {
    const at = { conversation_id: "c1", at: "t", reason: null };
    const snoozed = applyToConversation(row, { ...at, type: "STATUS_CHANGED", stream_position: 4, position: 4, from: "active", to: "snoozed", until: "2026-11-25T09:00:00Z" });
    expect([snoozed?.status, snoozed?.snoozed_until]).toEqual(["snoozed", "2026-11-25T09:00:00Z"]);
    expect(matches(snoozed as Conversation, { status: "snoozed" })).toBe(true);
    const woke = applyToConversation(snoozed, { ...at, type: "STATUS_CHANGED", stream_position: 5, position: 5, from: "snoozed", to: "active", reason: "timer", until: null });
    expect([woke?.status, woke?.snoozed_until]).toEqual(["active", null]);
  });
});
