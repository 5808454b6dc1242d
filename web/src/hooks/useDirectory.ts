/** The staff directory as the desk uses it: every agent with their
 * availability (shared with the inbox's filters), the caller's own
 * availability and its switch, kept live by the inbox socket's
 * STAFF_CHANGED frames (patched in place: the read model may lag the frame). */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { deskFrame, type Availability } from "../services/desk";
import type { ParleySocket } from "../services/socket";
import type { Agent } from "../types";
import { useApi, useSession } from "./useApi";

/** The inbox filters' key: one directory in the cache. */
export const AGENTS_KEY = ["inbox-options", "agents"] as const;
type Directory = { items: Agent[] };

export function useAgents() {
  const api = useApi();
  return useQuery({ queryKey: AGENTS_KEY, queryFn: () => api.listAgents(), staleTime: 5 * 60_000, retry: false });
}

/** The directory with one agent's entry changed (added when new). */
export function withAgent(directory: Directory | undefined, id: string, change: Partial<Agent>): Directory | undefined {
  if (!directory) return directory;
  const found = directory.items.some((a) => a.agent_id === id);
  const items = found
    ? directory.items.map((a) => (a.agent_id === id ? { ...a, ...change } : a))
    : [...directory.items, { agent_id: id, display_name: id, availability: "offline", online: false, ...change }];
  return { ...directory, items };
}

/** Apply STAFF_CHANGED frames to the cached directory. */
export function useDirectoryLive(socket: ParleySocket | null): void {
  const client = useQueryClient();
  useEffect(() => {
    if (!socket) return undefined;
    return socket.onFrame((raw) => {
      const frame = deskFrame(raw);
      if (frame?.type !== "STAFF_CHANGED" || !frame.agent_id) return;
      const change: Partial<Agent> = {};
      if (frame.display_name) change.display_name = frame.display_name;
      if (frame.availability) Object.assign(change, { availability: frame.availability, online: frame.availability === "online" });
      client.setQueryData<Directory>(AGENTS_KEY, (old) => withAgent(old, frame.agent_id ?? "", change));
      if (frame.change === "AgentRegistered" || frame.change === "AgentProfileChanged") {
        void client.invalidateQueries({ queryKey: ["agents"] }); // useStaffNames' names
      }
    });
  }, [socket, client]);
}

/** The caller's availability (`offline` until they first set it) and a switch. */
export function useMyAvailability() {
  const api = useApi();
  const me = useSession().identity.sub;
  const client = useQueryClient();
  const agents = useAgents();
  const mine = agents.data?.items.find((a) => a.agent_id === me);
  const change = useMutation({
    mutationFn: (availability: Availability) => api.setAvailability(availability),
    onSuccess: (_result, availability) => {
      client.setQueryData<Directory>(AGENTS_KEY, (old) => withAgent(old, me, { availability, online: availability === "online" }));
    },
  });
  return { availability: (mine?.availability ?? "offline") as Availability, loaded: agents.isSuccess, change };
}
