/** The stale-action guard (docs/PROTOCOL.md, `seen_version`): a reply carries
 * the conversation version its author had seen when they began writing it; if
 * the conversation moved since (a message from the client or a colleague, a
 * status or assignee change), the server refuses it (`conversation_moved`)
 * and this hook holds what was refused, so the composer can offer "Send
 * anyway" (again, with the version the refusal gave) or "Review" (the text
 * back in the box, the guard now at that version). */
import { useCallback, useEffect, useRef, useState } from "react";
import type { ParleySocket } from "../services/socket";
import type { ErrorFrame } from "../types";

/** What a reply was sent with: enough to send it again. */
export interface Outgoing {
  clientMessageId: string;
  content: string;
  /** An upload: its id, name and type (and the composer's item, to put back). */
  attachment?: { attachment_id: string; name: string; mime_type: string; size: number; isImage: boolean };
}

export interface Refusal {
  /** The conversation's version now (the next `seen_version`). */
  version: number;
  /** Whether what was missed includes a message (else: a status or assignee change). */
  newMessage: boolean;
  /** The seq of the first missed message, to show it. */
  firstSeq: number | null;
  refused: Outgoing[];
}

interface Missed {
  type?: string;
  data?: { seq?: number };
}

export function refusalOf(error: ErrorFrame & { details?: unknown }, outgoing: Outgoing): Refusal {
  const details = (error.details ?? {}) as { version?: number; missed?: Missed[] };
  const missed = details.missed ?? [];
  const messages = missed.filter((m) => m.type === "MessageSent");
  return {
    version: details.version ?? 0,
    newMessage: messages.length > 0 || missed.length === 0,
    firstSeq: messages[0]?.data?.seq ?? null,
    refused: [outgoing],
  };
}

export function useStaleGuard(socket: ParleySocket | null) {
  const seen = useRef(0);
  const baseline = useRef<number | null>(null);
  const sent = useRef(new Map<string, Outgoing>());
  const [refusal, setRefusal] = useState<Refusal | null>(null);

  // The newest version this socket has shown: every frame with a stream position.
  useEffect(() => {
    if (!socket) return undefined;
    seen.current = Math.max(seen.current, socket.lastPosition);
    const offFrame = socket.onFrame((frame) => {
      const f = frame as { type: string; stream_position?: number | null };
      if (typeof f.stream_position === "number") seen.current = Math.max(seen.current, f.stream_position);
    });
    const offEvent = socket.onEvent((frame) => {
      seen.current = Math.max(seen.current, frame.stream_position);
    });
    const offAck = socket.onAck((ack) => {
      if (ack.client_message_id) sent.current.delete(ack.client_message_id);
    });
    const offFailed = socket.onSendFailed(({ clientMessageId, error }) => {
      const outgoing = sent.current.get(clientMessageId);
      sent.current.delete(clientMessageId);
      if (!outgoing || error.code !== "conversation_moved") return;
      const next = refusalOf(error, outgoing);
      setRefusal((current) =>
        current ? { ...current, version: Math.max(current.version, next.version), refused: [...current.refused, outgoing] } : next,
      );
    });
    return () => {
      offFrame();
      offEvent();
      offAck();
      offFailed();
    };
  }, [socket]);

  /** The author began a reply (or wrote on): the version they see now is what it answers. */
  const began = useCallback(() => {
    if (baseline.current === null) baseline.current = Math.max(seen.current, socket?.lastPosition ?? 0);
  }, [socket]);

  /** The `seen_version` for a reply sent now; forgets the baseline (the next reply begins anew). */
  const versionFor = useCallback(
    (outgoing: Outgoing[]) => {
      const version = baseline.current ?? Math.max(seen.current, socket?.lastPosition ?? 0);
      for (const o of outgoing) sent.current.set(o.clientMessageId, o);
      return version;
    },
    [socket],
  );

  /** Sent (or emptied): the next reply begins anew. */
  const sentAll = useCallback(() => {
    baseline.current = null;
  }, []);

  /** "Review": the guard moves to the version the refusal gave. */
  const review = useCallback(() => {
    if (refusal) baseline.current = refusal.version;
    setRefusal(null);
  }, [refusal]);

  const dismiss = useCallback(() => setRefusal(null), []);

  return { refusal, began, versionFor, sentAll, review, dismiss };
}
