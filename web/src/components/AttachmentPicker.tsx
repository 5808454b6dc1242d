/** The composer's "Attach" button: opens the file chooser (several files; the
 * server decides from the bytes what it accepts: images, PDF, plain text). */
import { useRef } from "react";
import { PaperclipIcon } from "./Icons";

export const ACCEPT = "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain";

export function AttachmentPicker({ onFiles, disabled }: { onFiles: (files: File[]) => void; disabled?: boolean }) {
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <button
        type="button"
        disabled={disabled}
        onClick={() => input.current?.click()}
        className="rounded-md px-3 py-1 text-sm font-medium text-slate-700 hover:bg-slate-200 disabled:opacity-50"
      >
        <PaperclipIcon /> Attach files
      </button>
      <input
        ref={input}
        type="file"
        multiple
        hidden
        accept={ACCEPT}
        data-testid="attachment-input"
        aria-label="Choose files to attach"
        onChange={(event) => {
          const files = [...(event.target.files ?? [])];
          event.target.value = ""; // the same file may be chosen again
          if (files.length > 0) onFiles(files);
        }}
      />
    </>
  );
}
