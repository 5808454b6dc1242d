/** What a screen reader should hear of new messages in the open
 * conversation: each message that someone else writes, as it arrives live. */
import { useEffect, useState } from "react";
import type { ParleySocket } from "../services/socket";
import type { MessageCreatedFrame } from "../types";

const EXCERPT = 140;

export function announcementOf(frame: MessageCreatedFrame, senderName: string): string {
  const content = frame.content.length > EXCERPT ? `${frame.content.slice(0, EXCERPT)}…` : frame.content;
  const what = frame.message_type === "text" ? content : `${frame.message_type === "image" ? "an image" : "a file"} ${content}`;
  return `New message from ${senderName}: ${what}`.trim();
}

/** `nameOf` names a message's sender (the client's name, a colleague's display name). */
export function useAnnouncement(
  socket: ParleySocket | null,
  selfId: string,
  nameOf: (frame: MessageCreatedFrame) => string,
): string {
  const [text, setText] = useState("");
  useEffect(() => {
    if (!socket) return undefined;
    return socket.onEvent((frame) => {
      if (frame.type !== "MESSAGE_CREATED" || frame.sender === "system" || frame.sender_id === selfId) return;
      setText(announcementOf(frame, nameOf(frame)));
    });
  }, [socket, selfId, nameOf]);
  return text;
}
