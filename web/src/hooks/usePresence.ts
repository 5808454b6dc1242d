/** Who is connected to a conversation now (docs/PROTOCOL.md, "Presence"): the
 * staff socket's READY says who is there (`online`), PRESENCE frames follow
 * who joins and leaves. Known only while the socket is connected: an empty
 * list and `known: false` otherwise (offline, we cannot tell). */
import { useEffect, useState } from "react";
import type { ParleySocket } from "../services/socket";
import type { ReadyFrame } from "../types";

export interface Present {
  userId: string;
  role: string;
}

const fromReady = (frame: ReadyFrame): Present[] =>
  (frame.online ?? []).map((user) => ({ userId: user.user_id, role: user.role }));

export function usePresence(socket: ParleySocket | null, conversationId: string): { online: Present[]; known: boolean } {
  const [online, setOnline] = useState<Present[] | null>(null);
  useEffect(() => {
    if (!socket) return undefined;
    // READY may have come before this subscription.
    if (socket.state === "connected" && socket.lastReady) setOnline(fromReady(socket.lastReady));
    const offFrame = socket.onFrame((frame) => {
      if (frame.type === "READY") {
        setOnline(fromReady(frame));
      } else if (frame.type === "PRESENCE" && frame.conversation_id === conversationId) {
        setOnline((now) => {
          const others = (now ?? []).filter((user) => user.userId !== frame.user_id);
          return frame.state === "joined" ? [...others, { userId: frame.user_id, role: frame.role }] : others;
        });
      }
    });
    const offState = socket.onState((state) => {
      if (state !== "connected") setOnline(null); // READY will say again
    });
    return () => {
      offFrame();
      offState();
      setOnline(null);
    };
  }, [socket, conversationId]);
  return { online: online ?? [], known: online !== null };
}
