/** The tab's title with the viewer's unread total: "(3) Parley". Counted over
 * every conversation row the page knows (the inbox lists it has loaded, the
 * open conversation), each once, by the viewer's own unread (`my_unread`;
 * `unread_for_staff` from a server before per-agent reads). Live: the rows
 * are kept fresh by the inbox socket. */
import { useQueryClient, type QueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import type { Conversation } from "../types";

/** The viewer's unread in a row: what badges show. */
export function unreadOf(row: Pick<Conversation, "unread_for_staff" | "my_unread">): number {
  return row.my_unread ?? row.unread_for_staff ?? 0;
}

function isRow(value: unknown): value is Conversation {
  return typeof value === "object" && value !== null && "conversation_id" in value && "position" in value;
}

/** Every cached row, the newest copy of each conversation. */
function knownRows(client: QueryClient): Map<string, Conversation> {
  const rows = new Map<string, Conversation>();
  const keep = (row: Conversation) => {
    const old = rows.get(row.conversation_id);
    if (!old || old.position < row.position) rows.set(row.conversation_id, row);
  };
  for (const query of client.getQueryCache().getAll()) {
    const [head] = query.queryKey;
    if (head !== "conversations" && head !== "conversation") continue;
    const data: unknown = query.state.data;
    if (isRow(data)) keep(data);
    const pages = (data as { pages?: unknown } | undefined)?.pages;
    if (!Array.isArray(pages)) continue;
    for (const page of pages) {
      const items = (page as { items?: unknown } | null)?.items;
      if (Array.isArray(items)) items.filter(isRow).forEach(keep);
    }
  }
  return rows;
}

export function unreadTotal(client: QueryClient): number {
  let total = 0;
  for (const row of knownRows(client).values()) if (!row.deleted) total += unreadOf(row);
  return total;
}

export function titleFor(total: number, base = "Parley"): string {
  return total > 0 ? `(${total}) ${base}` : base;
}

export function useUnreadTitle(base = "Parley"): void {
  const client = useQueryClient();
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const update = () => {
      timer = null;
      document.title = titleFor(unreadTotal(client), base);
    };
    // Cache changes come in bursts (a page of rows, a run of events): count once per burst.
    const off = client.getQueryCache().subscribe(() => {
      if (timer === null) timer = setTimeout(update, 100);
    });
    update();
    return () => {
      off();
      if (timer !== null) clearTimeout(timer);
      document.title = base;
    };
  }, [client, base]);
}
