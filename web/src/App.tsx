/** Sign-in gate, then the inbox beside the open conversation and its panel
 * (on a narrow screen: the inbox, or the open conversation with a way back
 * and its panel in a sheet). The top bar: availability, mentions, search,
 * connection; the keyboard shortcuts (`?` lists them). */
import { QueryClient, QueryClientProvider, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import { AvailabilitySwitch } from "./components/AvailabilitySwitch";
import { ChatWindow } from "./components/ChatWindow";
import { ConnectionStatus, worstState } from "./components/ConnectionStatus";
import { ConversationCreationModal } from "./components/ConversationCreationModal";
import { ConversationPanel, ConversationSheet } from "./components/ConversationPanel";
import { ConversationsPage } from "./components/ConversationsPage";
import { NotificationBell } from "./components/NotificationBell";
import { SearchBox } from "./components/SearchBox";
import { ShortcutHelp } from "./components/ShortcutHelp";
import { SignIn } from "./components/SignIn";
import { SkipLink } from "./components/SkipLink";
import { SessionProvider, useApi, useSession, type Session } from "./hooks/useApi";
import { useConversations, useInboxLive, useRowWriter } from "./hooks/useConversations";
import { useDeskShortcuts } from "./hooks/useDeskShortcuts";
import { useDesktopNotifications } from "./hooks/useDesktopNotifications";
import { useDirectoryLive } from "./hooks/useDirectory";
import { clearDrafts } from "./hooks/useDraft";
import { useInboxCounts } from "./hooks/useInboxCounts";
import { useNotifications } from "./hooks/useNotifications";
import { PanelOpener, useMediaQuery, WIDE } from "./hooks/usePanel";
import { useRoute } from "./hooks/useRoute";
import { useSessionRefresh } from "./hooks/useSessionRefresh";
import { useStaffNames } from "./hooks/useStaffNames";
import { useSoundPreference } from "./hooks/useSoundPreference";
import { useUnreadTitle } from "./hooks/useUnreadTitle";
import { useWebSocket } from "./hooks/useWebSocket";
import { keys } from "./lib/cache";
import { ApiClient } from "./services/api";
import { decodeToken, loadToken, saveToken, TokenHolder } from "./services/session";
import type { ConnectionState } from "./services/socket";
import { socketUrl } from "./services/socket";
import { playChime } from "./services/sound";
import type { Conversation, ConversationFilters, EventFrame, StartConversationInput } from "./types";

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

function Shell({ onSignOut }: { onSignOut: (reason?: string | null) => void }) {
  const api = useApi();
  const { identity } = useSession();
  const queryClient = useQueryClient();
  const writeRow = useRowWriter();
  const { selected, open: select, back } = useRoute();
  const content = useRef<HTMLDivElement>(null);
  const staffName = useStaffNames();
  const [filterInput, setFilterInput] = useState<ConversationFilters>({});
  // Only the typed name waits for a pause: a tab or a select applies at once, so the
  // list never shows the last tab's rows under the new one.
  const q = useDebounced(filterInput.q, 250);
  const filters = useMemo(() => ({ ...filterInput, q }), [filterInput, q]);
  const inbox = useConversations(filters);
  const counts = useInboxCounts(filters);
  const [creating, setCreating] = useState(false);
  const [sound, setSound] = useSoundPreference();
  const [chatState, setChatState] = useState<ConnectionState | null>(null);
  const [reconnects, setReconnects] = useState(0);
  useUnreadTitle();

  // The inbox socket starts after the first page, from the newest position in it.
  const [startAt, setStartAt] = useState<number | null>(null);
  useEffect(() => {
    if (startAt === null && inbox.data) {
      setStartAt(Math.max(0, ...inbox.data.pages.flatMap((p) => p.items.map((c) => c.position))));
    }
  }, [inbox.data, startAt]);
  const live = useWebSocket(startAt === null ? null : { kind: "inbox" }, { after: startAt ?? 0 });
  useDirectoryLive(live.socket);
  const desktop = useDesktopNotifications();
  const { notify } = desktop;
  const notifications = useNotifications(live.socket, (n) => {
    notify(`${n.author_name ?? n.author_id} mentioned you`, n.excerpt, `note-${n.note_id}`, () => select(n.conversation_id));
  });

  const loaded = useRef(inbox.data);
  loaded.current = inbox.data;
  const onEvent = useCallback(
    (frame: EventFrame) => {
      const elsewhere = frame.conversation_id !== selected || document.visibilityState === "hidden";
      if (frame.type !== "MESSAGE_CREATED" || frame.sender !== "client" || live.socket?.state !== "connected") return;
      if (elsewhere && sound) playChime(); // not for replayed history (connected)
      // A client's message in a conversation of mine, while the tab is hidden: on the desktop too.
      const row =
        queryClient.getQueryData<Conversation>(keys.conversation(frame.conversation_id)) ??
        loaded.current?.pages.flatMap((p) => p.items).find((c) => c.conversation_id === frame.conversation_id);
      if (row?.assignee_id === identity.sub) {
        notify(row.client_name, frame.content, `message-${frame.message_id}`, () => select(frame.conversation_id));
      }
    },
    [selected, sound, live.socket, queryClient, identity.sub, notify, select],
  );
  useInboxLive(live.socket, onEvent);

  // The panel: beside the chat when wide, else a sheet the chat header opens.
  const wide = useMediaQuery(WIDE);
  const [sheet, setSheet] = useState(false);
  const openSheet = useCallback(() => setSheet(true), []);
  useEffect(() => setSheet(false), [selected, wide]);
  const [help, setHelp] = useState(false);
  // The inbox's ids only when j or k asks: not on every page of a 10,000-row scroll.
  const ids = useCallback(() => loaded.current?.pages.flatMap((p) => p.items.map((c) => c.conversation_id)) ?? [], []);
  useDeskShortcuts({ ids, selected, open: select, onHelp: () => setHelp(true) });

  // The server refused the token (expired while connected): sign in again.
  useEffect(() => {
    if (live.state === "disconnected" && live.socket?.fatalCode === 4401) {
      onSignOut(EXPIRED);
    }
  }, [live.state, live.socket, onSignOut]);

  const create = async (input: StartConversationInput) => {
    const result = await api.startConversation(input);
    writeRow(await api.getConversation(result.conversation_id, result.position));
    setCreating(false);
    select(result.conversation_id);
  };

  const states = [live.state, ...(selected && chatState ? [chatState] : [])];
  const onChatState = useCallback((state: ConnectionState) => setChatState(state), []);

  return (
    <div className="flex h-dvh flex-col">
      <SkipLink target={content} />
      <header className="flex flex-wrap items-center gap-x-3 gap-y-1 bg-slate-900 px-3 py-2 text-white sm:px-4">
        <h1 className="text-lg font-semibold">Parley</h1>
        <button
          type="button"
          onClick={() => setCreating(true)}
          className="rounded bg-blue-600 px-3 py-1 text-sm font-medium hover:bg-blue-500"
        >
          New conversation
        </button>
        <SearchBox onOpen={select} staffName={staffName} />
        <div className="ml-auto flex min-w-0 flex-wrap items-center justify-end gap-x-4 gap-y-1">
          <AvailabilitySwitch />
          <NotificationBell notifications={notifications} desktop={desktop} onOpen={select} />
          <button
            type="button"
            aria-keyshortcuts="?"
            onClick={() => setHelp(true)}
            className="hidden rounded border border-slate-600 px-2 py-1 text-sm hover:bg-slate-800 sm:block"
          >
            Shortcuts <kbd aria-hidden="true">?</kbd>
          </button>
          <ConnectionStatus
            state={worstState(states)}
            onReconnect={() => {
              live.socket?.reconnect();
              setReconnects((n) => n + 1);
            }}
          />
          <label className="flex items-center gap-1.5 text-sm">
            <input type="checkbox" checked={sound} onChange={(e) => setSound(e.target.checked)} />
            Sound
          </label>
          <span className="hidden max-w-40 truncate text-sm text-slate-300 sm:block">
            {staffName(identity.sub)} ({identity.role})
          </span>
          <button
            type="button"
            onClick={() => {
              queryClient.clear();
              clearDrafts(identity.sub); // signing out on purpose: leave nothing behind
              onSignOut();
            }}
            className="rounded border border-slate-600 px-2 py-1 text-sm hover:bg-slate-800"
          >
            Sign out
          </button>
        </div>
      </header>
      <div ref={content} id="content" tabIndex={-1} className="flex min-h-0 flex-1 focus:outline-none">
        {/* A phone shows the inbox or the open conversation; wider screens both. */}
        <div className={`${selected ? "hidden md:block" : "w-full"} shrink-0 border-slate-200 bg-white md:w-80 md:border-r`}>
          <ConversationsPage
            filters={filterInput}
            onFilters={setFilterInput}
            query={inbox}
            selected={selected}
            onSelect={select}
            counts={counts}
          />
        </div>
        <main className={`${selected ? "flex" : "hidden md:flex"} min-w-0 flex-1 bg-slate-50`}>
          {selected ? (
            <>
              <div className="flex min-h-0 min-w-0 flex-1 flex-col">
                <PanelOpener.Provider value={wide ? null : openSheet}>
                  <ChatWindow
                    key={selected}
                    conversationId={selected}
                    onSocketState={onChatState}
                    reconnectSignal={reconnects}
                    onBack={back}
                  />
                </PanelOpener.Provider>
              </div>
              {wide && <ConversationPanel key={selected} conversationId={selected} onOpen={select} />}
              {sheet && !wide && <ConversationSheet conversationId={selected} onOpen={select} onClose={() => setSheet(false)} />}
            </>
          ) : (
            <p className="m-auto p-4 text-slate-600">Choose a conversation in the inbox, or start a new one.</p>
          )}
        </main>
      </div>
      {creating && <ConversationCreationModal onClose={() => setCreating(false)} onCreate={create} />}
      {help && <ShortcutHelp onClose={() => setHelp(false)} />}
    </div>
  );
}

/** A signed-in session: one token holder (refreshed in place), one API client
 * and one query cache for as long as the sign-in lasts. */
function SignedIn({ holder, onSignOut }: { holder: TokenHolder; onSignOut: (reason?: string | null) => void }) {
  const token = useSyncExternalStore(useCallback((changed: () => void) => holder.subscribe(changed), [holder]), holder.get);
  const expired = useCallback(() => onSignOut(EXPIRED), [onSignOut]);
  const api = useMemo(() => new ApiClient({ getToken: holder.get, onUnauthenticated: expired }), [holder, expired]);
  // A new cache per sign-in: nothing cached leaks from one person to the next.
  const queryClient = useMemo(
    () => new QueryClient({ defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: false } } }),
    [holder],
  );
  useSessionRefresh(holder, api, expired);
  const session = useMemo<Session | null>(() => {
    const identity = decodeToken(token);
    return identity && { token, getToken: holder.get, identity, api, wsUrl };
  }, [token, holder, api]);
  if (!session) return null;
  return (
    <QueryClientProvider client={queryClient}>
      <SessionProvider value={session}>
        <Shell onSignOut={onSignOut} />
      </SessionProvider>
    </QueryClientProvider>
  );
}

const EXPIRED = "Your session has expired: sign in again.";
/** One function for every session: a new one would make the sockets anew. */
const wsUrl = (path: string, query: Record<string, number>) => socketUrl(path, query);

export function App() {
  const [holder, setHolder] = useState<TokenHolder | null>(() => {
    const saved = loadToken();
    const identity = saved ? decodeToken(saved) : null;
    return saved && identity && identity.exp * 1000 > Date.now() ? new TokenHolder(saved) : null;
  });
  const [problem, setProblem] = useState<string | null>(null);

  const signOut = useCallback((reason: string | null = null) => {
    saveToken(null);
    setHolder(null);
    setProblem(reason);
  }, []);

  if (!holder) {
    return (
      <SignIn
        problem={problem}
        onToken={(value) => {
          saveToken(value);
          setHolder(new TokenHolder(value));
        }}
      />
    );
  }
  return <SignedIn holder={holder} onSignOut={signOut} />;
}
