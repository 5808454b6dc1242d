/** The shapes of Parley's HTTP API and WebSocket frames (docs/QUERIES.md, docs/PROTOCOL.md). */

/** `snoozed` is reached only by the snooze endpoint; the others by `PATCH …/status`. */
export type Status = "active" | "pending" | "snoozed" | "closed";
export type SettableStatus = Exclude<Status, "snoozed">;
export type Priority = "Low" | "Medium" | "High";
export type Channel = "whatsapp" | "email" | "web";
export type Sender = "admin" | "client" | "system";
export type MessageType = "text" | "image" | "file";

export const STATUSES: readonly Status[] = ["active", "pending", "snoozed", "closed"];
export const PRIORITIES: readonly Priority[] = ["Low", "Medium", "High"];
export const CHANNELS: readonly Channel[] = ["web", "whatsapp", "email"];

export interface Attachment {
  /** null for an upload (`attachment_id`): ask `GET /api/attachments/{id}/url` for a signed one. */
  url: string | null;
  name?: string | null;
  mime_type?: string | null;
  attachment_id?: string | null;
  size?: number | null;
}

export interface Conversation {
  conversation_id: string;
  client_id: string;
  client_name: string;
  channel: Channel;
  priority: Priority;
  status: Status;
  /** While snoozed: when it wakes at the latest (RFC 3339); else null. */
  snoozed_until?: string | null;
  summary: string | null;
  created_at: string;
  last_update: string;
  last_message_preview: string | null;
  last_message_at: string | null;
  message_count: number;
  unread_for_staff: number;
  unread_for_client: number;
  /** The viewer's own unread (staff: the client messages after their own read
   * cursor): what a badge shows. Missing from a server before per-agent reads. */
  my_unread?: number;
  /** The side of the last message, and who wrote it (a staff member's display name, the client's name). */
  last_message_sender?: Sender | null;
  last_message_sender_name?: string | null;
  deleted: boolean;
  /** The global position of the last event folded into this row. */
  position: number;
  /** That event's stream_position: how far the conversation's stream has got.
   * The conversation socket opened with `after=version` sends only what is newer. */
  version: number;
  assignee_id?: string | null;
  /** The assignee's display name (their id when they have none). */
  assignee_name?: string | null;
  team_id?: string | null;
  team_name?: string | null;
  /** Since when it has been open without an agent; null when it has one or is closed. */
  waiting_since?: string | null;
  labels?: Label[];
  /** Set once merged into another conversation (closed for good). */
  merged_into?: string | null;
}

/** A label of the catalogue (`GET /api/labels`), as rows carry it. */
export interface Label {
  label_id: string;
  name: string;
  colour: string;
}

/** A team (`GET /api/teams`). */
export interface Team {
  team_id: string;
  name: string;
}

/** The inbox's orders (docs/QUERIES.md): `last_message` is the default. */
export type Sort = "last_message" | "created" | "priority" | "waiting";

export interface ConversationPage {
  items: Conversation[];
  next_cursor: string | null;
  total?: number | null;
  /** False when `total` is a floor ("1,000+"). */
  total_exact?: boolean | null;
}

export interface Message {
  conversation_id: string;
  seq: number;
  message_id: string;
  sender: Sender;
  sender_id: string;
  message_type: MessageType;
  content: string;
  attachment: Attachment | null;
  client_message_id: string | null;
  created_at: string;
  read_by_staff_at: string | null;
  read_by_client_at: string | null;
  position: number;
  /** A staff sender's display name (else their id), the client's name; null for the system. */
  sender_name?: string | null;
}

export interface MessagePage {
  items: Message[];
  next_before: number | null;
}

export interface CommandResult {
  conversation_id: string;
  position: number;
  version: number;
  events: string[];
  message_id?: string | null;
  seq?: number | null;
  replayed: boolean;
}

export interface ConversationFilters {
  status?: Status | undefined;
  priority?: Priority | undefined;
  q?: string | undefined;
  /** `me`, `unassigned` or an agent's id; unset: anyone's. */
  assignee?: string | undefined;
  team?: string | undefined;
  label?: string | undefined;
  channel?: Channel | undefined;
  sort?: Sort | undefined;
}

/** One agent in the staff directory (`GET /api/agents`). */
export interface Agent {
  agent_id: string;
  display_name: string;
  availability: string;
  online: boolean;
}

/** A system entry of the staff timeline (`GET /api/conversations/{id}/timeline`). */
export interface SystemEntry {
  kind: "system";
  conversation_id: string;
  position: number;
  created_at: string;
  event_type: string;
  by: string | null;
  by_name: string | null;
  details: Record<string, unknown>;
}

/** The timeline's page: messages, notes and system entries in log order (only system entries typed here). */
export interface TimelinePage {
  items: ({ kind: "message" | "note"; position: number } | SystemEntry)[];
  next_after: number | null;
  reached: number;
}

export interface StartConversationInput {
  client: { id: string; name: string };
  channel: Channel;
  priority?: Priority;
  summary?: string | null;
  conversation_id?: string;
  command_id?: string;
}

export interface SendMessageInput {
  conversation_id: string;
  content: string;
  message_type?: MessageType;
  attachment?: Attachment | null;
  client_message_id?: string;
  command_id?: string;
}

export * from "./frames";
