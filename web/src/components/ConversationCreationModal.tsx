/** Start a conversation: client id and name, channel, priority, summary. */
import { useId, useRef, useState, type FormEvent } from "react";
import { ApiError } from "../services/api";
import { CHANNELS, PRIORITIES, type Channel, type Priority, type StartConversationInput } from "../types";
import { Dialog } from "./Dialog";

export interface NewConversation {
  clientId: string;
  clientName: string;
  channel: Channel;
  priority: Priority;
  summary: string;
}

export function validate(form: NewConversation): Partial<Record<keyof NewConversation, string>> {
  const errors: Partial<Record<keyof NewConversation, string>> = {};
  if (!form.clientId.trim()) errors.clientId = "Enter the client's id.";
  else if (form.clientId.length > 200) errors.clientId = "At most 200 characters.";
  if (!form.clientName.trim()) errors.clientName = "Enter the client's name.";
  else if (form.clientName.length > 200) errors.clientName = "At most 200 characters.";
  if (form.summary.length > 500) errors.summary = "At most 500 characters.";
  return errors;
}

interface Props {
  onClose: () => void;
  onCreate: (input: StartConversationInput) => Promise<void>;
}

export function ConversationCreationModal({ onClose, onCreate }: Props) {
  const [form, setForm] = useState<NewConversation>({
    clientId: "",
    clientName: "",
    channel: "web",
    priority: "Medium",
    summary: "",
  });
  const [errors, setErrors] = useState<ReturnType<typeof validate>>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const first = useRef<HTMLInputElement>(null);
  const errorId = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found = validate(form);
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    setFailure(null);
    try {
      await onCreate({
        client: { id: form.clientId.trim(), name: form.clientName.trim() },
        channel: form.channel,
        priority: form.priority,
        summary: form.summary.trim() || null,
      });
    } catch (error) {
      setFailure(error instanceof ApiError ? `${error.message} (${error.code})` : String(error));
      setBusy(false);
    }
  };

  const field = (name: keyof NewConversation) => ({
    value: form[name],
    "aria-invalid": errors[name] ? true : undefined,
    "aria-describedby": errors[name] ? `${errorId}-${name}-error` : undefined,
  });
  const errorOf = (name: keyof NewConversation) =>
    errors[name] && (
      <span id={`${errorId}-${name}-error`} className="mt-0.5 block text-xs text-red-600">
        {errors[name]}
      </span>
    );
  const input = "mt-0.5 w-full rounded border border-slate-300 px-2 py-1";

  return (
    <Dialog title="New conversation" onCancel={onClose} initialFocus={first}>
      <form onSubmit={(e) => void submit(e)} noValidate className="space-y-3">
        <label className="block text-sm font-medium">
          Client id
          <input ref={first} className={input} {...field("clientId")} onChange={(e) => setForm({ ...form, clientId: e.target.value })} />
          {errorOf("clientId")}
        </label>
        <label className="block text-sm font-medium">
          Client name
          <input className={input} {...field("clientName")} onChange={(e) => setForm({ ...form, clientName: e.target.value })} />
          {errorOf("clientName")}
        </label>
        <div className="flex gap-3">
          <label className="flex-1 text-sm font-medium">
            Channel
            <select className={`${input} bg-white`} value={form.channel} onChange={(e) => setForm({ ...form, channel: e.target.value as Channel })}>
              {CHANNELS.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
          </label>
          <label className="flex-1 text-sm font-medium">
            Priority
            <select className={`${input} bg-white`} value={form.priority} onChange={(e) => setForm({ ...form, priority: e.target.value as Priority })}>
              {PRIORITIES.map((p) => (
                <option key={p}>{p}</option>
              ))}
            </select>
          </label>
        </div>
        <label className="block text-sm font-medium">
          Summary (optional)
          <textarea rows={2} className={input} {...field("summary")} onChange={(e) => setForm({ ...form, summary: e.target.value })} />
          {errorOf("summary")}
        </label>
        {failure && (
          <p role="alert" className="text-sm text-red-700">
            {failure}
          </p>
        )}
        <div className="flex justify-end gap-2 pt-1">
          <button type="button" onClick={onClose} className="rounded border border-slate-300 px-3 py-1.5 text-sm hover:bg-slate-50">
            Cancel
          </button>
          <button type="submit" disabled={busy} className="rounded bg-blue-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-blue-700 disabled:opacity-50">
            {busy ? "Creating…" : "Create conversation"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
