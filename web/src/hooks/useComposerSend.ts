/** What the composer's Send does in a conversation: a reply (text, files, or
 * both: each file is a message of type image or file, the text the first
 * one's caption) sent with the stale-action guard's `seen_version`; a refused
 * one can be sent anyway (at the version the refusal gave) or reviewed (its
 * text and files back in the composer, the first missed message shown). */
import { useCallback } from "react";
import { newId } from "../services/ids";
import type { SendExtra } from "./useMessages";
import { useStaleGuard, type Outgoing } from "./useStaleGuard";
import type { PendingUpload } from "./useUploads";
import type { ParleySocket } from "../services/socket";

type Send = (content: string, extra?: SendExtra) => string | null;

/** The messages a reply makes. */
export function outgoingOf(text: string, files: PendingUpload[]): Outgoing[] {
  const caption = text.trim() ? text : null;
  const out: Outgoing[] = files.flatMap((file, index) => {
    const a = file.attachment;
    if (!a) return [];
    const attachment = { attachment_id: a.attachment_id, name: a.name, mime_type: a.mime_type, size: a.size, isImage: a.mime_type.startsWith("image/") };
    return [{ clientMessageId: newId("m-"), content: index === 0 && caption ? caption : a.name, attachment }];
  });
  if (caption && out.length === 0) out.push({ clientMessageId: newId("m-"), content: caption });
  return out;
}

/** Scroll the timeline (only it, not the page) to the message `seq`. */
function showMessage(seq: number): void {
  const message = document.querySelector<HTMLElement>(`[data-testid="message"][data-seq="${seq}"]`);
  const timeline = message?.closest<HTMLElement>('[aria-label="Messages"]');
  if (!message || !timeline) return;
  const offset = message.getBoundingClientRect().top - timeline.getBoundingClientRect().top;
  timeline.scrollTop += offset - timeline.clientHeight / 2 + message.offsetHeight / 2;
}

export function useComposerSend(socket: ParleySocket | null, send: Send) {
  const guard = useStaleGuard(socket);

  const transmit = useCallback(
    (outgoing: Outgoing[], seenVersion: number) => {
      for (const o of outgoing) {
        const extra: SendExtra = { clientMessageId: o.clientMessageId, seenVersion };
        if (o.attachment) extra.attachment = o.attachment;
        send(o.content, extra);
      }
    },
    [send],
  );

  const reply = useCallback(
    (text: string, files: PendingUpload[] = []) => {
      const outgoing = outgoingOf(text, files);
      if (outgoing.length === 0) return;
      transmit(outgoing, guard.versionFor(outgoing));
      guard.sentAll();
    },
    [guard, transmit],
  );

  const sendAnyway = useCallback(() => {
    const refusal = guard.refusal;
    if (!refusal) return;
    guard.dismiss();
    const again = refusal.refused.map((o) => ({ ...o, clientMessageId: newId("m-") }));
    guard.versionFor(again);
    transmit(again, refusal.version);
  }, [guard, transmit]);

  /** "Review": what was refused, to put back in the composer; the first missed message scrolled into view. */
  const review = useCallback((): Outgoing[] => {
    const refusal = guard.refusal;
    if (!refusal) return [];
    guard.review();
    if (refusal.firstSeq !== null) showMessage(refusal.firstSeq);
    return refusal.refused;
  }, [guard]);

  return { reply, sendAnyway, review, refusal: guard.refusal, began: guard.began, cleared: guard.sentAll };
}
