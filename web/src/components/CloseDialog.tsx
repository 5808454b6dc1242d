/** "Close this conversation?": a confirmation with an optional reason, which
 * the timeline keeps beside the closing. */
import { useId, useRef, useState, type FormEvent } from "react";
import { Dialog } from "./Dialog";

const MAX_REASON = 500;

interface Props {
  clientName: string;
  onConfirm: (reason: string | undefined) => void;
  onCancel: () => void;
}

export function CloseDialog({ clientName, onConfirm, onCancel }: Props) {
  const [reason, setReason] = useState("");
  const field = useRef<HTMLTextAreaElement>(null);
  const hintId = useId();
  const tooLong = reason.length > MAX_REASON;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (tooLong) return;
    onConfirm(reason.trim() || undefined);
  };

  return (
    <Dialog title="Close this conversation?" onCancel={onCancel} initialFocus={field}>
      <form onSubmit={submit} className="space-y-3">
        <p className="text-sm text-slate-700">
          The conversation with {clientName} moves to Closed; nobody can write to it until it is reopened.
        </p>
        <label className="block text-sm font-medium">
          Reason (optional)
          <textarea
            ref={field}
            rows={3}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            aria-describedby={hintId}
            aria-invalid={tooLong || undefined}
            className="mt-0.5 w-full rounded border border-slate-300 px-2 py-1"
          />
        </label>
        <p id={hintId} className={`text-xs ${tooLong ? "text-red-700" : "text-slate-600"}`}>
          Shown in the timeline. {reason.length} / {MAX_REASON}
        </p>
        <div className="flex justify-end gap-2 pt-1">
          <button type="button" onClick={onCancel} className="rounded border border-slate-300 px-3 py-1.5 text-sm hover:bg-slate-50">
            Cancel
          </button>
          <button
            type="submit"
            disabled={tooLong}
            className="rounded bg-slate-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-slate-800 disabled:opacity-50"
          >
            Close conversation
          </button>
        </div>
      </form>
    </Dialog>
  );
}
