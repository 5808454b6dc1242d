import { createContext, useContext, type ReactNode } from "react";
import type { ApiClient } from "../services/api";
import type { Identity } from "../services/session";

export interface Session {
  api: ApiClient;
  /** The token when this session object was made (see `getToken`). */
  token: string;
  /** The current token: refreshed in place, so read it at each use. */
  getToken?: () => string;
  identity: Identity;
  /** Builds the ws:// URL of a path on the server. */
  wsUrl: (path: string, query: Record<string, number>) => string;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ value, children }: { value: Session; children: ReactNode }) {
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a SessionProvider");
  return session;
}

export function useApi(): ApiClient {
  return useSession().api;
}
