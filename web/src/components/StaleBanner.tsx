/** The stale-action guard's question: the conversation moved while the reply
 * was being written; send it anyway, or review what came first. */
import type { Refusal } from "../hooks/useStaleGuard";

export function StaleBanner({ refusal, onSendAnyway, onReview }: { refusal: Refusal; onSendAnyway: () => void; onReview: () => void }) {
  const count = refusal.refused.length;
  return (
    <div role="alert" data-testid="stale-guard" className="mb-2 flex flex-wrap items-center gap-2 rounded-lg border border-amber-400 bg-amber-50 px-3 py-2 text-sm text-amber-950">
      <p className="min-w-0 flex-1">
        <strong>{refusal.newMessage ? "A new message arrived while you were typing." : "The conversation changed while you were typing."}</strong>{" "}
        Your {count > 1 ? `${count} messages were` : "message was"} not sent.
      </p>
      <button type="button" onClick={onSendAnyway} className="rounded-md bg-amber-800 px-3 py-1 font-medium text-white hover:bg-amber-900">
        Send anyway
      </button>
      <button type="button" onClick={onReview} className="rounded-md border border-amber-800 px-3 py-1 font-medium text-amber-950 hover:bg-amber-100">
        Review
      </button>
    </div>
  );
}
