/** One message. Content is always rendered as text (React escapes it): no HTML
 * from a message ever reaches the DOM as markup. */
import { safeUrl, timeOf } from "../lib/format";
import type { ShownMessage } from "../hooks/useMessages";

function Ticks({ message, online }: { message: ShownMessage; online: boolean }) {
  if (message.local === "failed") {
    return <span className="text-red-200">Not sent: {message.error}</span>;
  }
  if (message.local === "pending") {
    return <span data-testid="pending">{online ? "Sending…" : "Queued"}</span>;
  }
  const read = message.read_by_client_at !== null;
  return (
    <span aria-label={read ? "Read" : "Sent"} title={read ? "Read" : "Sent"} className={read ? "text-sky-200" : ""}>
      {read ? "✓✓" : "✓"}
    </span>
  );
}

function Attachment({ message }: { message: ShownMessage }) {
  const url = safeUrl(message.attachment?.url);
  if (!url) return null;
  const name = message.attachment?.name ?? url.split("/").pop() ?? "file";
  if (message.message_type === "image") {
    return <img src={url} alt={name} className="mb-1 max-h-60 rounded" loading="lazy" />;
  }
  return (
    <a href={url} target="_blank" rel="noopener noreferrer" className="mb-1 block underline" download={name}>
      📎 {name}
    </a>
  );
}

interface Props {
  message: ShownMessage;
  selfId: string;
  online: boolean;
  firstUnread: boolean;
}

export function MessageBubble({ message, selfId, online, firstUnread }: Props) {
  if (message.sender === "system") {
    return (
      <li className="my-2 text-center text-xs italic text-slate-500" data-testid="message" data-seq={message.seq}>
        <span className="whitespace-pre-wrap">{message.content}</span> · {timeOf(message.created_at)}
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
        className={`max-w-[75%] rounded-2xl px-3 py-2 shadow-sm ${
          mine ? "rounded-br-sm bg-blue-600 text-white" : "rounded-bl-sm bg-white text-slate-900"
        } ${message.local === "failed" ? "opacity-70" : ""}`}
      >
        {message.sender_id !== selfId && (
          <div className={`text-xs font-semibold ${mine ? "text-blue-100" : "text-slate-500"}`}>{message.sender_id}</div>
        )}
        <Attachment message={message} />
        <p className="whitespace-pre-wrap break-words" data-testid="message-content">
          {message.content}
        </p>
        <div className={`mt-0.5 flex justify-end gap-1.5 text-[11px] ${mine ? "text-blue-100" : "text-slate-400"}`}>
          <time dateTime={message.created_at}>{timeOf(message.created_at)}</time>
          {mine && <Ticks message={message} online={online} />}
        </div>
      </div>
    </li>
  );
}
