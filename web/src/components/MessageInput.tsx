/** Enter sends, Shift+Enter starts a new line; a character count; disabled
 * when closed. With a `draftKey` (see useDraft) the text is kept as a draft
 * until it is sent. */
import { useId, type KeyboardEvent } from "react";
import { useDraft } from "../hooks/useDraft";

export const MAX_LENGTH = 4000;

interface Props {
  disabled: boolean;
  disabledReason?: string;
  onSend: (content: string) => void;
  onTyping: () => void;
  onStopTyping: () => void;
  draftKey?: string | null;
}

export function MessageInput({ disabled, disabledReason, onSend, onTyping, onStopTyping, draftKey = null }: Props) {
  const [text, setText, clearDraft] = useDraft(draftKey);
  const id = useId();
  const blank = text.trim() === "";
  const tooLong = text.length > MAX_LENGTH;

  const send = () => {
    if (disabled || blank || tooLong) return;
    onSend(text);
    onStopTyping();
    clearDraft();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  };

  return (
    <form
      className="border-t border-slate-200 bg-white p-3"
      onSubmit={(event) => {
        event.preventDefault();
        send();
      }}
    >
      <label htmlFor={id} className="sr-only">
        Message
      </label>
      <div className="flex items-end gap-2">
        <textarea
          id={id}
          rows={2}
          value={text}
          disabled={disabled}
          placeholder={disabled ? (disabledReason ?? "") : "Write a message… (Enter to send, Shift+Enter for a new line)"}
          onChange={(event) => {
            setText(event.target.value);
            if (event.target.value === "") onStopTyping();
            else onTyping();
          }}
          onBlur={onStopTyping}
          onKeyDown={onKeyDown}
          aria-describedby={`${id}-count`}
          className="min-w-0 flex-1 resize-none rounded-lg border border-slate-300 px-3 py-2 disabled:bg-slate-100 disabled:text-slate-400"
        />
        <button
          type="submit"
          disabled={disabled || blank || tooLong}
          className="rounded-lg bg-blue-600 px-4 py-2 font-medium text-white hover:bg-blue-700 disabled:bg-slate-300"
        >
          Send
        </button>
      </div>
      <div id={`${id}-count`} className={`mt-1 text-right text-xs ${tooLong ? "text-red-600" : "text-slate-500"}`}>
        {text.length} / {MAX_LENGTH}
      </div>
    </form>
  );
}
