/** A private note in the timeline: amber, and labelled in words ("Internal
 * note — not sent to the client"); its `@name`s highlighted (as text). */
import { timeOf } from "../lib/format";
import { splitMentions } from "../lib/suggest";
import type { Note } from "../services/composer";
import { LockIcon } from "./Icons";

export function NoteItem({ note, authorName, selfId }: { note: Note; authorName: string; selfId: string }) {
  const mine = note.author_id === selfId;
  return (
    <li className="my-2 flex justify-center" data-testid="note" data-note-id={note.note_id}>
      <div className="w-full max-w-[92%] rounded-lg border border-amber-300 bg-amber-50 px-3 py-2 text-slate-900 shadow-sm sm:max-w-[80%]">
        <p className="flex flex-wrap items-center gap-x-2 text-xs font-semibold text-amber-900">
          <LockIcon />
          <span>Internal note — not sent to the client</span>
          <span className="font-normal text-slate-700">· {mine ? "You" : authorName}</span>
        </p>
        <p className="mt-1 whitespace-pre-wrap [overflow-wrap:anywhere]" data-testid="note-content">
          {splitMentions(note.content).map((part, index) =>
            part.mention ? (
              <mark key={index} className="rounded bg-amber-200 px-0.5 font-semibold text-amber-950" data-testid="mention">
                {part.text}
              </mark>
            ) : (
              <span key={index}>{part.text}</span>
            ),
          )}
        </p>
        <p className="mt-0.5 text-right text-[11px] text-slate-700">
          <time dateTime={note.created_at}>{timeOf(note.created_at)}</time>
        </p>
      </div>
    </li>
  );
}
