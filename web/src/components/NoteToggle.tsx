/** Reply or Note: what the composer writes. A note is for staff only, and the
 * switch says so in words, not only in colour. */
import type { ComposerMode } from "../hooks/useComposerHandle";

export function NoteToggle({ mode, onMode, disabled }: { mode: ComposerMode; onMode: (mode: ComposerMode) => void; disabled?: boolean }) {
  const button = (value: ComposerMode, label: string, on: string) => (
    <button
      type="button"
      aria-pressed={mode === value}
      disabled={disabled}
      onClick={() => onMode(value)}
      className={`rounded-md px-3 py-1 text-sm font-medium ${mode === value ? on : "text-slate-700 hover:bg-slate-200"} disabled:opacity-50`}
    >
      {label}
    </button>
  );
  return (
    <div role="group" aria-label="Write a reply or a private note" className="inline-flex rounded-lg bg-slate-100 p-0.5">
      {button("reply", "Reply", "bg-white text-slate-900 shadow-sm")}
      {button("note", "Note", "bg-amber-200 text-amber-950 shadow-sm")}
    </div>
  );
}
