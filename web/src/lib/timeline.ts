/** The chat's timeline: messages with the status changes between them, and
 * how a status change reads. */
import type { ShownMessage } from "../hooks/useMessages";
import type { SystemEntry } from "../types";
import { soonWhen } from "./format";

export type TimelineItem = { kind: "message"; message: ShownMessage } | { kind: "status"; entry: SystemEntry };

/** Entries go before the first message written after them (by global position);
 * messages still waiting for their ACK stay last. */
export function interleave(messages: ShownMessage[], entries: SystemEntry[]): TimelineItem[] {
  const pending = [...entries].sort((a, b) => a.position - b.position);
  const items: TimelineItem[] = [];
  const flushBefore = (position: number) => {
    while (pending[0] && pending[0].position < position) items.push({ kind: "status", entry: pending.shift() as SystemEntry });
  };
  for (const message of messages.filter((m) => !m.local)) {
    flushBefore(message.position);
    items.push({ kind: "message", message });
  }
  flushBefore(Number.POSITIVE_INFINITY);
  for (const message of messages.filter((m) => m.local)) items.push({ kind: "message", message });
  return items;
}

const text = (value: unknown): string | null => (typeof value === "string" && value.trim() ? value : null);

/** "Alice Martin closed the conversation", with the reason apart. */
export function describeEntry(entry: SystemEntry, now: Date = new Date()): { text: string; reason: string | null } {
  const who = entry.by_name ?? entry.by ?? "Someone";
  const details = entry.details;
  const reason = text(details.reason);
  switch (entry.event_type) {
    case "ConversationSnoozed": {
      const until = text(details.until);
      return { text: `${who} snoozed the conversation${until ? ` until ${soonWhen(until, now)}` : ""}`, reason: null };
    }
    case "ConversationWoke":
      return {
        text: reason === "client_message" ? "The conversation woke up: the client wrote" : "The conversation woke up: its snooze ended",
        reason: null,
      };
    default: {
      const to = text(details.to);
      const from = text(details.from);
      const done =
        to === "closed"
          ? "closed the conversation"
          : to === "active" && from === "closed"
            ? "reopened the conversation"
            : to === "active" && from === "snoozed"
              ? "unsnoozed the conversation"
              : `marked the conversation ${to ?? "changed"}`;
      return { text: `${who} ${done}`, reason };
    }
  }
}
