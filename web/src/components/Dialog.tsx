/** A modal dialog: titled, focus kept inside (Tab and Shift+Tab cycle), Escape
 * or a click outside cancels, and focus returns to the opener on closing.
 * The element named by `initialFocus` (a ref) is focused on opening. */
import { useEffect, useId, type KeyboardEvent, type ReactNode, type RefObject } from "react";

/** Tab and Shift+Tab cycle through the dialog's controls only. */
function keepFocusInside(event: KeyboardEvent<HTMLElement>) {
  const controls = [...event.currentTarget.querySelectorAll<HTMLElement>("input, select, textarea, button")].filter(
    (element) => !element.hasAttribute("disabled"),
  );
  const first = controls[0];
  const last = controls[controls.length - 1];
  if (!first || !last) return;
  if (event.shiftKey && document.activeElement === first) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && document.activeElement === last) {
    event.preventDefault();
    first.focus();
  }
}

interface Props {
  title: string;
  onCancel: () => void;
  initialFocus: RefObject<HTMLElement | null>;
  children: ReactNode;
}

export function Dialog({ title, onCancel, initialFocus, children }: Props) {
  const titleId = useId();

  useEffect(() => {
    const opener = document.activeElement;
    initialFocus.current?.focus();
    return () => (opener instanceof HTMLElement ? opener.focus() : undefined);
  }, [initialFocus]);

  return (
    <div className="fixed inset-0 z-20 flex items-center justify-center bg-slate-900/40 p-4" onMouseDown={onCancel}>
      <div
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        className="max-h-full w-full max-w-md overflow-y-auto rounded-lg bg-white p-5 text-slate-900 shadow-xl"
        onMouseDown={(e) => e.stopPropagation()}
        onKeyDown={(e) => {
          if (e.key === "Escape") onCancel();
          if (e.key === "Tab") keepFocusInside(e);
        }}
      >
        <h2 id={titleId} className="mb-3 text-lg font-semibold">
          {title}
        </h2>
        {children}
      </div>
    </div>
  );
}
