/** The messages, with the status changes between them, grouped by day; older
 * pages load on scrolling to the top (or the button); opens at the first
 * unread message; follows new ones (and images as they load). */
import { Fragment, useEffect, useLayoutEffect, useMemo, useRef } from "react";
import { dayKey, dayLabel } from "../lib/format";
import { withNotes, type ChatItem } from "../lib/chatItems";
import { interleave } from "../lib/timeline";
import type { ShownMessage } from "../hooks/useMessages";
import type { Note } from "../services/composer";
import type { SystemEntry } from "../types";
import { MessageBubble } from "./MessageBubble";
import { NoteItem } from "./NoteItem";
import { StatusEntry } from "./StatusEntry";

interface Props {
  messages: ShownMessage[];
  entries: SystemEntry[];
  nameOf: (message: ShownMessage) => string;
  selfId: string;
  online: boolean;
  hasOlder: boolean;
  loadingOlder: boolean;
  onLoadOlder: () => void;
  /** The viewer's own unread count (per-agent read state); without it, the
   * first client message no staff member has read. */
  myUnread?: number | undefined;
  /** Private notes (staff only), between the messages by position, and their authors' names. */
  notes?: Note[];
  noteAuthor?: (note: Note) => string;
}

/** The seq of the first message unread by the viewer: with `myUnread`, the
 * `myUnread`-th client message from the end (the oldest loaded one when fewer
 * are loaded); else the first client message nobody on the staff has read. */
export function firstUnreadSeq(messages: ShownMessage[], myUnread?: number): number | null {
  const fromClient = messages.filter((m) => m.sender === "client" && !m.local);
  if (myUnread === undefined) return fromClient.find((m) => m.read_by_staff_at === null)?.seq ?? null;
  if (myUnread <= 0) return null;
  return fromClient[Math.max(0, fromClient.length - myUnread)]?.seq ?? null;
}

const NEAR_BOTTOM = 120;

const NO_NOTES: Note[] = [];
const createdAt = (item: ChatItem) =>
  item.kind === "message" ? item.message.created_at : item.kind === "note" ? item.note.created_at : item.entry.created_at;
const keyOf = (item: ChatItem) =>
  item.kind === "message"
    ? (item.message.client_message_id ?? item.message.message_id)
    : item.kind === "note"
      ? `note-${item.note.note_id}`
      : `entry-${item.entry.position}`;

export function MessageList(props: Props) {
  const { messages, entries, nameOf, selfId, online, hasOlder, loadingOlder, onLoadOlder, myUnread } = props;
  const notes = props.notes ?? NO_NOTES;
  const scroller = useRef<HTMLDivElement>(null);
  const sentinel = useRef<HTMLDivElement>(null);
  const opened = useRef(false);
  const atBottom = useRef(true);
  const previous = useRef({ first: 0, last: "", height: 0 });
  // Where unread messages began when the conversation was opened: the divider
  // stays there while it is open, even once they are marked read.
  const unreadFrom = useRef<number | null | undefined>(undefined);
  if (unreadFrom.current === undefined && messages.length > 0) {
    unreadFrom.current = firstUnreadSeq(messages, myUnread);
  }
  const firstUnread = unreadFrom.current == null ? undefined : messages.find((m) => m.seq === unreadFrom.current && !m.local);

  const items = useMemo(() => withNotes(interleave(messages, entries), notes), [messages, entries, notes]);

  // Keep the place when older messages are added above; follow new ones (and
  // status changes) at the bottom.
  useLayoutEffect(() => {
    const box = scroller.current;
    if (!box || messages.length === 0) return;
    const first = messages[0]?.seq ?? 0;
    const lastMessage = messages[messages.length - 1];
    const lastItem = items[items.length - 1];
    const last = lastItem ? keyOf(lastItem) : "";
    if (!opened.current) {
      opened.current = true;
      const target = box.querySelector<HTMLElement>("[data-first-unread]");
      if (target) target.scrollIntoView?.({ block: "center" });
      else box.scrollTop = box.scrollHeight;
    } else if (first < previous.current.first) {
      box.scrollTop += box.scrollHeight - previous.current.height;
    } else if (last !== previous.current.last && (atBottom.current || lastMessage?.local)) {
      box.scrollTop = box.scrollHeight;
    }
    previous.current = { first, last, height: box.scrollHeight };
  }, [messages, items]);

  useEffect(() => {
    const target = sentinel.current;
    if (!target || !hasOlder || typeof IntersectionObserver === "undefined") return undefined;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && opened.current && !loadingOlder) onLoadOlder();
    });
    observer.observe(target);
    return () => observer.disconnect();
  }, [hasOlder, loadingOlder, onLoadOlder]);

  // An image that loads grows its message: stay at the bottom if we were there.
  useEffect(() => {
    const box = scroller.current;
    if (!box) return undefined;
    const onLoad = (event: Event) => {
      if (event.target instanceof HTMLImageElement && atBottom.current) box.scrollTop = box.scrollHeight;
    };
    box.addEventListener("load", onLoad, true);
    return () => box.removeEventListener("load", onLoad, true);
  }, []);

  const onScroll = () => {
    const box = scroller.current;
    if (box) atBottom.current = box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_BOTTOM;
  };

  return (
    // `relative`: the timeline holds (and clips) its positioned parts, such as
    // the screen-reader-only words, so they never lengthen the page.
    <div
      ref={scroller}
      onScroll={onScroll}
      className="relative min-h-0 flex-1 overflow-y-auto overflow-x-hidden px-2 py-2 sm:px-4"
      tabIndex={0}
      aria-label="Messages"
      role="region"
    >
      <div ref={sentinel} />
      {hasOlder && (
        <div className="my-2 text-center">
          <button
            type="button"
            onClick={onLoadOlder}
            disabled={loadingOlder}
            className="rounded border border-slate-300 bg-white px-3 py-1 text-sm hover:bg-slate-50 disabled:opacity-50"
          >
            {loadingOlder ? "Loading…" : "Load older messages"}
          </button>
        </div>
      )}
      {messages.length === 0 && notes.length === 0 && <p className="mt-10 text-center text-slate-600">No messages yet. Say hello.</p>}
      <ol aria-label="Message history">
        {items.map((item, index) => {
          const day = dayKey(createdAt(item));
          const previous = items[index - 1];
          const newDay = !previous || dayKey(createdAt(previous)) !== day;
          return (
            <Fragment key={keyOf(item)}>
              {newDay && (
                <li className="my-3 text-center text-xs font-medium text-slate-600">
                  {dayLabel(createdAt(item))}
                </li>
              )}
              {item.kind === "message" && item.message === firstUnread && (
                <li className="my-2 border-t border-red-300 text-center text-xs text-red-700">Unread messages</li>
              )}
              {item.kind === "note" ? (
                <NoteItem note={item.note} authorName={props.noteAuthor?.(item.note) ?? item.note.author_name ?? item.note.author_id} selfId={selfId} />
              ) : item.kind === "status" ? (
                <StatusEntry entry={item.entry} />
              ) : (
                <MessageBubble
                  message={item.message}
                  senderName={nameOf(item.message)}
                  selfId={selfId}
                  online={online}
                  firstUnread={item.message === firstUnread}
                />
              )}
            </Fragment>
          );
        })}
      </ol>
    </div>
  );
}
