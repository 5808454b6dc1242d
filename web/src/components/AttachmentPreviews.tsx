/** The files attached in the composer, before sending: a preview (images),
 * the name and size, the upload's progress, why it was refused, and a
 * button to remove it. */
import type { PendingUpload } from "../hooks/useUploads";
import { PaperclipIcon } from "./Icons";

export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export function AttachmentPreviews({ items, onRemove }: { items: PendingUpload[]; onRemove: (key: string) => void }) {
  if (items.length === 0) return null;
  return (
    <ul aria-label="Attached files" className="mb-2 flex flex-wrap gap-2">
      {items.map((item) => (
        <li
          key={item.key}
          data-testid="pending-attachment"
          data-status={item.status}
          className={`flex w-full max-w-xs items-center gap-2 rounded-lg border p-1.5 text-sm sm:w-64 ${
            item.status === "error" ? "border-red-300 bg-red-50" : "border-slate-300 bg-slate-50"
          }`}
        >
          {item.preview ? (
            <img src={item.preview} alt="" className="h-10 w-10 shrink-0 rounded object-cover" />
          ) : (
            <span aria-hidden="true" className="flex h-10 w-10 shrink-0 items-center justify-center rounded bg-slate-200 text-slate-700">
              <PaperclipIcon />
            </span>
          )}
          <div className="min-w-0 flex-1">
            <p className="truncate font-medium text-slate-900" title={item.name}>
              {item.name}
            </p>
            {item.status === "uploading" && (
              <div
                role="progressbar"
                aria-label={`Uploading ${item.name}`}
                aria-valuemin={0}
                aria-valuemax={100}
                aria-valuenow={Math.round(item.progress * 100)}
                className="mt-1 h-1.5 w-full overflow-hidden rounded bg-slate-200"
              >
                <div className="h-full bg-blue-600 transition-[width]" style={{ width: `${Math.round(item.progress * 100)}%` }} />
              </div>
            )}
            {item.status === "done" && <p className="text-xs text-slate-600">{fileSize(item.size)} · ready to send</p>}
            {item.status === "error" && (
              <p role="alert" className="text-xs font-medium text-red-700">
                {item.error}
              </p>
            )}
          </div>
          <button
            type="button"
            onClick={() => onRemove(item.key)}
            aria-label={`Remove ${item.name}`}
            className="shrink-0 rounded px-2 py-1 text-slate-700 hover:bg-slate-200"
          >
            ✕
          </button>
        </li>
      ))}
    </ul>
  );
}
