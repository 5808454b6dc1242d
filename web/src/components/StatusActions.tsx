/** The conversation header's status actions, as the transition table allows
 * them (docs/COMMANDS.md, P8): Mark pending / Mark active, Unsnooze, Snooze
 * (a menu of presets), Close (after a confirmation, with an optional
 * reason); a closed conversation only reopens. */
import { useEffect, useId, useRef, useState } from "react";
import { SNOOZE_PRESETS } from "../lib/snooze";
import type { SettableStatus, Status } from "../types";
import { CloseDialog } from "./CloseDialog";

interface Props {
  status: Status;
  clientName: string;
  busy: boolean;
  onStatus: (status: SettableStatus, reason?: string) => void;
  onSnooze: (until: Date) => void;
}

const PLAIN =
  "rounded border border-slate-300 bg-white px-3 py-1 text-sm font-medium text-slate-800 hover:bg-slate-50 disabled:opacity-50";
const DARK = "rounded px-3 py-1 text-sm font-medium text-white disabled:opacity-50";

export function StatusActions({ status, clientName, busy, onStatus, onSnooze }: Props) {
  const [confirming, setConfirming] = useState(false);
  if (status === "closed") {
    return (
      <button type="button" disabled={busy} onClick={() => onStatus("active")} className={`${DARK} bg-emerald-700 hover:bg-emerald-800`}>
        Reopen
      </button>
    );
  }
  return (
    <div className="flex flex-wrap items-center gap-2">
      {status === "active" && (
        <button type="button" disabled={busy} onClick={() => onStatus("pending")} className={PLAIN}>
          Mark pending
        </button>
      )}
      {status === "pending" && (
        <button type="button" disabled={busy} onClick={() => onStatus("active")} className={PLAIN}>
          Mark active
        </button>
      )}
      {status === "snoozed" && (
        <button type="button" disabled={busy} onClick={() => onStatus("active")} className={PLAIN}>
          Unsnooze
        </button>
      )}
      <SnoozeMenu busy={busy} onSnooze={onSnooze} />
      <button
        type="button"
        disabled={busy}
        aria-haspopup="dialog"
        onClick={() => setConfirming(true)}
        className={`${DARK} bg-slate-700 hover:bg-slate-800`}
      >
        Close
      </button>
      {confirming && (
        <CloseDialog
          clientName={clientName}
          onCancel={() => setConfirming(false)}
          onConfirm={(reason) => {
            setConfirming(false);
            onStatus("closed", reason);
          }}
        />
      )}
    </div>
  );
}

/** A disclosure: "Snooze" opens a group of presets; Escape or a click elsewhere closes it. */
function SnoozeMenu({ busy, onSnooze }: { busy: boolean; onSnooze: (until: Date) => void }) {
  const [open, setOpen] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const toggle = useRef<HTMLButtonElement>(null);
  const menuId = useId();

  useEffect(() => {
    if (!open) return undefined;
    const away = (event: PointerEvent) => {
      if (!box.current?.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener("pointerdown", away);
    return () => document.removeEventListener("pointerdown", away);
  }, [open]);

  return (
    <div
      ref={box}
      className="relative"
      onKeyDown={(event) => {
        if (event.key === "Escape" && open) {
          setOpen(false);
          toggle.current?.focus();
        }
      }}
    >
      <button
        ref={toggle}
        type="button"
        disabled={busy}
        aria-expanded={open}
        aria-controls={menuId}
        onClick={() => setOpen((o) => !o)}
        className={PLAIN}
      >
        Snooze <span aria-hidden="true">▾</span>
      </button>
      {open && (
        <div
          id={menuId}
          role="group"
          aria-label="Snooze until"
          className="absolute right-0 z-10 mt-1 w-56 rounded border border-slate-200 bg-white py-1 shadow-lg max-sm:fixed max-sm:inset-x-4 max-sm:w-auto"
        >
          {SNOOZE_PRESETS.map((preset) => (
            <button
              key={preset.label}
              type="button"
              onClick={() => {
                setOpen(false);
                onSnooze(preset.until(new Date()));
              }}
              className="block w-full px-3 py-1.5 text-left text-sm text-slate-800 hover:bg-slate-100"
            >
              {preset.label}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}
