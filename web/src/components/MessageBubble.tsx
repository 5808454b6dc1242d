/** One message (with its attachment: AttachmentView). Content is always rendered as text (React escapes it): no HTML
 * from a message ever reaches the DOM as markup. */
import { timeOf } from "../lib/format";
import type { ShownMessage } from "../hooks/useMessages";
import { AttachmentView } from "./AttachmentView";

/** ✓ sent, ✓✓ read by the client: two marks against one (and bolder), and said in words to screen readers. */
function Ticks({ message, online }: { message: ShownMessage; online: boolean }) {
  if (message.local === "failed") {
    return <span className="font-semibold text-white">Not sent: {message.error}</span>;
  }
  if (message.local === "pending") {
    return <span data-testid="pending">{online ? "Sending…" : "Queued"}</span>;
  }
  const read = message.read_by_client_at !== null;
  const words = read ? "Read" : "Sent";
  return (
    <span data-testid="ticks" data-read={read} title={words} className={read ? "font-bold text-white" : ""}>
      <span aria-hidden="true">{read ? "✓✓" : "✓"}</span>
      <span className="sr-only">{words}</span>
    </span>
  );
}

interface Props {
  message: ShownMessage;
  /** Who wrote it, by name (shown on messages not one's own). */
  senderName: string;
  selfId: string;
  online: boolean;
  firstUnread: boolean;
}

export function MessageBubble({ message, senderName, selfId, online, firstUnread }: Props) {
  if (message.sender === "system") {
    return (
      <li className="my-2 text-center text-xs italic text-slate-600" data-testid="message" data-seq={message.seq}>
        <span className="whitespace-pre-wrap [overflow-wrap:anywhere]">{message.content}</span> · {timeOf(message.created_at)}
      </li>
    );
  }
  const mine = message.sender === "admin";
  return (
    <li
      className={`my-1 flex ${mine ? "justify-end" : "justify-start"}`}
      data-testid="message"
      data-sender={message.sender}
      data-seq={message.local ? undefined : message.seq}
      data-first-unread={firstUnread || undefined}
    >
      <div
        className={`min-w-0 max-w-[85%] rounded-2xl sm:max-w-[75%] px-3 py-2 shadow-sm ${
          mine ? "rounded-br-sm bg-blue-700 text-white" : "rounded-bl-sm bg-white text-slate-900"
        } ${message.local === "failed" ? "opacity-70" : ""}`}
      >
        {message.sender_id !== selfId && (
          <div data-testid="sender" className={`text-xs font-semibold ${mine ? "text-blue-100" : "text-slate-600"}`}>
            {senderName}
          </div>
        )}
        <AttachmentView attachment={message.attachment} type={message.message_type} />
        {/* A file sent without words carries its name as content: not said twice. */}
        {(message.attachment?.attachment_id == null || message.content !== message.attachment.name) && (
          <p className="whitespace-pre-wrap [overflow-wrap:anywhere]" data-testid="message-content">
            {message.content}
          </p>
        )}
        <div className={`mt-0.5 flex justify-end gap-1.5 text-[11px] ${mine ? "text-blue-100" : "text-slate-600"}`}>
          <time dateTime={message.created_at}>{timeOf(message.created_at)}</time>
          {mine && <Ticks message={message} online={online} />}
        </div>
      </div>
    </li>
  );
}
