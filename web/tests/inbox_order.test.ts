import type { InfiniteData } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import { compareRows, matchesInbox, upsertInboxRow } from "../src/lib/inboxOrder";
import type { Conversation, ConversationPage } from "../src/types";
import { conversationRow } from "./fakes";

/** A row whose last message was `minute` minutes past 09:00 (null: none, started at 09:00). */
function row(id: string, minute: number | null, extra: Partial<Conversation> = {}): Conversation {
  const at = minute === null ? null : `2026-11-24T09:${String(minute).padStart(2, "0")}:00Z`;
  return conversationRow(id, { last_message_at: at, last_update: at ?? "2026-11-24T09:00:00Z", ...extra });
}

function pages(...lists: [Conversation[], string | null][]): InfiniteData<ConversationPage> {
  return { pages: lists.map(([items, next_cursor]) => ({ items, next_cursor })), pageParams: lists.map(() => null) };
}
const ids = (data: InfiniteData<ConversationPage> | undefined) =>
  data?.pages.map((page) => page.items.map((c) => c.conversation_id));

describe("the inbox's order, as the server pages it", () => {
  it("puts the newest last message first, a conversation without messages by its start", () => {
    const rows = [row("a", 5), row("b", null, { created_at: "2026-11-24T09:10:00Z" }), row("c", 20)];
    expect(rows.sort(compareRows()).map((r) => r.conversation_id)).toEqual(["c", "b", "a"]);
  });

  it("breaks ties by the conversation id, descending", () => {
    expect([row("a", 5), row("b", 5)].sort(compareRows("last_message")).map((r) => r.conversation_id)).toEqual(["b", "a"]);
  });

  it("sorts by priority, then last message; by start; and longest waiting first", () => {
    const high = row("h", 1, { priority: "High" });
    const low = row("l", 30, { priority: "Low" });
    expect([low, high].sort(compareRows("priority"))[0]).toBe(high);
    const early = row("e", 1, { created_at: "2026-11-24T08:00:00Z" });
    const late = row("n", 1, { created_at: "2026-11-24T08:30:00Z" });
    expect([early, late].sort(compareRows("created"))[0]).toBe(late);
    const waiting = row("w", 50, { waiting_since: "2026-11-24T09:40:00Z" });
    const longer = row("x", 50, { waiting_since: "2026-11-24T09:20:00Z" });
    const assigned = row("y", 50, { waiting_since: null, created_at: "2026-11-24T07:00:00Z" });
    expect([assigned, waiting, longer].sort(compareRows("waiting")).map((r) => r.conversation_id)).toEqual(["x", "w", "y"]);
  });
});

describe("which rows a filter lists", () => {
  it("follows the tabs' assignee: mine, unassigned, an agent", () => {
    const mine = row("a", 1, { assignee_id: "bob" });
    const nobody = row("b", 1, { assignee_id: null });
    expect(matchesInbox(mine, { assignee: "me" }, "bob")).toBe(true);
    expect(matchesInbox(mine, { assignee: "me" }, "alice")).toBe(false);
    expect(matchesInbox(nobody, { assignee: "unassigned" })).toBe(true);
    expect(matchesInbox(mine, { assignee: "unassigned" })).toBe(false);
    expect(matchesInbox(mine, { assignee: "bob" })).toBe(true);
    expect(matchesInbox(nobody, { assignee: "bob" })).toBe(false);
  });

  it("follows team, label, status, priority and the client's name; never a deleted row", () => {
    const labelled = row("a", 1, { team_id: "t1", labels: [{ label_id: "vip", name: "VIP", colour: "#f00" }], client_name: "Carol Jensen" });
    expect(matchesInbox(labelled, { team: "t1", label: "vip", q: "jens" })).toBe(true);
    expect(matchesInbox(labelled, { team: "t2" })).toBe(false);
    expect(matchesInbox(labelled, { label: "billing" })).toBe(false);
    expect(matchesInbox(labelled, { status: "snoozed" })).toBe(false);
    expect(matchesInbox(labelled, { priority: "High" })).toBe(false);
    expect(matchesInbox({ ...labelled, deleted: true }, {})).toBe(false);
  });
});

describe("a live row in the cached inbox", () => {
  const cached = () => pages([[row("c", 30), row("b", 20)], "next"], [[row("a", 10)], null]);

  it("stays in place when its priority changes (only messages move a row)", () => {
    const changed = { ...row("a", 10, { priority: "High", last_update: "2026-11-24T10:00:00Z" }), position: 9 };
    expect(ids(upsertInboxRow(cached(), changed, {}))).toEqual([["c", "b"], ["a"]]);
  });

  it("moves to the top with a new message, and is added when new", () => {
    expect(ids(upsertInboxRow(cached(), { ...row("a", 40), position: 9 }, {}))).toEqual([["a", "c", "b"], []]);
    expect(ids(upsertInboxRow(cached(), { ...row("d", 25), position: 9 }, {}))).toEqual([["c", "d", "b"], ["a"]]);
  });

  it("is dropped when it no longer matches, and ignored when older than the cached one", () => {
    const closed = { ...row("b", 20, { status: "closed" }), position: 9 };
    expect(ids(upsertInboxRow(cached(), closed, { status: "active" }))).toEqual([["c"], ["a"]]);
    const stale = { ...row("c", 50), position: 0 };
    const data = pages([[{ ...row("c", 30), position: 5 }], null]);
    expect(upsertInboxRow(data, stale, {})).toBe(data);
  });

  it("is left to a later page when it sorts past the loaded end", () => {
    const loaded = pages([[row("c", 30), row("b", 20)], "next"]);
    const old = { ...row("z", 1), position: 9 };
    expect(ids(upsertInboxRow(loaded, old, {}))).toEqual([["c", "b"]]);
  });
});
