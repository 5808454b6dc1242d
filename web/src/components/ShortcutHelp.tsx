/** `?`: the keyboard shortcuts, in a dialog. */
import { useRef } from "react";
import { SHORTCUTS } from "../hooks/useShortcuts";
import { Dialog } from "./Dialog";

export function ShortcutHelp({ onClose }: { onClose: () => void }) {
  const close = useRef<HTMLButtonElement>(null);
  return (
    <Dialog title="Keyboard shortcuts" onCancel={onClose} initialFocus={close}>
      <p className="mb-2 text-sm text-slate-700">Not while typing in a field or with a dialog open.</p>
      <dl className="grid grid-cols-[auto_minmax(0,1fr)] items-center gap-x-4 gap-y-1.5 text-sm" data-testid="shortcut-list">
        {SHORTCUTS.map(([key, what]) => (
          <div key={key} className="contents">
            <dt>
              <kbd className="inline-block min-w-7 rounded border border-slate-300 bg-slate-100 px-1.5 py-0.5 text-center font-mono text-slate-900">
                {key}
              </kbd>
            </dt>
            <dd className="text-slate-800">{what}</dd>
          </div>
        ))}
      </dl>
      <div className="mt-4 flex justify-end">
        <button ref={close} type="button" onClick={onClose} className="rounded bg-slate-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-slate-800">
          Close
        </button>
      </div>
    </Dialog>
  );
}
