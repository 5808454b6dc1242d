import type { ConnectionState } from "../services/socket";

const LOOK: Record<ConnectionState, { label: string; dot: string }> = {
  connected: { label: "Connected", dot: "bg-emerald-500" },
  connecting: { label: "Connecting…", dot: "bg-amber-400" },
  reconnecting: { label: "Reconnecting…", dot: "bg-amber-500 animate-pulse" },
  disconnected: { label: "Disconnected", dot: "bg-red-500" },
};

export function ConnectionStatus({ state, onReconnect }: { state: ConnectionState; onReconnect: () => void }) {
  const look = LOOK[state];
  return (
    <div className="flex items-center gap-2 text-sm">
      <span role="status" aria-live="polite" data-testid="connection-status" data-state={state} className="flex items-center gap-1.5">
        <span aria-hidden="true" className={`inline-block h-2.5 w-2.5 rounded-full ${look.dot}`} />
        {look.label}
      </span>
      {state !== "connected" && (
        <button
          type="button"
          onClick={onReconnect}
          className="rounded border border-slate-300 bg-white px-2 py-1 text-xs font-medium text-slate-900 hover:bg-slate-100"
        >
          Reconnect
        </button>
      )}
    </div>
  );
}

/** The worse of two states, for one indicator over the inbox and chat sockets. */
export function worstState(states: ConnectionState[]): ConnectionState {
  const order: ConnectionState[] = ["disconnected", "reconnecting", "connecting", "connected"];
  return order.find((s) => states.includes(s)) ?? "connected";
}
