/** One conversation: its header (ChatHeader, with who is here), the timeline
 * (messages, private notes and status changes), typing, the composer (its
 * draft kept per person and conversation; replies or notes, files by picker,
 * paste or a drop anywhere on the conversation, the stale-action guard); new
 * messages from others are announced to screen readers. */
import { useMutation } from "@tanstack/react-query";
import { useCallback, useEffect, useRef } from "react";
import { useActionError } from "../hooks/useActionError";
import { useAnnouncement } from "../hooks/useAnnouncement";
import { useApi, useSession } from "../hooks/useApi";
import { useComposerSend } from "../hooks/useComposerSend";
import { useChatStart, useConversation, useConversationLive } from "../hooks/useConversations";
import { draftKey } from "../hooks/useDraft";
import { useFileDrop } from "../hooks/useFileDrop";
import { usePresence } from "../hooks/usePresence";
import { useMessages, type ShownMessage } from "../hooks/useMessages";
import { useNotes } from "../hooks/useNotes";
import { useStaffNames } from "../hooks/useStaffNames";
import { useStatusEntries } from "../hooks/useStatusEntries";
import { useSuggestionSources } from "../hooks/useSuggestions";
import { useTypingIndicator, useTypingSender } from "../hooks/useTyping";
import { useUploads } from "../hooks/useUploads";
import { useWebSocket } from "../hooks/useWebSocket";
import type { ApiError } from "../services/api";
import type { ConnectionState } from "../services/socket";
import { rfc3339Local } from "../lib/snooze";
import type { MessageCreatedFrame } from "../types";
import { ChatHeader, type ChatAction } from "./ChatHeader";
import { MessageInput } from "./MessageInput";
import { MessageList } from "./MessageList";
import { PresenceDots } from "./PresenceDots";
import { TypingIndicator } from "./TypingIndicator";

interface Props {
  conversationId: string;
  onSocketState: (state: ConnectionState) => void;
  reconnectSignal: number;
  /** Back to the inbox (the button shows on narrow screens, where the chat has the screen alone). */
  onBack: () => void;
}

export function ChatWindow({ conversationId, onSocketState, reconnectSignal, onBack }: Props) {
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
  const staffName = useStaffNames();
  const typists = useTypingIndicator(socket, identity.sub).map(staffName);
  const typing = useTypingSender(socket);
  const { error, fail, clear } = useActionError(state);
  // Status changes from the oldest message on screen on (all of them once the start is loaded).
  const oldest = messages.messages[0];
  const entriesFrom = messages.isPending ? null : messages.hasNextPage && oldest ? oldest.position : 0;
  const entries = useStatusEntries(conversationId, socket, entriesFrom);
  const notes = useNotes(conversationId, socket, entriesFrom);
  const uploads = useUploads(conversationId);
  const sources = useSuggestionSources();
  const composer = useComposerSend(socket, messages.send);
  const drop = useFileDrop(uploads.add, conversation.data?.status !== "closed");
  const clientName = conversation.data?.client_name ?? "the client";
  const nameOf = useCallback(
    (message: ShownMessage | MessageCreatedFrame) =>
      message.sender === "client" ? clientName : (message.sender_name ?? staffName(message.sender_id)),
    [clientName, staffName],
  );
  const announcement = useAnnouncement(socket, identity.sub, nameOf);
  const presence = usePresence(socket, conversationId);

  useEffect(() => onSocketState(state), [state, onSocketState]);
  useEffect(() => {
    if (reconnectSignal > 0) socket?.reconnect();
  }, [reconnectSignal, socket]);

  const act = useMutation({
    mutationFn: (action: ChatAction) =>
      "status" in action
        ? api.changeStatus(conversationId, action.status, action.reason)
        : "snoozeUntil" in action
          ? api.snooze(conversationId, rfc3339Local(action.snoozeUntil))
          : api.updateConversation(conversationId, { priority: action.priority }),
    onSuccess: clear,
    onError: (e: ApiError) => fail(e),
  });

  // Mark the client's messages read while this conversation is on screen (a
  // closed one too: reading moves the reader's cursor, not the conversation).
  // Read state is per agent: a message a colleague read (read_by_staff_at set)
  // is still unread for me while my own unread (my_unread) says so.
  const current = conversation.data;
  const lastClient = [...messages.messages].reverse().find((m) => m.sender === "client" && !m.local);
  const mine = current?.my_unread ?? 0;
  const lastUnread = lastClient && (lastClient.read_by_staff_at === null || mine > 0) ? lastClient : undefined;
  const marked = useRef(0);
  useEffect(() => {
    if (!lastUnread || !current || state !== "connected") return;
    if (lastUnread.seq <= marked.current || document.visibilityState === "hidden") return;
    marked.current = lastUnread.seq;
    socket?.send({ type: "MARK_READ", up_to_seq: lastUnread.seq });
  }, [lastUnread, current, state, socket]);

  if (conversation.isPending) {
    return <p className="m-auto text-slate-600">Loading the conversation…</p>;
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
    <section
      aria-label={`Conversation with ${current.client_name}`}
      className={`relative flex h-full min-h-0 flex-col ${drop.dragging ? "outline-2 -outline-offset-4 outline-dashed outline-blue-600" : ""}`}
      {...drop.handlers}
    >
      {drop.dragging && (
        <p className="pointer-events-none absolute inset-x-0 top-1/3 z-10 mx-auto w-fit rounded-lg bg-blue-700 px-4 py-2 font-medium text-white shadow">
          Drop files to attach them
        </p>
      )}
      <ChatHeader
        conversation={current}
        busy={act.isPending}
        onAction={(action) => act.mutate(action)}
        onBack={onBack}
        presence={
          <PresenceDots
            online={presence.online}
            known={presence.known}
            selfId={identity.sub}
            clientName={current.client_name}
            nameOf={staffName}
          />
        }
      />
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
        <p className="m-auto text-slate-600">Loading messages…</p>
      ) : (
        <MessageList
          messages={messages.messages}
          entries={entries}
          nameOf={nameOf}
          selfId={identity.sub}
          myUnread={current.my_unread}
          online={state === "connected"}
          hasOlder={messages.hasNextPage}
          loadingOlder={messages.isFetchingNextPage}
          onLoadOlder={() => void messages.fetchNextPage()}
          notes={notes.notes}
          noteAuthor={(note) => note.author_name ?? staffName(note.author_id)}
        />
      )}
      <p role="status" className="sr-only" data-testid="announcer">
        {announcement}
      </p>
      <TypingIndicator typists={typists} />
      <MessageInput
        draftKey={draftKey(identity.sub, conversationId)}
        disabled={closed}
        disabledReason="This conversation is closed. Reopen it to reply."
        onSend={(content, files = []) => {
          typing?.stop(true); // a sent message ends the indicator by itself
          composer.reply(content, files);
        }}
        onNote={(content, mentions) => notes.add.mutateAsync({ content, mentions })}
        uploads={uploads}
        sources={sources}
        conversationId={conversationId}
        stale={{ refusal: composer.refusal, onSendAnyway: composer.sendAnyway, onReview: composer.review }}
        onCleared={composer.cleared}
        onTyping={() => {
          composer.began();
          typing?.keystroke();
        }}
        onStopTyping={() => typing?.stop()}
      />
    </section>
  );
}
