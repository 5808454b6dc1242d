/** The banner under a conversation's header: the last action's failure.
 * A failure to reach the server goes away by itself once the connection is
 * back; any other stays until the next action succeeds. */
import { useCallback, useEffect, useState } from "react";
import type { ApiError } from "../services/api";
import type { ConnectionState } from "../services/socket";

interface Failure {
  text: string;
  network: boolean;
}

export function useActionError(connection: ConnectionState) {
  const [failure, setFailure] = useState<Failure | null>(null);
  const [seenOffline, setSeenOffline] = useState(false);

  useEffect(() => {
    if (!failure?.network) return;
    if (connection !== "connected") setSeenOffline(true);
    else if (seenOffline) setFailure(null);
  }, [connection, failure, seenOffline]);

  const fail = useCallback((error: ApiError) => {
    setSeenOffline(false);
    setFailure({ text: `${error.message} (${error.code})`, network: error.status === 0 });
  }, []);
  const clear = useCallback(() => setFailure(null), []);

  return { error: failure?.text ?? null, fail, clear };
}
