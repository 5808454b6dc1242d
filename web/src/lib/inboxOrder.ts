/** Where a live inbox row belongs in a cached list: the filters the server
 * applies and the order it pages in (read_api/inbox_queries.py), so a row the
 * inbox socket sends lands where the next fetch would put it. Only messages
 * move a row in the default order: a priority or status change leaves it in
 * place (issue 20, point 5). */
import type { InfiniteData } from "@tanstack/react-query";
import type { Conversation, ConversationFilters, ConversationPage, Priority, Sort } from "../types";

const RANK: Record<Priority, number> = { High: 3, Medium: 2, Low: 1 };

const time = (iso: string | null | undefined): number => (iso ? Date.parse(iso) : 0);
/** Newest message first; a conversation without messages by its start (`activity_at`). */
const activity = (row: Conversation): number => time(row.last_message_at ?? row.created_at);
const byId = (a: Conversation, b: Conversation): number =>
  a.conversation_id < b.conversation_id ? -1 : a.conversation_id > b.conversation_id ? 1 : 0;

/** The server's order for `sort`, its tie-break the conversation id (descending
 * with the descending sorts). Negative: `a` comes first. */
export function compareRows(sort: Sort = "last_message"): (a: Conversation, b: Conversation) => number {
  switch (sort) {
    case "created":
      return (a, b) => time(b.created_at) - time(a.created_at) || byId(b, a);
    case "priority":
      return (a, b) => RANK[b.priority] - RANK[a.priority] || activity(b) - activity(a) || byId(b, a);
    case "waiting": {
      // Waiting rows first, longest waiting first; then the others, oldest started first.
      const waiting = (row: Conversation) => (row.waiting_since ? 0 : 1);
      const queued = (row: Conversation) => time(row.waiting_since ?? row.created_at);
      return (a, b) => waiting(a) - waiting(b) || queued(a) - queued(b) || byId(a, b);
    }
    default:
      return (a, b) => activity(b) - activity(a) || byId(b, a);
  }
}

/** Whether the server would list `row` under `filters`, as seen by the staff member `me`. */
export function matchesInbox(row: Conversation, filters: ConversationFilters, me: string | null = null): boolean {
  if (row.deleted) return false;
  if (filters.status && row.status !== filters.status) return false;
  if (filters.priority && row.priority !== filters.priority) return false;
  if (filters.channel && row.channel !== filters.channel) return false;
  if (filters.team && row.team_id !== filters.team) return false;
  if (filters.label && !(row.labels ?? []).some((label) => label.label_id === filters.label)) return false;
  const assignee = row.assignee_id ?? null;
  if (filters.assignee === "unassigned" && assignee !== null) return false;
  if (filters.assignee === "me" && assignee !== me) return false;
  if (filters.assignee && !["me", "unassigned"].includes(filters.assignee) && assignee !== filters.assignee) return false;
  const q = filters.q?.trim().toLowerCase();
  if (q && !row.client_name.toLowerCase().includes(q)) return false;
  return true;
}

/** Put a fresh row where it belongs: replaced, moved, added or dropped. A row
 * that sorts after the last loaded one (while more pages remain) is left to
 * the page that will bring it. */
export function upsertInboxRow(
  data: InfiniteData<ConversationPage> | undefined,
  row: Conversation,
  filters: ConversationFilters,
  me: string | null = null,
): InfiniteData<ConversationPage> | undefined {
  if (!data) return data;
  const id = row.conversation_id;
  const old = data.pages.flatMap((page) => page.items).find((c) => c.conversation_id === id);
  if (old && old.position > row.position) return data; // older than what we have
  const pages = data.pages.map((page) => ({ ...page, items: page.items.filter((c) => c.conversation_id !== id) }));
  if (!matchesInbox(row, filters, me)) return old ? { ...data, pages } : data;
  const order = compareRows(filters.sort);
  // The first page whose last row sorts after this one; else the last page, when it is the end.
  let target = pages.findIndex((page) => {
    const last = page.items[page.items.length - 1];
    return last !== undefined && order(row, last) < 0;
  });
  const lastPage = pages[pages.length - 1];
  if (target === -1 && lastPage && lastPage.next_cursor === null) target = pages.length - 1;
  const page = pages[target];
  if (!page) return { ...data, pages };
  page.items = [...page.items, row].sort(order);
  return { ...data, pages };
}
