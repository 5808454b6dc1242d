/** The timeline with private notes: each note goes before the first item
 * written after it (by global position); messages waiting for their ACK stay last. */
import type { Note } from "../services/composer";
import type { TimelineItem } from "./timeline";

export type ChatItem = TimelineItem | { kind: "note"; note: Note };

const positionOf = (item: TimelineItem): number | null =>
  item.kind === "message" ? (item.message.local ? null : item.message.position) : item.entry.position;

export function withNotes(items: TimelineItem[], notes: Note[]): ChatItem[] {
  if (notes.length === 0) return items;
  const pending = [...notes].sort((a, b) => a.position - b.position);
  const out: ChatItem[] = [];
  for (const item of items) {
    const position = positionOf(item);
    if (position === null) {
      while (pending[0]) out.push({ kind: "note", note: pending.shift() as Note });
    } else {
      while (pending[0] && pending[0].position < position) out.push({ kind: "note", note: pending.shift() as Note });
    }
    out.push(item);
  }
  while (pending[0]) out.push({ kind: "note", note: pending.shift() as Note });
  return out;
}
