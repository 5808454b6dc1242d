/** The composer. Enter sends, Shift+Enter starts a new line; a character
 * count. With a `draftKey` (see useDraft) the text is kept as a draft until
 * it is sent. With `onNote`, a Reply / Note switch: a note is for staff only
 * (amber, and said in words), `@` suggests colleagues to mention. `/` at the
 * start suggests canned responses. With `uploads`, files attach by the
 * picker, a paste or a drop (on the conversation: ChatWindow), each with
 * its progress and a preview. With `stale`, the stale-action guard's
 * question. The open composer registers itself for `focusComposer` (the
 * `r` and `n` shortcuts). */
import { useId, useLayoutEffect, useRef, useState, type ClipboardEvent, type KeyboardEvent } from "react";
import { useRegisterComposer, type ComposerMode } from "../hooks/useComposerHandle";
import { useDraft } from "../hooks/useDraft";
import type { Outgoing, Refusal } from "../hooks/useStaleGuard";
import { useSuggestions, type SuggestionSources } from "../hooks/useSuggestions";
import { restoredUpload, type PendingUpload, type Uploads } from "../hooks/useUploads";
import { mentionedIds } from "../lib/suggest";
import { AttachmentPicker } from "./AttachmentPicker";
import { AttachmentPreviews } from "./AttachmentPreviews";
import { NoteToggle } from "./NoteToggle";
import { StaleBanner } from "./StaleBanner";
import { optionId, SuggestionList } from "./SuggestionList";

export const MAX_LENGTH = 4000;

interface Props {
  /** No replies (a closed conversation); notes stay possible. */
  disabled: boolean;
  disabledReason?: string;
  /** A reply: its text, and the uploaded files it carries (given only when there are some). */
  onSend: (content: string, files?: PendingUpload[]) => void;
  onTyping: () => void;
  onStopTyping: () => void;
  /** The reply's text was emptied by hand (the stale-action guard forgets when it began). */
  onCleared?: () => void;
  draftKey?: string | null;
  /** Colleagues for `@`, canned responses for `/`: without them, no suggestions. */
  sources?: SuggestionSources;
  onNote?: (content: string, mentions: string[]) => Promise<unknown>;
  uploads?: Uploads;
  conversationId?: string;
  stale?: { refusal: Refusal | null; onSendAnyway: () => void; onReview: () => Outgoing[] };
}

