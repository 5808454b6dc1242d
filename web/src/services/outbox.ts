/** A socket's un-ACKed SEND_MESSAGE frames, in the order they were sent, and
 * the timers of those the server asked to resend later (rate_limited, busy). */
import type { ErrorFrame, SendMessageFrame } from "../types";

export class Outbox {
  private readonly pending = new Map<string, SendMessageFrame>();
  private readonly retryAt = new Map<string, ReturnType<typeof setTimeout>>();

  get size(): number {
    return this.pending.size;
  }

  frames(): SendMessageFrame[] {
    return [...this.pending.values()];
  }

  /** Queue a frame (its `ref` is its client_message_id); returns it as queued. */
  add(frame: SendMessageFrame): SendMessageFrame {
    const queued = { ...frame, ref: frame.client_message_id };
    this.pending.set(frame.client_message_id, queued);
    return queued;
  }

  /** ACKed (or failed for good): forget it. */
  settle(clientMessageId: string): void {
    this.pending.delete(clientMessageId);
    const timer = this.retryAt.get(clientMessageId);
    if (timer !== undefined) clearTimeout(timer);
    this.retryAt.delete(clientMessageId);
  }

  /** An ERROR frame: the queued frame it refers to, if any, and whether it is
   * to be resent (then `resend` is called after `retry_after`). */
  refused(error: ErrorFrame, resend: (frame: SendMessageFrame) => void): { frame: SendMessageFrame; later: boolean } | null {
    const queued = error.ref ? this.pending.get(error.ref) : undefined;
    if (!queued) return null;
    const id = queued.client_message_id;
    if (error.code !== "rate_limited" && error.code !== "busy") return { frame: queued, later: false };
    const wait = Math.max(0.5, error.retry_after ?? 1) * 1000;
    this.retryAt.set(
      id,
      setTimeout(() => {
        this.retryAt.delete(id);
        if (this.pending.has(id)) resend(queued);
      }, wait),
    );
    return { frame: queued, later: true };
  }

  stopTimers(): void {
    for (const timer of this.retryAt.values()) clearTimeout(timer);
    this.retryAt.clear();
  }
}
