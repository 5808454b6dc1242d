/** Who handles the conversation: "Assign to me", an agent (with their
 * availability) or a team's queue (which takes the agent off). Nobody can be
 * assigned to a closed conversation. */
import { useQuery } from "@tanstack/react-query";
import { useId } from "react";
import { useApi, useSession } from "../hooks/useApi";
import { useAgents } from "../hooks/useDirectory";
import { failure, usePanelAction } from "../hooks/usePanelAction";
import type { Conversation } from "../types";

type Target = { agent_id?: string; team_id?: string };

const SELECT = "mt-0.5 w-full rounded border border-slate-300 bg-white px-1 py-1 text-sm text-slate-900 disabled:bg-slate-100";

export function AssignControl({ conversation }: { conversation: Conversation }) {
  const api = useApi();
  const heading = useId();
  const me = useSession().identity.sub;
  const agents = useAgents();
  const teams = useQuery({ queryKey: ["inbox-options", "teams"], queryFn: () => api.listTeams(), staleTime: 5 * 60_000, retry: false });
  const id = conversation.conversation_id;
  const assign = usePanelAction(id, async (target: Target) => {
    // An agent alone keeps the team; taking the team off an agent's conversation
    // is nobody, then the agent again.
    if (target.agent_id === undefined && target.team_id === undefined && conversation.assignee_id && conversation.team_id) {
      await api.assign(id, {});
      return api.assign(id, { agent_id: conversation.assignee_id });
    }
    return api.assign(id, target);
  });
  const closed = conversation.status === "closed";
  const busy = assign.isPending || closed;
  const agent = conversation.assignee_id ?? "";
  const team = conversation.team_id ?? "";

  return (
    <section aria-labelledby={heading} className="space-y-2">
      <h3 id={heading} className="text-sm font-semibold text-slate-900">
        Assignee
      </h3>
      <p className="text-sm text-slate-800" data-testid="panel-assignee">
        {conversation.assignee_name ?? "Nobody"}
        {conversation.team_name ? ` · ${conversation.team_name}` : ""}
      </p>
      <button
        type="button"
        disabled={busy || agent === me}
        onClick={() => assign.mutate({ agent_id: me })}
        className="rounded border border-slate-300 bg-white px-2 py-1 text-sm font-medium text-slate-800 hover:bg-slate-50 disabled:opacity-50"
      >
        Assign to me
      </button>
      <label className="block text-xs font-medium text-slate-700">
        Agent
        <select
          aria-label="Assign to an agent"
          value={agent}
          disabled={busy}
          onChange={(e) => assign.mutate(e.target.value ? { agent_id: e.target.value } : team ? { team_id: team } : {})}
          className={SELECT}
        >
          <option value="">Nobody</option>
          {agent && !agents.data?.items.some((a) => a.agent_id === agent) && (
            <option value={agent}>{conversation.assignee_name ?? agent}</option>
          )}
          {agents.data?.items.map((a) => (
            <option key={a.agent_id} value={a.agent_id}>
              {a.display_name || a.agent_id} ({a.availability})
            </option>
          ))}
        </select>
      </label>
      <label className="block text-xs font-medium text-slate-700">
        Team (its queue: no agent)
        <select
          aria-label="Assign to a team"
          value={team}
          disabled={busy}
          onChange={(e) => assign.mutate(e.target.value ? { team_id: e.target.value } : {})}
          className={SELECT}
        >
          <option value="">No team</option>
          {team && !teams.data?.items.some((t) => t.team_id === team) && <option value={team}>{conversation.team_name ?? team}</option>}
          {teams.data?.items.map((t) => (
            <option key={t.team_id} value={t.team_id}>
              {t.name}
            </option>
          ))}
        </select>
      </label>
      {closed && <p className="text-xs text-slate-600">Reopen the conversation to assign it.</p>}
      {assign.error && (
        <p role="alert" className="text-xs text-red-700">
          Cannot assign: {failure(assign.error)}
        </p>
      )}
    </section>
  );
}
