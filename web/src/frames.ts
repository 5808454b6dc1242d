/** The WebSocket frames (docs/PROTOCOL.md); `types.ts` re-exports them. */
import type { Attachment, Channel, Conversation, MessageType, Priority, Sender, Status } from "./types";

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
  attachment?: Attachment | { attachment_id: string } | null;
  client_message_id: string;
  /** The stale-action guard: the conversation version the sender saw (docs/PROTOCOL.md). */
  seen_version?: number;
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
