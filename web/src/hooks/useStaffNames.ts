/** Staff display names from the directory (`GET /api/agents`), for what
 * carries only an id (typing indicators, a staff message sent before the
 * sender had a name). Unknown ids stay as they are. */
import { useQuery } from "@tanstack/react-query";
import { useCallback } from "react";
import { useApi } from "./useApi";

const STAFF_KEY = ["agents"] as const;

export function useStaffNames(): (id: string) => string {
  const api = useApi();
  const directory = useQuery({
    queryKey: STAFF_KEY,
    queryFn: async () => new Map((await api.listAgents()).items.map((a) => [a.agent_id, a.display_name])),
    staleTime: 5 * 60_000,
    retry: false,
  });
  const names = directory.data;
  return useCallback((id: string) => names?.get(id) ?? id, [names]);
}
