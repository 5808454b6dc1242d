import { act, fireEvent, render, renderHook, screen, waitFor } from "@testing-library/react";
import { useState } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AvailabilitySwitch } from "../src/components/AvailabilitySwitch";
import { InboxFilters, moreSet } from "../src/components/InboxFilters";
import { NotificationBell } from "../src/components/NotificationBell";
import { ShortcutHelp } from "../src/components/ShortcutHelp";
import { neighbour, useDeskShortcuts } from "../src/hooks/useDeskShortcuts";
import { useDesktopNotifications } from "../src/hooks/useDesktopNotifications";
import { AGENTS_KEY, useDirectoryLive } from "../src/hooks/useDirectory";
import { useNotifications, withNotification, withRead } from "../src/hooks/useNotifications";
import { useShortcuts } from "../src/hooks/useShortcuts";
import { useRegisterComposer, type ComposerMode } from "../src/hooks/useComposerHandle";
import { matchesInbox } from "../src/lib/inboxOrder";
import { ParleySocket } from "../src/services/socket";
import type { Agent, ConversationFilters } from "../src/types";
import { deskApi, seriousViolations } from "./desk_harness";
import { conversationRow, FakeServer } from "./fakes";

afterEach(() => vi.unstubAllGlobals());

const press = (key: string, target: Element = document.body) => fireEvent.keyDown(target, { key });

describe("shortcuts", () => {
  it("fire on the page, never while typing, in a dialog or with a modifier", () => {
    const j = vi.fn();
    render(
      <>
        <input aria-label="field" />
      </>,
    );
    renderHook(() => useShortcuts({ j }));
    press("j");
    expect(j).toHaveBeenCalledTimes(1);
    press("j", screen.getByLabelText("field"));
    fireEvent.keyDown(document.body, { key: "j", ctrlKey: true });
    expect(j).toHaveBeenCalledTimes(1);
    const dialog = document.createElement("div");
    dialog.setAttribute("role", "dialog");
    document.body.append(dialog);
    press("j");
    dialog.remove();
    expect(j).toHaveBeenCalledTimes(1);
    press("x"); // unbound: nothing
    expect(j).toHaveBeenCalledTimes(1);
  });

  it("j and k walk the inbox's list; with none open, the first", () => {
    expect(neighbour(["a", "b", "c"], null, 1)).toBe("a");
    expect(neighbour(["a", "b", "c"], "a", 1)).toBe("b");
    expect(neighbour(["a", "b", "c"], "b", -1)).toBe("a");
    expect(neighbour(["a", "b", "c"], "c", 1)).toBeNull();
    expect(neighbour(["a", "b", "c"], "zz", -1)).toBe("a");
    expect(neighbour([], null, 1)).toBeNull();
  });

  it("r and n focus the composer (n in note mode), e presses Close, ? opens the help", () => {
    const open = vi.fn();
    const onHelp = vi.fn();
    const closed = vi.fn();
    const modes: (ComposerMode | undefined)[] = [];
    function Composer() {
      useRegisterComposer({
        focus: (mode) => {
          modes.push(mode);
          document.querySelector("textarea")?.focus();
        },
      });
      return <textarea aria-label="Message" />;
    }
    render(
      <>
        <div data-status-actions>
          <button type="button" aria-haspopup="dialog" onClick={closed}>
            Close
          </button>
        </div>
        <Composer />
      </>,
    );
    renderHook(() => useDeskShortcuts({ ids: () => ["a", "b"], selected: "a", open, onHelp }));
    press("j");
    expect(open).toHaveBeenCalledWith("b");
    press("k"); // "a" is open: nothing before it
    expect(open).toHaveBeenCalledTimes(1);
    press("r");
    expect(document.activeElement).toBe(screen.getByLabelText("Message"));
    press("n", screen.getByLabelText("Message")); // typing: not a shortcut
    (document.activeElement as HTMLElement).blur();
    press("n");
    expect(modes).toEqual(["reply", "note"]);
    (document.activeElement as HTMLElement).blur();
    press("e");
    expect(closed).toHaveBeenCalled();
    press("?");
    expect(onHelp).toHaveBeenCalled();
  });

  it("are listed in an accessible help dialog", async () => {
    const onClose = vi.fn();
    render(<ShortcutHelp onClose={onClose} />);
    const dialog = screen.getByRole("dialog", { name: "Keyboard shortcuts" });
    expect(screen.getByTestId("shortcut-list").textContent).toContain("jNext conversation in the inbox");
    expect(dialog.querySelectorAll("kbd")).toHaveLength(7);
    expect(await seriousViolations(document.body)).toEqual([]);
    fireEvent.keyDown(dialog, { key: "Escape" });
    expect(onClose).toHaveBeenCalled();
  });
});