export function MessageInput(props: Props) {
  const { disabled, disabledReason, onSend, onTyping, onStopTyping, draftKey = null, onNote, uploads, stale, sources } = props;
  const [text, setText, clearDraft] = useDraft(draftKey);
  const [mode, setMode] = useState<ComposerMode>("reply");
  const [caret, setCaret] = useState(0);
  const [noteError, setNoteError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const inserted = useRef(new Map<string, string>());
  const box = useRef<HTMLTextAreaElement>(null);
  const nextCaret = useRef<number | null>(null);
  const id = useId();
  const listId = `${id}-suggestions`;
  const note = mode === "note" && onNote !== undefined;
  const locked = note ? false : disabled;
  const files = uploads?.items ?? [];
  const ready = note ? [] : (uploads?.ready ?? []);
  const blank = text.trim() === "" && ready.length === 0;
  const tooLong = text.length > MAX_LENGTH;
  const uploading = !note && (uploads?.uploading ?? false);

  const changeMode = (next: ComposerMode) => {
    if (next === "note" && !onNote) return;
    setMode(next);
    setNoteError(null);
  };
  useRegisterComposer({
    focus: (next) => {
      if (next) changeMode(next);
      box.current?.focus();
    },
  });

  const setTextAt = (value: string, at: number, mention?: { id: string; token: string }) => {
    if (mention) inserted.current.set(mention.id, mention.token);
    setText(value);
    setCaret(at);
    nextCaret.current = at;
  };
  useLayoutEffect(() => {
    if (nextCaret.current === null || !box.current) return;
    box.current.setSelectionRange(nextCaret.current, nextCaret.current);
    nextCaret.current = null;
  });
  const suggestions = useSuggestions({ sources, text, caret, mode: note ? "note" : "reply", onInsert: setTextAt });
  const listOpen = suggestions.kind !== null && suggestions.items.length > 0;

  const send = () => {
    if (locked || busy || blank || tooLong || uploading) return;
    if (note && onNote) {
      setBusy(true);
      setNoteError(null);
      onNote(text, mentionedIds(text, inserted.current)).then(
        () => {
          clearDraft();
          inserted.current.clear();
        },
        (error: unknown) => setNoteError(`The note was not added: ${error instanceof Error ? error.message : String(error)}`),
      ).finally(() => setBusy(false));
      return;
    }
    if (ready.length > 0) onSend(text, ready);
    else onSend(text);
    uploads?.clearDone();
    onStopTyping();
    clearDraft();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (suggestions.onKeyDown(event)) return;
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  };

  const onPaste = (event: ClipboardEvent<HTMLTextAreaElement>) => {
    const pasted = [...event.clipboardData.files];
    if (!uploads || pasted.length === 0 || disabled) return;
    event.preventDefault();
    if (note) changeMode("reply");
    uploads.add(pasted);
  };

  const review = () => {
    if (!stale) return;
    const back = stale.onReview();
    const words = back.filter((o) => !o.attachment || o.content !== o.attachment.name).map((o) => o.content);
    if (words.length > 0 && text.trim() === "") setText(words.join("\n"));
    const again = back.flatMap((o) => (o.attachment ? [restoredUpload(o.attachment, props.conversationId ?? "")] : []));
    if (again.length > 0) uploads?.restore(again);
    setMode("reply");
    box.current?.focus();
  };

  const label = note ? "Internal note" : "Message";
  const placeholder = note
    ? "Write a note for your colleagues… (@ to mention someone)"
    : disabled
      ? (disabledReason ?? "")
      : "Write a message… (Enter sends, / for canned replies)";

  return (
    <form
      className={`border-t p-2 sm:p-3 ${note ? "border-amber-300 bg-amber-50" : "border-slate-200 bg-white"}`}
      data-mode={mode}
      data-testid="composer"
      onSubmit={(event) => {
        event.preventDefault();
        send();
      }}
    >
      {stale?.refusal && <StaleBanner refusal={stale.refusal} onSendAnyway={stale.onSendAnyway} onReview={review} />}
      {(onNote || uploads) && (
        <div className="mb-2 flex flex-wrap items-center gap-2">
          {onNote && <NoteToggle mode={mode} onMode={changeMode} />}
          {uploads && !note && <AttachmentPicker onFiles={(f) => uploads.add(f)} disabled={disabled} />}
          {note && (
            <p className="text-sm font-semibold text-amber-900" data-testid="note-mode-label">
              Internal note — not sent to the client
            </p>
          )}
        </div>
      )}
      {!note && <AttachmentPreviews items={files} onRemove={(key) => uploads?.remove(key)} />}
      {note && ready.length === 0 && (uploads?.ready.length ?? 0) > 0 && (
        <p className="mb-1 text-xs text-slate-700">Attached files go with your next reply, not with a note.</p>
      )}
      <label htmlFor={id} className="sr-only">
        {label}
      </label>
      <div className="relative flex items-end gap-2">
        <SuggestionList id={listId} suggestions={suggestions} />
        <textarea
          ref={box}
          id={id}
          rows={2}
          value={text}
          disabled={locked}
          placeholder={placeholder}
          onChange={(event) => {
            setText(event.target.value);
            setCaret(event.target.selectionStart ?? event.target.value.length);
            if (note) return;
            if (event.target.value === "") {
              onStopTyping();
              props.onCleared?.();
            } else onTyping();
          }}
          onSelect={(event) => setCaret(event.currentTarget.selectionStart ?? 0)}
          onBlur={onStopTyping}
          onKeyDown={onKeyDown}
          onPaste={onPaste}
          aria-describedby={`${id}-count`}
          aria-autocomplete="list"
          aria-controls={listOpen ? listId : undefined}
          aria-activedescendant={listOpen ? optionId(listId, suggestions.active) : undefined}
          className={`min-w-0 flex-1 resize-none rounded-lg border px-3 py-2 disabled:bg-slate-100 disabled:text-slate-500 ${
            note ? "border-amber-400 bg-white" : "border-slate-300"
          }`}
        />
        <button
          type="submit"
          disabled={locked || busy || blank || tooLong || uploading}
          className={`rounded-lg px-4 py-2 font-medium text-white disabled:bg-slate-300 ${
            note ? "bg-amber-700 hover:bg-amber-800" : "bg-blue-600 hover:bg-blue-700"
          }`}
        >
          {note ? "Add note" : uploading ? "Uploading…" : "Send"}
        </button>
      </div>
      {noteError && (
        <p role="alert" className="mt-1 text-sm text-red-700">
          {noteError}
        </p>
      )}
      <div id={`${id}-count`} className={`mt-1 text-right text-xs ${tooLong ? "text-red-600" : "text-slate-600"}`}>
        {text.length} / {MAX_LENGTH}
      </div>
    </form>
  );
}
