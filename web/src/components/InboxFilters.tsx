/** The inbox's filters: the client's name, status and priority always in
 * view; assignee (under All), team, label, channel and the order behind "More
 * filters", which says how many of them are set. The options come from the
 * staff directory and the catalogues, asked for when the panel first opens. */
import { useQuery } from "@tanstack/react-query";
import { useId, useState, type ReactNode } from "react";
import { useApi } from "../hooks/useApi";
import type { InboxTab } from "../hooks/useInboxCounts";
import { CHANNELS, PRIORITIES, STATUSES, type Channel, type ConversationFilters, type Priority, type Sort, type Status } from "../types";
import { statusText } from "./StatusBadge";

export const SORTS: readonly [Sort, string][] = [
  ["last_message", "Last message"],
  ["created", "Newest started"],
  ["priority", "Priority"],
  ["waiting", "Longest waiting"],
];

const CHANNEL_NAMES: Record<Channel, string> = { web: "Web", whatsapp: "WhatsApp", email: "Email" };

const SELECT = "mt-0.5 w-full rounded border border-slate-300 bg-white px-1 py-1 text-sm";

/** How many of the filters behind "More filters" are set. */
export function moreSet(filters: ConversationFilters, tab: InboxTab): number {
  const agent = tab === "all" && filters.assignee !== undefined;
  return [agent, filters.team, filters.label, filters.channel, filters.sort && filters.sort !== "last_message"].filter(Boolean).length;
}

function Select({ label, name, value, onChange, children }: { label: string; name: string; value: string; onChange: (value: string | undefined) => void; children: ReactNode }) {
  return (
    <label className="min-w-0 flex-1 text-xs font-medium text-slate-700">
      {label}
      <select aria-label={name} value={value} onChange={(e) => onChange(e.target.value || undefined)} className={SELECT}>
        {children}
      </select>
    </label>
  );
}

function MoreFilters({ filters, onFilters, tab }: { filters: ConversationFilters; onFilters: (f: ConversationFilters) => void; tab: InboxTab }) {
  const api = useApi();
  const options = { staleTime: 5 * 60_000, retry: false } as const;
  const agents = useQuery({ queryKey: ["inbox-options", "agents"], queryFn: () => api.listAgents(), ...options });
  const teams = useQuery({ queryKey: ["inbox-options", "teams"], queryFn: () => api.listTeams(), ...options });
  const labels = useQuery({ queryKey: ["inbox-options", "labels"], queryFn: () => api.listLabels(), ...options });
  return (
    <div className="grid grid-cols-2 gap-2">
      {tab === "all" && (
        <Select label="Assignee" name="Assignee filter" value={filters.assignee ?? ""} onChange={(assignee) => onFilters({ ...filters, assignee })}>
          <option value="">Anyone</option>
          {agents.data?.items.map((a) => (
            <option key={a.agent_id} value={a.agent_id}>
              {a.display_name || a.agent_id}
            </option>
          ))}
        </Select>
      )}
      <Select label="Team" name="Team filter" value={filters.team ?? ""} onChange={(team) => onFilters({ ...filters, team })}>
        <option value="">Any team</option>
        {teams.data?.items.map((t) => (
          <option key={t.team_id} value={t.team_id}>
            {t.name}
          </option>
        ))}
      </Select>
      <Select label="Label" name="Label filter" value={filters.label ?? ""} onChange={(label) => onFilters({ ...filters, label })}>
        <option value="">Any label</option>
        {labels.data?.items.map((l) => (
          <option key={l.label_id} value={l.label_id}>
            {l.name}
          </option>
        ))}
      </Select>
      <Select label="Channel" name="Channel filter" value={filters.channel ?? ""} onChange={(c) => onFilters({ ...filters, channel: c as Channel | undefined })}>
        <option value="">Any channel</option>
        {CHANNELS.map((c) => (
          <option key={c} value={c}>
            {CHANNEL_NAMES[c]}
          </option>
        ))}
      </Select>
      <Select
        label="Sort by"
        name="Sort order"
        value={filters.sort ?? "last_message"}
        onChange={(sort) => onFilters({ ...filters, sort: sort === "last_message" ? undefined : (sort as Sort | undefined) })}
      >
        {SORTS.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </Select>
    </div>
  );
}

interface Props {
  filters: ConversationFilters;
  onFilters: (filters: ConversationFilters) => void;
  tab: InboxTab;
}

export function InboxFilters({ filters, onFilters, tab }: Props) {
  const [open, setOpen] = useState(false);
  const panel = useId();
  const set = moreSet(filters, tab);
  return (
    <div className="space-y-2 border-b border-slate-200 p-3">
      <label className="block text-xs font-medium text-slate-700">
        Client name
        <input
          type="search"
          value={filters.q ?? ""}
          onChange={(e) => onFilters({ ...filters, q: e.target.value })}
          placeholder="Search clients"
          className="mt-0.5 w-full rounded border border-slate-300 px-2 py-1 text-sm"
        />
      </label>
      <div className="flex items-end gap-2">
        <Select label="Status" name="Status filter" value={filters.status ?? ""} onChange={(s) => onFilters({ ...filters, status: s as Status | undefined })}>
          <option value="">All</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {statusText(s)}
            </option>
          ))}
        </Select>
        <Select label="Priority" name="Priority filter" value={filters.priority ?? ""} onChange={(p) => onFilters({ ...filters, priority: p as Priority | undefined })}>
          <option value="">All</option>
          {PRIORITIES.map((p) => (
            <option key={p}>{p}</option>
          ))}
        </Select>
        <button
          type="button"
          aria-expanded={open}
          aria-controls={panel}
          aria-label={set > 0 ? `More filters (${set} set)` : "More filters"}
          onClick={() => setOpen((o) => !o)}
          className="shrink-0 rounded border border-slate-300 bg-white px-2 py-1 text-sm text-slate-800 hover:bg-slate-50"
        >
          More{set > 0 ? ` (${set})` : ""}
        </button>
      </div>
      <div id={panel} hidden={!open}>
        {open && <MoreFilters filters={filters} onFilters={onFilters} tab={tab} />}
      </div>
    </div>
  );
}
