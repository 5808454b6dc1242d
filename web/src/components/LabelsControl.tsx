/** The conversation's labels: each with a button that takes it off, and a
 * list of the catalogue's other labels to put one on. */
import { useQuery } from "@tanstack/react-query";
import { useId } from "react";
import { useApi } from "../hooks/useApi";
import { failure, usePanelAction } from "../hooks/usePanelAction";
import type { Conversation } from "../types";

type Change = { add: string } | { remove: string };

export function LabelsControl({ conversation }: { conversation: Conversation }) {
  const api = useApi();
  const heading = useId();
  const catalogue = useQuery({ queryKey: ["inbox-options", "labels"], queryFn: () => api.listLabels(), staleTime: 60_000, retry: false });
  const id = conversation.conversation_id;
  const change = usePanelAction(id, (c: Change) => ("add" in c ? api.addLabel(id, c.add) : api.removeLabel(id, c.remove)));
  const labels = conversation.labels ?? [];
  const others = catalogue.data?.items.filter((l) => !labels.some((on) => on.label_id === l.label_id)) ?? [];

  return (
    <section aria-labelledby={heading} className="space-y-2">
      <h3 id={heading} className="text-sm font-semibold text-slate-900">
        Labels
      </h3>
      {labels.length === 0 ? (
        <p className="text-sm text-slate-600">No labels.</p>
      ) : (
        <ul className="flex flex-wrap gap-1.5" data-testid="panel-labels">
          {labels.map((label) => (
            <li key={label.label_id} className="flex items-center gap-1 rounded border border-slate-300 bg-white py-0.5 pl-1.5 text-sm text-slate-800">
              <span aria-hidden="true" className="h-2 w-2 rounded-full" style={{ background: label.colour }} />
              {label.name}
              <button
                type="button"
                aria-label={`Remove label ${label.name}`}
                disabled={change.isPending}
                onClick={() => change.mutate({ remove: label.label_id })}
                className="rounded px-1.5 text-slate-700 hover:bg-slate-100"
              >
                <span aria-hidden="true">×</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <label className="block text-xs font-medium text-slate-700">
        Add a label
        <select
          aria-label="Add a label"
          value=""
          disabled={change.isPending || others.length === 0}
          onChange={(e) => e.target.value && change.mutate({ add: e.target.value })}
          className="mt-0.5 w-full rounded border border-slate-300 bg-white px-1 py-1 text-sm text-slate-900 disabled:bg-slate-100"
        >
          <option value="">{catalogue.isPending ? "Loading labels…" : others.length ? "Choose a label…" : "No other labels"}</option>
          {others.map((l) => (
            <option key={l.label_id} value={l.label_id}>
              {l.name}
            </option>
          ))}
        </select>
      </label>
      {change.error && (
        <p role="alert" className="text-xs text-red-700">
          Cannot change the labels: {failure(change.error)}
        </p>
      )}
    </section>
  );
}
