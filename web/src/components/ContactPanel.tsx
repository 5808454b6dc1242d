/** The client: name, id and channel, and their other conversations, each a
 * link that opens it. */
import { useId } from "react";
import { shortWhen } from "../lib/format";
import type { Conversation } from "../types";
import { titleOf } from "./MergeDialog";
import { StatusBadge } from "./StatusBadge";

interface Props {
  conversation: Conversation;
  others: Conversation[] | undefined;
  loading: boolean;
  error: string | null;
  onOpen: (id: string) => void;
}

export function ContactPanel({ conversation, others, loading, error, onOpen }: Props) {
  const heading = useId();
  const listHeading = useId();
  return (
    <section aria-labelledby={heading} className="space-y-2" data-testid="contact-panel">
      <h3 id={heading} className="text-sm font-semibold text-slate-900">
        Client
      </h3>
      <dl className="grid grid-cols-[auto_minmax(0,1fr)] gap-x-3 gap-y-0.5 text-sm">
        <dt className="text-slate-600">Name</dt>
        <dd className="truncate text-slate-900">{conversation.client_name}</dd>
        <dt className="text-slate-600">Id</dt>
        <dd className="truncate text-slate-900">{conversation.client_id}</dd>
        <dt className="text-slate-600">Channel</dt>
        <dd className="text-slate-900">{conversation.channel}</dd>
      </dl>
      <h4 id={listHeading} className="pt-1 text-xs font-semibold uppercase tracking-wide text-slate-700">
        Other conversations
      </h4>
      {error ? (
        <p role="alert" className="text-xs text-red-700">
          Cannot load them: {error}
        </p>
      ) : loading ? (
        <p className="text-sm text-slate-600">Loading…</p>
      ) : !others?.length ? (
        <p className="text-sm text-slate-600">None.</p>
      ) : (
        <ul aria-labelledby={listHeading} className="space-y-1" data-testid="client-conversations">
          {others.map((row) => (
            <li key={row.conversation_id}>
              <a
                href={`#/c/${row.conversation_id}`}
                onClick={(event) => {
                  event.preventDefault();
                  onOpen(row.conversation_id);
                }}
                className="block rounded border border-slate-200 bg-white px-2 py-1.5 text-sm text-slate-900 hover:bg-slate-50"
              >
                <span className="block truncate font-medium text-blue-800 underline">{titleOf(row)}</span>
                <span className="mt-0.5 flex flex-wrap items-center gap-x-2 text-xs text-slate-600">
                  <StatusBadge status={row.status} snoozedUntil={row.snoozed_until} />
                  {row.channel} · {shortWhen(row.last_message_at ?? row.created_at)}
                </span>
              </a>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
