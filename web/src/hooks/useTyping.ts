/** Typing: who else is typing here (from TYPING frames), and our own
 * keystrokes turned into at most one typing event per second. */
import { useEffect, useMemo, useState } from "react";
import type { ParleySocket } from "../services/socket";
import { TypingEmitter } from "../services/typing";

/** Forget an indicator nobody refreshed or stopped (the server stops them after 15 s). */
const STALE_MS = 20_000;

export function useTypingIndicator(socket: ParleySocket | null, selfId: string): string[] {
  const [typists, setTypists] = useState<Map<string, number>>(new Map());
  useEffect(() => {
    if (!socket) return undefined;
    const remove = (user: string) =>
      setTypists((old) => {
        if (!old.has(user)) return old;
        const next = new Map(old);
        next.delete(user);
        return next;
      });
    const offFrame = socket.onFrame((frame) => {
      if (frame.type !== "TYPING" || frame.user_id === selfId) return;
      if (frame.state === "started") setTypists((old) => new Map(old).set(frame.user_id, Date.now()));
      else remove(frame.user_id);
    });
    // A message from a typist ends their indicator.
    const offEvent = socket.onEvent((frame) => {
      if (frame.type === "MESSAGE_CREATED") remove(frame.sender_id);
    });
    const offState = socket.onState((state) => {
      if (state !== "connected") setTypists(new Map());
    });
    const sweep = setInterval(() => {
      setTypists((old) => {
        const now = Date.now();
        const fresh = [...old].filter(([, at]) => now - at < STALE_MS);
        return fresh.length === old.size ? old : new Map(fresh);
      });
    }, 5000);
    return () => {
      offFrame();
      offEvent();
      offState();
      clearInterval(sweep);
      setTypists(new Map());
    };
  }, [socket, selfId]);
  return useMemo(() => [...typists.keys()], [typists]);
}

export function useTypingSender(socket: ParleySocket | null): TypingEmitter | null {
  const emitter = useMemo(
    () => (socket ? new TypingEmitter({ emit: (type) => socket.send({ type }) }) : null),
    [socket],
  );
  useEffect(() => () => emitter?.dispose(), [emitter]);
  return emitter;
}
