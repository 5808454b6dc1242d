/** The contact panel's list: a client's conversations (`GET
 * /api/conversations?client_id=`), asked again when a panel opens on them. */
import { useQuery } from "@tanstack/react-query";
import { useApi } from "./useApi";

export const clientConversationsKey = (clientId: string) => ["client-conversations", clientId] as const;

export function useClientConversations(clientId: string) {
  const api = useApi();
  return useQuery({
    queryKey: clientConversationsKey(clientId),
    queryFn: () => api.clientConversations(clientId),
    staleTime: 10_000,
  });
}
