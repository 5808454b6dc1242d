/** An image at full size over the page: Escape, the Close button or a click
 * outside closes it, focus stays inside while open and goes back to the
 * thumbnail that opened it. */
import { useEffect, useRef, useState } from "react";
import { safeUrl } from "../lib/format";

interface Props {
  name: string;
  /** The image's URL; null while it is being asked for. */
  url: string | null | undefined;
  /** The URL could not be had. */
  failed?: boolean;
  onClose: () => void;
}

export function Lightbox({ name, url, failed = false, onClose }: Props) {
  const close = useRef<HTMLButtonElement>(null);
  const [broken, setBroken] = useState(false);
  const src = safeUrl(url);

  useEffect(() => {
    const opener = document.activeElement;
    close.current?.focus();
    return () => (opener instanceof HTMLElement ? opener.focus() : undefined);
  }, []);

  return (
    <div className="fixed inset-0 z-30 flex items-center justify-center bg-slate-950/85 p-2 sm:p-6" onMouseDown={onClose}>
      <div
        role="dialog"
        aria-modal="true"
        aria-label={`Image: ${name}`}
        data-testid="lightbox"
        className="flex max-h-full max-w-full flex-col items-center gap-2"
        onMouseDown={(e) => e.stopPropagation()}
        onKeyDown={(e) => {
          if (e.key === "Escape") {
            e.stopPropagation();
            onClose();
          }
          if (e.key === "Tab") {
            // Two controls at most: keep the focus on them.
            const controls = [...e.currentTarget.querySelectorAll<HTMLElement>("a[href], button")];
            const index = controls.indexOf(document.activeElement as HTMLElement);
            e.preventDefault();
            controls[(index + (e.shiftKey ? -1 : 1) + controls.length) % controls.length]?.focus();
          }
        }}
      >
        <div className="flex w-full flex-wrap items-center justify-between gap-2 text-white">
          <p className="min-w-0 truncate font-medium">{name}</p>
          <div className="flex gap-2">
            {src && !broken && (
              <a href={src} download={name} className="rounded-md bg-white/15 px-3 py-1 text-sm font-medium hover:bg-white/25">
                Download
              </a>
            )}
            <button ref={close} type="button" onClick={onClose} className="rounded-md bg-white px-3 py-1 text-sm font-medium text-slate-900 hover:bg-slate-200">
              Close
            </button>
          </div>
        </div>
        {broken || failed ? (
          <p className="rounded-lg bg-white px-4 py-6 text-slate-900">
            {name} — image unavailable
          </p>
        ) : src ? (
          <img src={src} alt={name} onError={() => setBroken(true)} className="max-h-[80vh] max-w-full rounded object-contain" />
        ) : (
          <p className="text-white">Loading…</p>
        )}
      </div>
    </div>
  );
}
