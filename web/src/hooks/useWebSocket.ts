/** One ParleySocket for the component's lifetime: the conversation's socket,
 * or the inbox socket; its connection state as React state. A refreshed token
 * does not make a new socket: the socket reads the current one when it
 * (re)connects, and resumes with it when the server closes it at the old
 * token's expiry (4401). */
import { useEffect, useRef, useState } from "react";
import { ParleySocket, type ConnectionState, type SocketFactory } from "../services/socket";
import { useSession } from "./useApi";

export type SocketTarget = { kind: "conversation"; id: string } | { kind: "inbox" };

export interface UseWebSocket {
  socket: ParleySocket | null;
  state: ConnectionState;
}

export function useWebSocket(
  target: SocketTarget | null,
  options: { createSocket?: SocketFactory; after?: number } = {},
): UseWebSocket {
  const { token, getToken, wsUrl } = useSession();
  const current = useRef(() => token);
  current.current = getToken ?? (() => token);
  const [socket, setSocket] = useState<ParleySocket | null>(null);
  const [state, setState] = useState<ConnectionState>("disconnected");
  const key = target === null ? null : target.kind === "inbox" ? "inbox" : target.id;
  const { createSocket, after } = options;

  useEffect(() => {
    if (key === null) return undefined;
    const inbox = key === "inbox";
    const created = new ParleySocket({
      kind: inbox ? "inbox" : "conversation",
      url: (after) =>
        inbox ? wsUrl("/ws/inbox", { after_position: after }) : wsUrl(`/ws/${key}`, { after }),
      token: () => current.current(),
      after: after ?? 0,
      ...(createSocket ? { createSocket } : {}),
    });
    const unsubscribe = created.onState(setState);
    setSocket(created);
    created.connect();
    setState(created.state);
    return () => {
      unsubscribe();
      created.closeWhenSent();
      setSocket(null);
    };
    // `after` matters only when the socket is made: later changes must not reconnect.
  }, [key, wsUrl, createSocket]);

  return { socket, state };
}
