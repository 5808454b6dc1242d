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
  url: string;
  name?: string | null;
  mime_type?: string | null;
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

// -- WebSocket frames ------------------------------------------------------------

interface EventBase {
  conversation_id: string;
  stream_position: number;
  position: number;
  at: string;
}

export interface MessageCreatedFrame extends EventBase {
  type: "MESSAGE_CREATED";
  message_id: string;
  seq: number;
  sender: Sender;
  sender_id: string;
  message_type: MessageType;
  content: string;
  attachment?: Attachment | null;
  client_message_id?: string | null;
  /** A staff sender's display name; null for a client or an unnamed sender. */
  sender_name?: string | null;
}

export interface MessagesReadFrame extends EventBase {
  type: "MESSAGES_READ";
  reader: "admin" | "client";
  reader_id: string;
  up_to_seq: number;
}

export interface StatusChangedFrame extends EventBase {
  type: "STATUS_CHANGED";
  from: Status;
  to: Status;
  /** A wake-up (`snoozed` → `active`): `timer` or `client_message`. */
  reason?: string | null;
  /** Set when `to` is `snoozed`: until when; null otherwise. */
  until?: string | null;
}

export interface ConversationUpdatedFrame extends EventBase {
  type: "CONVERSATION_UPDATED";
  change: "started" | "updated" | "deleted";
  priority?: Priority;
  summary?: string | null;
  status?: Status;
  client_id?: string;
  client_name?: string;
  channel?: Channel;
}

export type EventFrame =
  | MessageCreatedFrame
  | MessagesReadFrame
  | StatusChangedFrame
  | ConversationUpdatedFrame;

export interface ReadyFrame {
  type: "READY";
  /** null on the inbox socket */
  conversation_id: string | null;
  /** the conversation's head; null on the inbox socket */
  stream_position: number | null;
  /** the log's head on the inbox socket; 0 on a conversation socket */
  position: number;
  /** staff on a conversation socket: who is connected to it now; null otherwise */
  online?: OnlineUser[] | null;
}
export interface OnlineUser {
  user_id: string;
  role: string;
  /** when their earliest open socket on the conversation connected */
  since: string;
  connections: number;
}
export interface AckFrame {
  type: "ACK";
  ref?: string | null;
  client_message_id?: string | null;
  message_id?: string | null;
  seq?: number | null;
  position: number;
  replayed: boolean;
}
export interface ErrorFrame {
  type: "ERROR";
  code: string;
  message: string;
  ref?: string | null;
  field?: string | null;
  retry_after?: number | null;
}
export interface TypingFrame {
  type: "TYPING";
  conversation_id: string;
  user_id: string;
  role: string;
  state: "started" | "stopped";
}
/** Someone's first socket on a conversation opened (`joined`), or their last closed (`left`). */
export interface PresenceFrame {
  type: "PRESENCE";
  conversation_id: string;
  user_id: string;
  role: string;
  state: "joined" | "left";
}
export interface ConversationRowFrame {
  type: "CONVERSATION_ROW";
  conversation: Conversation;
}

export type ServerFrame =
  | EventFrame
  | ReadyFrame
  | AckFrame
  | ErrorFrame
  | TypingFrame
  | ConversationRowFrame
  | PresenceFrame
  | { type: "PONG"; ref?: string | null }
  | { type: "HEARTBEAT" };

export interface SendMessageFrame {
  type: "SEND_MESSAGE";
  content: string;
  message_type?: MessageType;
  attachment?: Attachment | null;
  client_message_id: string;
  ref?: string;
}

export type ClientFrame =
  | SendMessageFrame
  | { type: "MARK_READ"; up_to_seq?: number; ref?: string }
  | { type: "TYPING_START" }
  | { type: "TYPING_STOP" }
  | { type: "PING"; ref?: string };

export function isEventFrame(frame: ServerFrame): frame is EventFrame {
  return (
    frame.type === "MESSAGE_CREATED" ||
    frame.type === "MESSAGES_READ" ||
    frame.type === "STATUS_CHANGED" ||
    frame.type === "CONVERSATION_UPDATED"
  );
}
