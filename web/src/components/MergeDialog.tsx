/** "Merge into another conversation?": the client's other open
 * conversations to choose from, what a merge does, and a confirmation. The
 * merged conversation closes for good; its messages are copied into the
 * chosen one. */
import { useId, useRef, useState, type FormEvent } from "react";
import { shortWhen } from "../lib/format";
import type { Conversation } from "../types";
import { Dialog } from "./Dialog";
import { StatusBadge } from "./StatusBadge";

interface Props {
  source: Conversation;
  /** The client's other conversations that can take a merge (not closed, not this one). */
  targets: Conversation[];
  busy: boolean;
  error: string | null;
  onConfirm: (into: string) => void;
  onCancel: () => void;
}

export function titleOf(row: Conversation): string {
  return row.summary ?? row.last_message_preview ?? `Started ${shortWhen(row.created_at)}`;
}

export function MergeDialog({ source, targets, busy, error, onConfirm, onCancel }: Props) {
  const [into, setInto] = useState(targets.length === 1 ? (targets[0]?.conversation_id ?? "") : "");
  const first = useRef<HTMLInputElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const legend = useId();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (into) onConfirm(into);
  };
  return (
    <Dialog title="Merge into another conversation?" onCancel={onCancel} initialFocus={targets.length ? first : cancel}>
      <form onSubmit={submit} className="space-y-3">
        <p className="text-sm text-slate-700">
          This conversation with {source.client_name} closes for good, and its messages are copied into the one you choose.
          This cannot be undone.
        </p>
        {targets.length === 0 ? (
          <p className="text-sm text-slate-700">{source.client_name} has no other open conversation to merge into.</p>
        ) : (
          <fieldset aria-labelledby={legend} className="space-y-1">
            <p id={legend} className="text-sm font-medium">
              Merge into
            </p>
            {targets.map((row, i) => (
              <label key={row.conversation_id} className="flex items-start gap-2 rounded border border-slate-200 p-2 text-sm">
                <input
                  ref={i === 0 ? first : undefined}
                  type="radio"
                  name="merge-into"
                  value={row.conversation_id}
                  checked={into === row.conversation_id}
                  onChange={() => setInto(row.conversation_id)}
                  className="mt-1"
                />
                <span className="min-w-0 flex-1">
                  <span className="block truncate font-medium">{titleOf(row)}</span>
                  <span className="flex items-center gap-2 text-xs text-slate-600">
                    <StatusBadge status={row.status} snoozedUntil={row.snoozed_until} /> {row.channel} · {shortWhen(row.last_message_at ?? row.created_at)}
                  </span>
                </span>
              </label>
            ))}
          </fieldset>
        )}
        {error && (
          <p role="alert" className="text-sm text-red-700">
            Cannot merge: {error}
          </p>
        )}
        <div className="flex justify-end gap-2 pt-1">
          <button ref={cancel} type="button" onClick={onCancel} className="rounded border border-slate-300 px-3 py-1.5 text-sm hover:bg-slate-50">
            Cancel
          </button>
          <button
            type="submit"
            disabled={!into || busy}
            className="rounded bg-red-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-red-800 disabled:opacity-50"
          >
            Merge
          </button>
        </div>
      </form>
    </Dialog>
  );
}
