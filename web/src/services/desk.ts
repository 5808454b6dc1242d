/** The shapes of the desk's own endpoints and inbox frames (docs/QUERIES.md,
 * "Notifications"; docs/PROTOCOL.md, "Notifications" and "The staff
 * directory"): mention notifications, availability, directory changes. */
import type { ServerFrame } from "../types";

export type Availability = "online" | "away" | "offline";

/** One mention notification (`GET /api/notifications`). */
export interface MentionNotification {
  note_id: string;
  conversation_id: string;
  author_id: string;
  author_name: string | null;
  excerpt: string;
  created_at: string;
  /** The note's global position: what `up_to_position` marks read up to. */
  position: number;
  read: boolean;
}

export interface NotificationPage {
  items: MentionNotification[];
  next_before: number | null;
  /** All the caller's unread notifications, not only this page's. */
  unread_count: number;
}

/** A directory command's answer (availability, notifications read). */
export interface DirectoryResult {
  stream_id: string;
  position: number;
  version: number;
  events: string[];
}

export interface NotificationFrame {
  type: "NOTIFICATION";
  note_id: string;
  conversation_id: string;
  author_id: string;
  author_name: string | null;
  excerpt: string;
  position: number;
  at: string;
}

export interface NotificationsReadFrame {
  type: "NOTIFICATIONS_READ";
  position: number;
  agent_id: string;
  up_to_position: number | null;
  note_ids: string[];
}

export interface StaffChangedFrame {
  type: "STAFF_CHANGED";
  position: number;
  change: string;
  agent_id: string | null;
  display_name: string | null;
  availability: Availability | null;
}

export type DeskFrame = NotificationFrame | NotificationsReadFrame | StaffChangedFrame;

/** The inbox socket's frame as one of the desk's, or null. */
export function deskFrame(frame: ServerFrame): DeskFrame | null {
  const type = (frame as { type: string }).type;
  return type === "NOTIFICATION" || type === "NOTIFICATIONS_READ" || type === "STAFF_CHANGED"
    ? (frame as unknown as DeskFrame)
    : null;
}
