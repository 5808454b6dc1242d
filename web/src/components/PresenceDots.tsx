/** Who is in the conversation now: the client (online or offline) and the
 * colleagues who have it open. Each dot has its words beside it, and online
 * and offline differ in shape (filled, hollow) as well as colour. */
import type { Present } from "../hooks/usePresence";

interface Props {
  online: Present[];
  /** False while the socket is not connected: then nothing is claimed. */
  known: boolean;
  selfId: string;
  clientName: string;
  nameOf: (userId: string) => string;
}

function Dot({ on }: { on: boolean }) {
  return (
    <span
      aria-hidden="true"
      className={`inline-block h-2 w-2 shrink-0 rounded-full ${on ? "bg-emerald-600" : "border border-slate-500 bg-transparent"}`}
    />
  );
}

export function PresenceDots({ online, known, selfId, clientName, nameOf }: Props) {
  if (!known) return null;
  const clientHere = online.some((user) => user.role === "client");
  const staff = [...new Set(online.filter((u) => u.role !== "client" && u.userId !== selfId).map((u) => u.userId))];
  return (
    <ul aria-label="Who is here" data-testid="presence" className="mt-0.5 flex flex-wrap items-center gap-x-3 gap-y-0.5 text-xs text-slate-700">
      <li className="flex min-w-0 items-center gap-1" data-testid="presence-client" data-online={clientHere}>
        <Dot on={clientHere} />
        <span className="truncate">
          {clientName} · {clientHere ? "online" : "offline"}
        </span>
      </li>
      {staff.map((id) => (
        <li key={id} className="flex min-w-0 items-center gap-1" data-testid="presence-staff">
          <Dot on />
          <span className="truncate">{nameOf(id)} · here too</span>
        </li>
      ))}
    </ul>
  );
}