function inboxSocket() {
  const server = new FakeServer();
  const socket = new ParleySocket({ kind: "inbox", url: () => "ws://test", token: () => "tok", createSocket: server.factory });
  socket.connect();
  server.last.open();
  server.last.receive({ type: "READY", conversation_id: null, stream_position: null, position: 100 });
  return { socket, server };
}

const mention = (note: string, position: number, read = false) => ({
  note_id: note, conversation_id: "c1", author_id: "bob", author_name: "Bob Stone", excerpt: `@alice look ${note}`,
  created_at: "2026-11-24T10:00:00Z", position, read,
});

describe("mention notifications", () => {
  it("count the unread, come live once, open their conversation, and are marked read", async () => {
    const desk = deskApi({
      "GET /api/notifications": (call: { query: URLSearchParams }) =>
        call.query.get("min_position")
          ? { items: [mention("n2", 120, true), mention("n1", 90, true)], next_before: null, unread_count: 0 }
          : { items: [mention("n1", 90)], next_before: null, unread_count: 1 },
      "POST /api/notifications/read": { stream_id: "agent-alice", position: 130, version: 2, events: ["NotificationsRead"] },
    });
    const { socket, server } = inboxSocket();
    const onNew = vi.fn();
    const onOpen = vi.fn();
    const desktop = { permission: "default" as const, enable: vi.fn(async () => undefined), notify: vi.fn(() => false) };
    function Bell() {
      const notifications = useNotifications(socket, onNew);
      return <NotificationBell notifications={notifications} desktop={desktop} onOpen={onOpen} />;
    }
    render(<Bell />, { wrapper: desk.wrapper });
    const bell = await screen.findByRole("button", { name: "Notifications, 1 unread" });

    const frame = { type: "NOTIFICATION", ...mention("n2", 120), at: "2026-11-24T10:05:00Z" };
    act(() => server.last.receive(frame));
    act(() => server.last.receive(frame)); // a resumed socket replays it: once
    await waitFor(() => expect(bell.getAttribute("aria-label")).toBe("Notifications, 2 unread"));
    expect(onNew).toHaveBeenCalledTimes(1);

    fireEvent.click(bell);
    expect(screen.getAllByTestId("notification").map((n) => n.textContent)).toEqual([
      expect.stringContaining("Bob Stone mentioned you"),
      expect.stringContaining("@alice look n1"),
    ]);
    expect(await seriousViolations(document.body)).toEqual([]);
    fireEvent.click(screen.getByRole("button", { name: "Enable desktop notifications" }));
    expect(desktop.enable).toHaveBeenCalled();

    fireEvent.click(screen.getAllByTestId("notification")[0] as HTMLElement);
    expect(onOpen).toHaveBeenCalledWith("c1");
    await waitFor(() => expect(desk.of("POST", "/api/notifications/read")[0]?.body).toEqual({ note_ids: ["n2"] }));
    await waitFor(() => expect(bell.getAttribute("aria-label")).toBe("Notifications"));

  });

  it("read on another screen of mine: up to a position, or by id", () => {
    const page = { items: [mention("n3", 300), mention("n2", 200), mention("n1", 90, true)], next_before: null, unread_count: 5 };
    expect(withRead(page, 200, [])?.unread_count).toBe(4);
    expect(withRead(page, null, ["n3"])?.items.map((n) => n.read)).toEqual([true, false, true]);
    expect(withRead(page, 50, [])).toEqual(page);
    const frame = { type: "NOTIFICATION" as const, ...mention("n4", 400), at: "2026-11-24T11:00:00Z" };
    const added = withNotification(page, frame);
    expect([added?.items[0]?.note_id, added?.unread_count]).toEqual(["n4", 6]);
    expect(withNotification(added, frame)).toBe(added);
  });

  it("Mark all read marks up to the newest", async () => {
    const desk = deskApi({
      "GET /api/notifications": { items: [mention("n3", 300), mention("n1", 90)], next_before: null, unread_count: 2 },
      "POST /api/notifications/read": { stream_id: "agent-alice", position: 310, version: 2, events: ["NotificationsRead"] },
    });
    const desktop = { permission: "granted" as const, enable: vi.fn(async () => undefined), notify: vi.fn(() => true) };
    function Bell() {
      return <NotificationBell notifications={useNotifications(null)} desktop={desktop} onOpen={vi.fn()} />;
    }
    render(<Bell />, { wrapper: desk.wrapper });
    fireEvent.click(await screen.findByRole("button", { name: "Notifications, 2 unread" }));
    expect(screen.getByText(/Desktop notifications are on/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Mark all read" }));
    await waitFor(() => expect(desk.of("POST", "/api/notifications/read")[0]?.body).toEqual({ up_to_position: 300 }));
  });
});

describe("desktop notifications", () => {
  it("ask for permission only when told to, and show only while the tab is hidden", async () => {
    const shown: { title: string; options: NotificationOptions; onclick: (() => void) | null; close: () => void }[] = [];
    const requestPermission = vi.fn(async () => "granted");
    class FakeNotification {
      static permission = "default";
      static requestPermission = requestPermission;
      onclick: (() => void) | null = null;
      close = vi.fn();
      constructor(
        readonly title: string,
        readonly options: NotificationOptions,
      ) {
        shown.push(this);
      }
    }
    vi.stubGlobal("Notification", FakeNotification);
    const { result } = renderHook(() => useDesktopNotifications());
    expect(result.current.permission).toBe("default");
    expect(requestPermission).not.toHaveBeenCalled();
    FakeNotification.permission = "granted";
    await act(() => result.current.enable());
    expect(result.current.permission).toBe("granted");

    const onClick = vi.fn();
    expect(result.current.notify("Bob mentioned you", "@alice", "n1", onClick)).toBe(false); // visible tab
    const visibility = vi.spyOn(document, "visibilityState", "get").mockReturnValue("hidden");
    expect(result.current.notify("Bob mentioned you", "@alice", "n1", onClick)).toBe(true);
    expect(shown[0]?.title).toBe("Bob mentioned you");
    expect(shown[0]?.options).toEqual({ body: "@alice", tag: "n1" });
    shown[0]?.onclick?.();
    expect(onClick).toHaveBeenCalled();
    visibility.mockRestore();
  });

  it("say unsupported without the API", () => {
    vi.stubGlobal("Notification", undefined);
    const { result } = renderHook(() => useDesktopNotifications());
    expect(result.current.permission).toBe("unsupported");
  });
});

describe("availability", () => {
  const directory = (availability: string): { items: Agent[] } => ({
    items: [
      { agent_id: "alice", display_name: "Alice Martin", availability, online: availability === "online" },
      { agent_id: "bob", display_name: "Bob Stone", availability: "online", online: true },
    ],
  });

  it("the switch sets mine; colleagues' changes come live", async () => {
    const desk = deskApi({
      "GET /api/agents": directory("online"),
      "PUT /api/agents/me/availability": { stream_id: "agent-alice", position: 50, version: 3, events: ["AgentAvailabilityChanged"] },
    });
    const { socket, server } = inboxSocket();
    function Top() {
      useDirectoryLive(socket);
      return <AvailabilitySwitch />;
    }
    render(<Top />, { wrapper: desk.wrapper });
    const toggle = await screen.findByRole("switch", { name: "Available" });
    await waitFor(() => expect(toggle.getAttribute("aria-checked")).toBe("true"));
    fireEvent.click(toggle);
    await waitFor(() => expect(toggle.getAttribute("aria-checked")).toBe("false"));
    expect(desk.of("PUT", "/api/agents/me/availability")[0]?.body).toEqual({ availability: "away" });
    expect(toggle.getAttribute("data-availability")).toBe("away");

    act(() =>
      server.last.receive({ type: "STAFF_CHANGED", position: 60, at: "…", change: "AgentAvailabilityChanged", agent_id: "bob", team_id: null, display_name: "Bob Stone", capacity: null, availability: "away", name: null }),
    );
    const bob = desk.client.getQueryData<{ items: Agent[] }>(AGENTS_KEY)?.items.find((a) => a.agent_id === "bob");
    expect(bob?.availability).toBe("away");
    expect(await seriousViolations(document.body)).toEqual([]);
  });
});

describe("the channel filter", () => {
  it("is behind More filters, counted there, and asked of the API", async () => {
    const desk = deskApi({ "GET /api/agents": { items: [] }, "GET /api/teams": { items: [] }, "GET /api/labels": { items: [] } });
    function Filters() {
      const [filters, setFilters] = useState<ConversationFilters>({});
      return <InboxFilters filters={filters} onFilters={setFilters} tab="all" />;
    }
    render(<Filters />, { wrapper: desk.wrapper });
    fireEvent.click(screen.getByRole("button", { name: "More filters" }));
    fireEvent.change(screen.getByRole("combobox", { name: "Channel filter" }), { target: { value: "email" } });
    expect(screen.getByRole("button", { name: "More filters (1 set)" })).toBeTruthy();
    expect(moreSet({ channel: "web" }, "mine")).toBe(1);

    await desk.api.listConversations({ channel: "whatsapp" }).catch(() => undefined); // (no such route: asked all the same)
    expect(desk.of("GET", "/api/conversations")[0]?.query.get("channel")).toBe("whatsapp");
    // A live row of another channel does not join a filtered list.
    expect(matchesInbox(conversationRow("a", { channel: "email" }), { channel: "web" })).toBe(false);
    expect(matchesInbox(conversationRow("a", { channel: "web" }), { channel: "web" })).toBe(true);
  });
});
