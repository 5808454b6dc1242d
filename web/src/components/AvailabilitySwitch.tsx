/** The top bar's availability switch: on is online (the router may give you
 * conversations), off is away. Colleagues see it in the directory, live. */
import { useMyAvailability } from "../hooks/useDirectory";

export function AvailabilitySwitch() {
  const { availability, change } = useMyAvailability();
  const online = availability === "online";
  return (
    <span className="flex items-center gap-1.5 text-sm">
      <button
        type="button"
        role="switch"
        aria-checked={online}
        aria-label="Available"
        data-testid="availability"
        data-availability={availability}
        disabled={change.isPending}
        title={online ? "Online: click to go away" : `${availability === "away" ? "Away" : "Offline"}: click to go online`}
        onClick={() => change.mutate(online ? "away" : "online")}
        className={`relative h-5 w-9 shrink-0 rounded-full border transition-colors disabled:opacity-60 ${
          online ? "border-emerald-400 bg-emerald-600" : "border-slate-400 bg-slate-700"
        }`}
      >
        <span
          aria-hidden="true"
          className={`absolute top-0.5 h-3.5 w-3.5 rounded-full bg-white transition-all ${online ? "left-4" : "left-0.5"}`}
        />
      </button>
      <span aria-hidden="true">{online ? "Online" : availability === "away" ? "Away" : "Offline"}</span>
      {change.isError && (
        <span role="alert" className="text-xs text-red-300">
          not changed ({change.error instanceof Error ? change.error.message : "error"})
        </span>
      )}
    </span>
  );
}
