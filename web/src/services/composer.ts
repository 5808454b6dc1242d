/** Shapes of what the composer uses besides messages: notes, canned responses
 * (docs/COMMANDS.md, "Private notes and mentions", docs/QUERIES.md). */
import type { CommandResult } from "../types";

/** `POST /api/conversations/{id}/notes`'s answer. */
export interface NoteResult extends CommandResult {
  note_id: string;
  mentions: string[];
}

/** One entry of `GET /api/canned-responses`. */
export interface CannedResponse {
  response_id: string;
  code: string;
  content: string;
  shared: boolean;
}

/** A private note as the staff timeline (`kind: "note"`) and NOTE_ADDED frames give it. */
export interface Note {
  note_id: string;
  conversation_id: string;
  author_id: string;
  author_name: string | null;
  content: string;
  mentions: string[];
  position: number;
  created_at: string;
}

/** `GET /api/attachments/{id}` (docs/ATTACHMENTS.md). */
export interface AttachmentInfo {
  attachment_id: string;
  name: string;
  mime_type: string;
  size: number;
  status: "checking" | "ready" | "rejected";
  thumbnail: boolean;
}
