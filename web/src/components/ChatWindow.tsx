/** One conversation: header (client, status, actions), messages, typing, input. */
import { useMutation } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { useApi, useSession } from "../hooks/useApi";
import { useChatStart, useConversation, useConversationLive } from "../hooks/useConversations";
import { useMessages } from "../hooks/useMessages";
import { useTypingIndicator, useTypingSender } from "../hooks/useTyping";
import { useWebSocket } from "../hooks/useWebSocket";
import type { ApiError } from "../services/api";
import type { ConnectionState } from "../services/socket";
import { rfc3339Local } from "../lib/snooze";
import { PRIORITIES, type Priority, type SettableStatus } from "../types";
import { MessageInput } from "./MessageInput";
import { MessageList } from "./MessageList";
import { StatusActions } from "./StatusActions";
import { StatusBadge } from "./StatusBadge";
import { TypingIndicator } from "./TypingIndicator";

type Action = { status: SettableStatus } | { priority: Priority } | { snoozeUntil: Date };

interface Props {
  conversationId: string;
  onSocketState: (state: ConnectionState) => void;
  reconnectSignal: number;
}

export function ChatWindow({ conversationId, onSocketState, reconnectSignal }: Props) {
  const api = useApi();
  const { identity } = useSession();
  const conversation = useConversation(conversationId);
  // The row first, then the socket (after its version) and the messages (see useChatStart).
  const start = useChatStart(conversationId, conversation.data);
  const { socket, state } = useWebSocket(start && { kind: "conversation", id: conversationId }, {
    after: start?.version,
  });
  useConversationLive(socket, conversationId);
  const messages = useMessages(conversationId, socket, start);
  const typists = useTypingIndicator(socket, identity.sub);
  const typing = useTypingSender(socket);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => onSocketState(state), [state, onSocketState]);
  useEffect(() => {
    if (reconnectSignal > 0) socket?.reconnect();
  }, [reconnectSignal, socket]);

  const act = useMutation({
    mutationFn: (action: Action) =>
      "status" in action
        ? api.changeStatus(conversationId, action.status)
        : "snoozeUntil" in action
          ? api.snooze(conversationId, rfc3339Local(action.snoozeUntil))
          : api.updateConversation(conversationId, { priority: action.priority }),
    onSuccess: () => setError(null),
    onError: (e: ApiError) => setError(`${e.message} (${e.code})`),
  });

  // Mark the client's messages read while this conversation is on screen.
  const current = conversation.data;
  const lastUnread = [...messages.messages]
    .reverse()
    .find((m) => m.sender === "client" && m.read_by_staff_at === null && !m.local);
  const marked = useRef(0);
  useEffect(() => {
    if (!lastUnread || !current || current.status === "closed" || state !== "connected") return;
    if (lastUnread.seq <= marked.current || document.visibilityState === "hidden") return;
    marked.current = lastUnread.seq;
    socket?.send({ type: "MARK_READ", up_to_seq: lastUnread.seq });
  }, [lastUnread, current, state, socket]);

  if (conversation.isPending) {
    return <p className="m-auto text-slate-500">Loading the conversation…</p>;
  }
  if (conversation.isError || !current) {
    return (
      <p role="alert" className="m-auto text-red-600">
        Cannot open this conversation: {conversation.error?.message ?? "not found"}
      </p>
    );
  }
  const closed = current.status === "closed";

  return (
    <section aria-label={`Conversation with ${current.client_name}`} className="flex h-full min-h-0 flex-col">
      <header className="flex flex-wrap items-center gap-3 border-b border-slate-200 bg-white px-4 py-3">
        <a href="#/" className="text-sm font-medium text-blue-700 underline md:hidden">
          <span aria-hidden="true">← </span>Inbox
        </a>
        <div className="min-w-0 flex-1">
          <h2 className="truncate text-lg font-semibold" data-testid="chat-client">
            {current.client_name}
          </h2>
          <p className="truncate text-xs text-slate-500">
            {current.channel} · {current.client_id}
            {current.summary ? ` · ${current.summary}` : ""}
          </p>
        </div>
        <StatusBadge status={current.status} snoozedUntil={current.snoozed_until} testId="chat-status" />
        <label className="flex items-center gap-1 text-sm">
          Priority
          <select
            aria-label="Priority"
            value={current.priority}
            disabled={closed || act.isPending}
            onChange={(e) => act.mutate({ priority: e.target.value as Priority })}
            className="rounded border border-slate-300 bg-white px-1 py-0.5"
          >
            {PRIORITIES.map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </label>
        <StatusActions
          status={current.status}
          busy={act.isPending}
          onStatus={(status) => act.mutate({ status })}
          onSnooze={(until) => act.mutate({ snoozeUntil: until })}
        />
      </header>
      {error && (
        <p role="alert" className="bg-red-50 px-4 py-1 text-sm text-red-700">
          {error}
        </p>
      )}
      {messages.isError ? (
        <p role="alert" className="m-auto text-red-600">
          Cannot load messages: {messages.error.message}
        </p>
      ) : messages.isPending ? (
        <p className="m-auto text-slate-500">Loading messages…</p>
      ) : (
        <MessageList
          messages={messages.messages}
          selfId={identity.sub}
          online={state === "connected"}
          hasOlder={messages.hasNextPage}
          loadingOlder={messages.isFetchingNextPage}
          onLoadOlder={() => void messages.fetchNextPage()}
        />
      )}
      <TypingIndicator typists={typists} />
      <MessageInput
        disabled={closed}
        disabledReason="This conversation is closed. Reopen it to reply."
        onSend={(content) => {
          typing?.stop(true); // a sent message ends the indicator by itself
          messages.send(content);
        }}
        onTyping={() => typing?.keystroke()}
        onStopTyping={() => typing?.stop()}
      />
    </section>
  );
}
